"""The built-in, seeded generator of maths and logic word problems (dataset ``prolog_math``).

Problems come from the templates of :mod:`oorl.data.prolog_math_templates` (arithmetic chains of
1-4 operations, ages, shopping, percentages, rates, orderings, fractions, remainders, sets) at
difficulty levels 0-3, each with an exact answer and a reference Prolog program.

Splits: a problem belongs to ``heldout`` when the SHA-256 of its canonical text (lower case, white
space collapsed) falls in the first 20% of the hash range, else to ``train``. The split is a
property of the text, not of the seed or of the generation order, so the two splits never share
a problem, whatever seeds or difficulties were used to make them. ``test``, ``eval`` and
``validation`` are accepted as names for ``heldout``.

Dataset kwargs (``data.kwargs`` in the config), all optional:

* ``n``: number of problems (default 5000 for ``train``, 500 for ``heldout``);
* ``seed``: generator seed (default 0); the same kwargs always give the same tasks;
* ``difficulty``: an int, a list of ints, a range string ``"0-2"``, or ``"all"`` (default);
  levels are drawn uniformly, then a template among those offering the level;
* ``templates``: list of template names to use (default: all);
* ``prompt_style`` / ``shots_as`` / ``system``: passed to :func:`oorl.data.prompts.build_messages`.

Each task: ``id``, ``prompt``, ``question``, ``answer`` (int, or a string such as ``"2.5"`` or
``"3/8"``), ``difficulty``, ``template``, ``reference_code`` and ``reference_query`` (``solve(X)``).
"""

from __future__ import annotations

import hashlib
import random
import re

from oorl.answers.numbers import answer_to_column
from oorl.data.prolog_math_templates import TEMPLATES, Problem
from oorl.data.prompts import build_messages
from oorl.data.registry import Task, register_dataset
from oorl.errors import UserError

HELDOUT_PERCENT = 20  # fixed on purpose: changing it would move problems between splits
_SPLIT_ALIASES = {"train": "train", "heldout": "heldout", "test": "heldout", "eval": "heldout",
                  "validation": "heldout"}
_DEFAULT_N = {"train": 5000, "heldout": 500}
LEVELS = (0, 1, 2, 3)
MAX_MISSES = 20000


def canonical_text(question: str) -> str:
    """The text the split and the duplicate check are computed on."""
    return re.sub(r"\s+", " ", question.strip().lower())


def problem_digest(question: str) -> str:
    return hashlib.sha256(canonical_text(question).encode()).hexdigest()


def split_of(question: str) -> str:
    """``"heldout"`` or ``"train"``, from the hash of the canonical problem text."""
    return "heldout" if int(problem_digest(question)[:8], 16) % 100 < HELDOUT_PERCENT else "train"


def normalize_split(split: str) -> str:
    if split not in _SPLIT_ALIASES:
        raise UserError(f"prolog_math has no split {split!r} (use train or heldout)")
    return _SPLIT_ALIASES[split]


def parse_difficulty(value) -> tuple[int, ...]:
    """``"all"``/``None``, an int, a list of ints or a range ``"a-b"`` -> sorted levels."""
    if value is None or value == "all":
        return LEVELS
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", value)
        if not m:
            raise UserError(f"prolog_math difficulty {value!r}: use an int, a list, 'a-b' or 'all'")
        lo = int(m.group(1))
        levels = tuple(range(lo, int(m.group(2) or lo) + 1))
    elif isinstance(value, int) and not isinstance(value, bool):
        levels = (value,)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        levels = tuple(sorted(set(value)))
    else:
        raise UserError(f"prolog_math difficulty {value!r}: use an int, a list, 'a-b' or 'all'")
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        raise UserError(f"prolog_math difficulty {value!r}: levels are {LEVELS[0]}-{LEVELS[-1]}")
    return levels


def _combos(levels: tuple[int, ...], templates) -> dict[int, list[str]]:
    names = list(TEMPLATES) if templates is None else list(templates)
    unknown = [t for t in names if t not in TEMPLATES]
    if unknown:
        raise UserError(f"prolog_math templates {unknown}: unknown (known: {', '.join(TEMPLATES)})")
    combos = {lv: [t for t in names if lv in TEMPLATES[t][1]] for lv in levels}
    combos = {lv: ts for lv, ts in combos.items() if ts}
    if not combos:
        raise UserError(f"prolog_math: no template among {names} offers difficulty {list(levels)}")
    return combos


def generate_problems(n: int, *, split: str = "train", seed: int = 0, difficulty="all",
                      templates=None) -> list[Problem]:
    """``n`` distinct problems of ``split``, deterministic in all arguments."""
    split = normalize_split(split)
    combos = _combos(parse_difficulty(difficulty), templates)
    levels = sorted(combos)
    rng = random.Random(f"prolog_math/{seed}/{split}")
    seen: set[str] = set()
    out: list[Problem] = []
    misses = 0  # consecutive draws that gave nothing new: the space is exhausted when they pile up
    while len(out) < n:
        if misses > MAX_MISSES:
            raise UserError(f"prolog_math: only {len(out)} distinct {split} problems found for "
                            f"difficulty {levels} and templates {templates or 'all'}; ask for fewer (n)")
        level = rng.choice(levels)
        name = rng.choice(combos[level])
        problem = TEMPLATES[name][0](rng, level)
        key = canonical_text(problem.question)
        if key in seen or split_of(problem.question) != split:
            misses += 1
            continue
        misses = 0
        seen.add(key)
        out.append(problem)
    return out


def problem_to_task(problem: Problem, split: str, *, prompt_style: str = "one_shot",
                    shots_as: str = "turns", system: str | None = None) -> Task:
    answer = answer_to_column(problem.answer)
    if problem.template == "fractions" and problem.answer.denominator != 1:
        answer = f"{problem.answer.numerator}/{problem.answer.denominator}"
    return {
        "id": f"prolog_math-{split}-{problem_digest(problem.question)[:12]}",
        "prompt": build_messages(problem.question, prompt_style=prompt_style, shots_as=shots_as,
                                 system=system),
        "question": problem.question,
        "answer": answer,
        "difficulty": problem.difficulty,
        "template": problem.template,
        "reference_code": problem.code,
        "reference_query": "solve(X)",
    }


@register_dataset("prolog_math")
def load_prolog_math(split: str = "train", *, n: int | None = None, seed: int = 0, difficulty="all",
                     templates=None, prompt_style: str = "one_shot", shots_as: str = "turns",
                     system: str | None = None) -> list[Task]:
    """Registered loader of the generated problems (kwargs in the module docstring)."""
    split = normalize_split(split)
    n = _DEFAULT_N[split] if n is None else int(n)
    if n < 1:
        raise UserError(f"prolog_math: n must be at least 1 (got {n})")
    problems = generate_problems(n, split=split, seed=seed, difficulty=difficulty, templates=templates)
    return [problem_to_task(p, split, prompt_style=prompt_style, shots_as=shots_as, system=system)
            for p in problems]
