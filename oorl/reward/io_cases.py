"""Standard input / standard output cases (APPS, CodeContests style): a complete program runs once per
case with the case's input on stdin and passes a case when its stdout equals the expected output, up to
trailing white space (spaces and tabs at the ends of lines, blank lines at the end). An answer passes
when it passes every case; the same cases judge every target language.

Pure functions: ``case_requests`` makes one judge request per case, ``combine`` folds the judged runs
and the expected outputs into one verdict (the first case that failed, named in ``detail``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Sequence

from oorl.errors import UserError
from oorl.reward.harness import JudgeRequest
from oorl.reward.sandbox import RunResult, Verdict

_TRAILING = re.compile(r"[ \t\r]+$", re.MULTILINE)


def normalize_output(text: str) -> str:
    """``text`` without spaces/tabs/carriage returns at line ends and without trailing newlines."""
    return _TRAILING.sub("", str(text)).rstrip("\n")


def check_cases(inputs: Any, outputs: Any, where: str = "reward unit_tests") -> tuple[list[str], list[str]]:
    """(inputs, outputs) as lists of strings of the same, nonzero length, else a one-line UserError."""
    for name, value in (("inputs", inputs), ("outputs", outputs)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise UserError(f"{where}: {name!r} must be a list of strings (one per case), got {type(value).__name__}")
        bad = next((v for v in value if not isinstance(v, str)), None)
        if bad is not None:
            raise UserError(f"{where}: {name!r} must hold strings, got a {type(bad).__name__}")
    if len(inputs) != len(outputs):
        raise UserError(f"{where}: {len(inputs)} 'inputs' for {len(outputs)} 'outputs'; give one output per input")
    if not inputs:
        raise UserError(f"{where}: 'inputs' is empty; give at least one stdin/stdout case")
    return list(inputs), list(outputs)


def case_requests(language: str, program: str, inputs: Sequence[str]) -> list[JudgeRequest]:
    """One request per case: the complete program, no tests, the case's input as stdin."""
    return [JudgeRequest.make(language, program, "", "generic", stdin=stdin) for stdin in inputs]


def _shorten(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def combine(results: Sequence[RunResult], outputs: Sequence[str]) -> RunResult:
    """One verdict for the cases: PASSED when every run passed with the expected output, else the
    first failing case (a run that did not pass keeps its verdict; a wrong output is FAILED)."""
    wall = sum(r.wall_s for r in results)
    for k, (res, want) in enumerate(zip(results, outputs), 1):
        if not res.passed:
            return replace(res, wall_s=wall, detail=f"case {k}/{len(outputs)}: {res.detail}")
        got = normalize_output(res.stdout)
        if got != normalize_output(want):
            return replace(res, status=Verdict.FAILED, wall_s=wall,
                           detail=f"case {k}/{len(outputs)}: expected {_shorten(normalize_output(want))}, "
                                  f"got {_shorten(got)}")
    return replace(results[0], wall_s=wall, detail=f"all {len(outputs)} cases passed")
