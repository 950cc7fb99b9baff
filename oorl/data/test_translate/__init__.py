"""Test translation: HumanEval-style Python problems -> unit tests in other languages, in MultiPL-E's
layout (``name``, ``language``, ``prompt``, ``tests``, ``stop_tokens``), from the Python AST of the
``check`` function and the types of the function's signature (MultiPL-E's approach).

``translate_problem(problem, language)`` gives one row or raises ``Untranslatable(reason)``;
``translate_file(path, language)`` gives the rows of every problem that translates and a Counter of
the skipped ones by reason. ``pyside`` reads the Python problem into an IR; one emitter per target
language writes it (``EMITTERS``: MultiPL-E language code -> emitter).
"""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path
from typing import Any

from oorl.data.test_translate.errors import Untranslatable
from oorl.data.test_translate.pyside import Problem, parse_problem
from oorl.errors import UserError

LANGUAGE_CODES = ("py", "cpp", "cs", "java", "js", "php", "sh", "ts", "go", "rs", "prolog")
REQUIRED = ("task_id", "prompt", "test")
_ALIASES = {"python": "py", "python3": "py", "c++": "cpp", "csharp": "cs", "c#": "cs", "javascript": "js",
            "node": "js", "bash": "sh", "shell": "sh", "typescript": "ts", "golang": "go", "rust": "rs",
            "swipl": "prolog"}

__all__ = ["LANGUAGE_CODES", "Problem", "Untranslatable", "emitters", "language_code", "parse_problem",
           "read_problems", "translate_file", "translate_problem"]


def emitters() -> dict[str, Any]:
    """MultiPL-E language code -> emitter instance."""
    from oorl.data.test_translate.dynamic import Bash, JavaScript, Php, Python

    found = {e.code: e for e in (Python(), JavaScript(), Php(), Bash())}
    from oorl.data.test_translate.others import OTHER_EMITTERS
    from oorl.data.test_translate.typed import TYPED_EMITTERS

    for e in (*TYPED_EMITTERS, *OTHER_EMITTERS):
        found[e.code] = e
    return found


def language_code(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in LANGUAGE_CODES:
        raise UserError(f"--language {name!r}: unknown language (codes: {', '.join(LANGUAGE_CODES)})")
    return key


def _python_row(problem: dict) -> dict[str, Any]:
    from oorl.data.test_translate.pyside import _entry_point

    entry = _entry_point(problem)
    number = str(problem["task_id"]).rpartition("/")[2].strip()
    tests = f"{problem['test']}\n\ndef test_check():\n    check({entry})\n\ntest_check()\n"
    return {"name": f"HumanEval_{number}_{entry}", "language": "py", "prompt": problem["prompt"], "tests": tests,
            "stop_tokens": ["\ndef", "\n#", "\nif", "\nclass"]}


def translate_problem(problem: dict, language: str) -> dict[str, Any]:
    """The MultiPL-E-layout row of ``problem`` (a HumanEval row: task_id, prompt, canonical_solution,
    test, entry_point) in ``language`` (a code of LANGUAGE_CODES or a language name)."""
    code = language_code(language)
    if code == "py":  # the original tests, run as MultiPL-E runs Python
        return _python_row(problem)
    table = emitters()
    if code not in table:
        raise Untranslatable(f"{code}: no emitter yet")
    return table[code].row(parse_problem(problem))


def read_problems(path: str | Path) -> list[dict[str, Any]]:
    """The problems of a JSONL or .jsonl.gz file; UserError naming the file, row and field when a
    line is not a JSON object or lacks a field."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    rows = []
    try:
        with opener(p, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise UserError(f"{p}:{i}: not valid JSON ({e}); --problems must be JSONL, one problem a line") from None
                if not isinstance(row, dict):
                    raise UserError(f"{p}:{i}: expected a JSON object, got {type(row).__name__}")
                for key in REQUIRED:
                    if not isinstance(row.get(key), str):
                        raise UserError(f"{p}:{i}: field {key!r} is missing or not a string "
                                        f"(a HumanEval problem has task_id, prompt, canonical_solution, test, entry_point)")
                rows.append(row)
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: cannot read it ({e})") from None
    if not rows:
        raise UserError(f"{p}: no problems in it")
    return rows


def translate_file(path: str | Path, language: str, limit: int | None = None
                   ) -> tuple[list[dict[str, Any]], collections.Counter]:
    """(rows, skipped reasons) for every problem of the file (the first ``limit`` when given)."""
    code = language_code(language)
    rows, skipped = [], collections.Counter()
    for problem in read_problems(path)[:limit]:
        try:
            rows.append(translate_problem(problem, code))
        except Untranslatable as e:
            skipped[e.reason] += 1
    return rows, skipped
