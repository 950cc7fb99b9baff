"""Small Python functions with tests, generated from templates: the built-in source programs of the
translation recipe that a 135M model can learn on 2 cores.

Each problem is in the HumanEval layout (``task_id``, ``prompt`` = signature + docstring,
``canonical_solution``, ``test`` = ``def check(candidate): assert candidate(...) == ...``,
``entry_point``), with type annotations, so the test translator turns its tests into every target
language. Problems vary by template and constants (``add_7``, ``count_above_3``...); the split is by
*family* (the template): held-out problems come from templates never trained on, so a gain on them
is not memorised answers. Seeded and deterministic.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable

# (name, signature, docstring, body, test-input generator) ; {k} is the problem's constant
@dataclass(frozen=True)
class Template:
    family: str
    name: str          # may hold {k}
    args: str          # the parameter list with annotations
    ret: str           # the return annotation
    doc: str
    body: str          # indented body, may hold {k}
    inputs: Callable[[random.Random, int], list[tuple]]


def _ints(rng, n=1, lo=-20, hi=20):
    return tuple(rng.randint(lo, hi) for _ in range(n))


def _list(rng, lo=-9, hi=9, max_len=6):
    return [rng.randint(lo, hi) for _ in range(rng.randint(0, max_len))]


def _word(rng):
    return "".join(rng.choice("abcdefghij") for _ in range(rng.randint(0, 7)))


T = Template
TEMPLATES: tuple[Template, ...] = (
    T("add", "add_{k}", "x: int", "int", "Return x plus {k}.", "    return x + {k}\n",
      lambda r, k: [_ints(r) for _ in range(4)]),
    T("times", "times_{k}", "x: int", "int", "Return x multiplied by {k}.", "    return x * {k}\n",
      lambda r, k: [_ints(r) for _ in range(4)]),
    T("affine", "affine_{k}", "x: int", "int", "Return {k} times x, plus 1.", "    return {k} * x + 1\n",
      lambda r, k: [_ints(r) for _ in range(4)]),
    T("max2", "larger_{k}", "a: int, b: int", "int", "Return the larger of a and b, plus {k}.",
      "    if a > b:\n        return a + {k}\n    return b + {k}\n", lambda r, k: [_ints(r, 2) for _ in range(4)]),
    T("min2", "smaller_{k}", "a: int, b: int", "int", "Return the smaller of a and b, minus {k}.",
      "    if a < b:\n        return a - {k}\n    return b - {k}\n", lambda r, k: [_ints(r, 2) for _ in range(4)]),
    T("absdiff", "distance_{k}", "a: int, b: int", "int", "Return the absolute difference of a and b, times {k}.",
      "    return abs(a - b) * {k}\n", lambda r, k: [_ints(r, 2) for _ in range(4)]),
    T("multiple", "is_multiple_of_{k}", "n: int", "bool", "Return True when n is a multiple of {k}.",
      "    return n % {k} == 0\n", lambda r, k: [(k * r.randint(-5, 5),), _ints(r), _ints(r), (k + 1,)]),
    T("sum", "sum_plus_{k}", "xs: List[int]", "int", "Return the sum of the numbers in xs, plus {k}.",
      "    total = {k}\n    for x in xs:\n        total += x\n    return total\n",
      lambda r, k: [(_list(r),) for _ in range(4)]),
    T("count", "count_above_{k}", "xs: List[int]", "int", "Return how many numbers in xs are greater than {k}.",
      "    count = 0\n    for x in xs:\n        if x > {k}:\n            count += 1\n    return count\n",
      lambda r, k: [(_list(r),) for _ in range(4)]),
    T("scale", "scale_by_{k}", "xs: List[int]", "List[int]", "Return a list of each number in xs times {k}.",
      "    return [x * {k} for x in xs]\n", lambda r, k: [(_list(r),) for _ in range(4)]),
    T("filter", "keep_above_{k}", "xs: List[int]", "List[int]", "Return the numbers of xs that are greater than {k}, in order.",
      "    return [x for x in xs if x > {k}]\n", lambda r, k: [(_list(r),) for _ in range(4)]),
    T("repeat", "repeat_{k}", "s: str", "str", "Return the string s repeated {k} times.", "    return s * {k}\n",
      lambda r, k: [(_word(r),) for _ in range(4)]),
    T("suffix", "add_suffix_{k}", "s: str", "str", "Return s followed by the digit {k}.", "    return s + \"{k}\"\n",
      lambda r, k: [(_word(r),) for _ in range(4)]),
    T("length", "length_plus_{k}", "s: str", "int", "Return the length of s plus {k}.", "    return len(s) + {k}\n",
      lambda r, k: [(_word(r),) for _ in range(4)]),
    T("clamp", "clamp_{k}", "x: int", "int", "Return x limited to the range -{k} to {k}.",
      "    if x < -{k}:\n        return -{k}\n    if x > {k}:\n        return {k}\n    return x\n",
      lambda r, k: [_ints(r) for _ in range(4)]),
    T("power", "power_sum_{k}", "n: int", "int", "Return the sum of the squares of 1 to n, plus {k}.",
      "    total = {k}\n    for i in range(1, n + 1):\n        total += i * i\n    return total\n",
      lambda r, k: [(r.randint(0, 10),) for _ in range(4)]),
)
FAMILIES = tuple(t.family for t in TEMPLATES)


def _family_split(family: str, seed: int, heldout_fraction: float) -> str:
    h = int(hashlib.sha256(f"{seed}:{family}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "heldout" if h < heldout_fraction else "train"


def _problem(t: Template, k: int, rng: random.Random, number: int) -> dict:
    name = t.name.format(k=k)
    doc = t.doc.format(k=k)
    prompt = (("from typing import List\n\n\n" if "List" in t.args + t.ret else "")
              + f"def {name}({t.args}) -> {t.ret}:\n    \"\"\" {doc}\n    \"\"\"\n")
    body = t.body.format(k=k)
    scope: dict = {}
    exec("from typing import List\n" + prompt + body, scope)  # our own template: computes the expected values
    fn = scope[name]
    seen, lines = set(), []
    for args in t.inputs(rng, k):
        key = repr(args)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"    assert candidate({', '.join(repr(a) for a in args)}) == {fn(*args)!r}")
    test = "\n\ndef check(candidate):\n" + "\n".join(lines) + "\n"
    return {"task_id": f"Mini/{number}", "prompt": prompt, "canonical_solution": body, "test": test,
            "entry_point": name, "family": t.family}


def generate_problems(split: str = "train", *, seed: int = 0, per_family: int = 12,
                      heldout_fraction: float = 0.25, families: list[str] | None = None) -> list[dict]:
    """``per_family`` problems of each family in ``split`` (``train``, ``heldout`` or ``all``);
    families are assigned to splits by a seeded hash (at least one family on each side)."""
    chosen = [t for t in TEMPLATES if families is None or t.family in families]
    sides = {t.family: _family_split(t.family, seed, heldout_fraction) for t in chosen}
    if len(chosen) > 1 and len(set(sides.values())) == 1:  # keep both sides non-empty
        first = min(sides, key=lambda f: hashlib.sha256(f"{seed}:{f}".encode()).hexdigest())
        sides[first] = "heldout" if sides[first] == "train" else "train"
    out = []
    for ti, t in enumerate(chosen):
        if split != "all" and sides[t.family] != split:
            continue
        rng = random.Random(f"{seed}-{t.family}")
        ks = rng.sample(range(2, 2 + 3 * per_family), per_family)
        for j, k in enumerate(sorted(ks)):
            out.append(_problem(t, k, rng, ti * 1000 + j))
    return out


def load_mini_translation(split: str = "train", *, targets=("javascript",), seed: int = 0, per_family: int = 12,
                          heldout_fraction: float = 0.25, families: list[str] | None = None,
                          prompt_style: str = "zero_shot", system: str | None = None) -> list:
    """Translation tasks: each generated Python function into each target, judged by its tests
    translated into the target (:mod:`oorl.data.test_translate`, MultiPL-E's layout). Split by family
    (see the module docstring); ``split`` is ``train``, ``heldout`` or ``all``."""
    import re

    from oorl.data import test_translate as tt
    from oorl.data.translation import canonical_language, multipl_e_task, normalize_split, strip_docstring

    split = normalize_split(split, "mini_translation")
    names = [targets] if isinstance(targets, str) else list(targets)
    tasks = []
    for p in generate_problems(split, seed=seed, per_family=per_family, heldout_fraction=heldout_fraction,
                               families=families):
        number = p["task_id"].rpartition("/")[2]
        source = re.sub(r"\n{3,}", "\n\n", strip_docstring(p["prompt"] + p["canonical_solution"], p["entry_point"]))
        for name in names:
            tgt = canonical_language(name, "mini_translation")
            row = tt.translate_problem(p, tt.language_code(tgt))
            task = multipl_e_task(f"Mini/{number}", number, source.strip("\n"), tgt, row, prompt_style, system)
            task["id"] = f"mini/{number}/python-{tgt}"
            task["family"] = p["family"]
            tasks.append(task)
    return tasks


def _register() -> None:
    from oorl.data.registry import register_dataset

    register_dataset("mini_translation")(load_mini_translation)


_register()
