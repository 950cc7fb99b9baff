"""The built-in translation sources: deterministic, split by family, tests that accept the solution."""

from oorl.data.mini_programs import FAMILIES, generate_problems
from oorl.data.registry import load_tasks


def test_split_by_family_and_deterministic():
    train, held = generate_problems("train"), generate_problems("heldout")
    assert train == generate_problems("train") and len(train) + len(held) == 12 * len(FAMILIES)
    assert {p["family"] for p in train}.isdisjoint({p["family"] for p in held}) and held
    assert len({p["entry_point"] for p in train + held}) == len(train) + len(held)
    assert generate_problems("heldout", seed=1) != held


def test_tests_accept_the_solution_and_reject_a_wrong_one():
    for p in generate_problems("all", per_family=3):
        scope: dict = {}
        exec(p["prompt"] + p["canonical_solution"] + p["test"], scope)  # our own templates, not model code
        scope["check"](scope[p["entry_point"]])
        try:
            scope["check"](lambda *a: "wrong")
        except AssertionError:
            continue
        raise AssertionError(f"{p['entry_point']}: the tests accept a constant answer")


def test_mini_translation_tasks_carry_what_the_judge_needs():
    tasks = load_tasks("mini_translation", split="heldout", targets=["javascript", "php"])
    assert len(tasks) == 2 * len(generate_problems("heldout"))
    t = tasks[0]
    assert t["language"] == "javascript" and t["layout"] == "multipl-e" and t["tests"] and t["problem_prompt"]
    text = t["prompt"][-1]["content"]
    assert "Python" in text and "JavaScript" in text and "```python" in text and t["entry_point"] in text


def test_mini_translation_is_judged_in_the_jail():
    import re

    from oorl.reward.unit_test_rewards import unit_tests

    tasks = [t for t in load_tasks("mini_translation", split="all", per_family=1, targets=["javascript"])
             if t["family"] in ("add", "times")]
    answers = []
    for t in tasks:
        k = re.search(r"_(\d+)$", t["entry_point"]).group(1)
        op = "+" if t["family"] == "add" else "*"
        answers.append(f"```javascript\nfunction {t['entry_point']}(x) {{\n  return x {op} {k};\n}}\n```")
    wrong = [a.replace("return x", "return 1 + x") for a in answers]
    cols = {c: [t.get(c) for t in tasks] * 2 for c in ("language", "tests", "layout", "problem_prompt", "stop_tokens",
                                                        "entry_point")}
    assert unit_tests([""] * 4, answers + wrong, **cols) == [1.0, 1.0, 0.0, 0.0]
