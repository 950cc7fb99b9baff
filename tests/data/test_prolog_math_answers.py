"""Every template's reference program, run in the sandbox, gives the generated answer; and the
correctness reward accepts it."""

from oorl.data.prolog_math import load_prolog_math
from oorl.data.prolog_math_templates import TEMPLATES
from oorl.data.prompts import format_answer
from oorl.reward.prolog_check import check_completions


def test_reference_programs_give_the_answers():
    tasks = []
    for name, (_, levels) in TEMPLATES.items():
        for lv in levels:
            tasks += load_prolog_math("heldout", n=4, seed=11, difficulty=lv, templates=[name])
    completions = [format_answer("r", t["reference_code"], t["reference_query"] + ".") for t in tasks]
    checks = check_completions(completions, [t["answer"] for t in tasks])
    bad = [(t["template"], t["difficulty"], t["answer"], c) for t, c in zip(tasks, checks) if not c.correct]
    assert not bad
    assert len(tasks) == 4 * sum(len(levels) for _, levels in TEMPLATES.values())
