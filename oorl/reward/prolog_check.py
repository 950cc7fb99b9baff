"""Checking Prolog GRPO completions against exact answers, through the sandboxed executor.

:func:`check_completions` parses each completion (:mod:`oorl.answers.prolog_format`), runs every
distinct (code, query) pair once with :func:`oorl.reward.prolog.run_prolog` (SWI-Prolog inside the
bubblewrap jail; untrusted code never runs in this process), concurrently on a thread pool, and
compares the query's first binding with the answer (:mod:`oorl.answers.numbers`).

The *first binding* is the binding of the first named variable of the query, in order of
appearance (as the Prolog top level prints them); ``_``-prefixed variables are ignored. When the
executor reports no such variable, the first binding it reports is used.

Outcome kinds (:data:`KINDS`), one per completion:

* ``correct``;
* ``wrong_answer``: the query succeeded, but the first binding is not a number equal to the answer;
* ``no_answer``: no code or query block, the query has no variable, or the query has no solution;
* ``syntax_error``: the program or the query does not parse. SWI-Prolog skips a bad clause and
  may still answer the query from the rest; such a completion still counts as a syntax error,
  never as correct: a correct answer needs a clean run (status ``ok``);
* ``runtime_error``: the query raised an error (an undefined procedure, a type error...);
* ``timeout``: the run hit its time or memory limit (non-termination usually shows as either);
* ``other``: the sandbox itself failed (logged as a warning: not the model's fault).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from oorl.answers.numbers import numbers_match, parse_answer, parse_prolog_number
from oorl.answers.prolog_format import ParsedCompletion, parse_completion, query_variables
from oorl.errors import UserError

log = logging.getLogger(__name__)

KINDS = ("correct", "wrong_answer", "no_answer", "syntax_error", "runtime_error", "timeout", "other")
_STATUS_KIND = {"no_solution": "no_answer", "syntax_error": "syntax_error", "error": "runtime_error",
                "timeout": "timeout", "memory": "timeout", "sandbox_error": "other"}


@dataclass(frozen=True)
class Check:
    """The outcome of one completion."""

    kind: str                  # one of KINDS
    value: str | None = None   # the printed first binding, when the query succeeded
    status: str | None = None  # the executor's status, when the program ran
    detail: str = ""           # a short human-readable reason

    @property
    def correct(self) -> bool:
        return self.kind == "correct"


def completion_text(completion: Any) -> str:
    """A completion as text: a string, a message dict, or a list of messages (TRL's
    conversational form, whose assistant contents are joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, (list, tuple)):
        return "".join(str(m.get("content", "")) for m in completion
                       if isinstance(m, dict) and m.get("role", "assistant") == "assistant")
    raise TypeError(f"a completion must be a string or chat messages, not {type(completion).__name__}")


def first_binding(query: str, bindings: dict[str, str]) -> str | None:
    """The printed value of the query's first named variable (see the module docstring)."""
    for var in query_variables(query):
        if var in bindings:
            return bindings[var]
    for var, value in bindings.items():
        if not var.startswith("_"):
            return value
    return None


_executors: dict[str, Any] = {}
_executors_lock = threading.Lock()


def _executor_for(limits: Any):
    """``None`` (the process-wide judge's executor: the run's ``reward.sandbox`` settings), or an
    executor for ``limits`` (a ``SandboxLimits``, or a dict of fields overriding the judge's)."""
    if limits is None:
        return None
    from oorl.reward.executor import Executor
    from oorl.reward.judge import get_judge
    from oorl.reward.sandbox import SandboxLimits

    if isinstance(limits, dict):
        try:
            limits = SandboxLimits(**{**get_judge().limits.model_dump(), **limits})
        except Exception as e:  # pydantic's ValidationError names the field
            raise UserError(f"Prolog reward limits: {' '.join(str(e).split())}") from None
    key = limits.model_dump_json()
    with _executors_lock:
        if key not in _executors:
            _executors[key] = Executor(limits)
        return _executors[key]


def run_programs(pairs: Sequence[tuple[str, str]], *, max_workers: int | None = None,
                 limits: Any = None) -> list[Any]:
    """Run each distinct (program, query) pair once with :func:`oorl.reward.prolog.run_prolog`,
    on ``max_workers`` threads (default: the judge's, i.e. this worker's CPU share); results in
    input order. ``limits``: see :func:`_executor_for`."""
    from oorl.reward.judge import get_judge
    from oorl.reward.prolog import PrologResult, run_prolog  # the sandboxed executor

    t0 = time.monotonic()
    unique = list(dict.fromkeys(pairs))
    executor = _executor_for(limits)
    judge = get_judge()
    workers = max(1, min(len(unique), max_workers or judge.threads))

    def one(pair):
        try:
            return run_prolog(pair[0], pair[1], max_solutions=1, executor=executor)
        except Exception as e:  # a bug or a broken toolchain must not lose the whole batch
            return PrologResult("sandbox_error", errors=[f"{type(e).__name__}: {e}"])

    if workers == 1:
        results = [one(p) for p in unique]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prolog-check") as pool:
            results = list(pool.map(one, unique))
    for r in results:  # the judge's metrics count Prolog runs like any other language's
        judge.record_run("prolog", r.status, r.wall_s)
    judge.record_batch(len(pairs), len(unique), len(unique), 0, time.monotonic() - t0)
    by_pair = dict(zip(unique, results))
    return [by_pair[p] for p in pairs]


def classify(parsed: ParsedCompletion, result: Any, expected: Fraction, *, abs_tol: float = 1e-6,
             rel_tol: float = 1e-9, accept_expressions: bool = False) -> Check:
    """The outcome of one parsed completion given the executor's result (``None`` if not run)."""
    if not parsed.complete or result is None:
        missing = [b for b in ("code", "query") if not getattr(parsed, b)]
        return Check("no_answer", detail=f"missing {' and '.join(missing)} block")
    status = result.status
    bindings = result.bindings[0] if result.bindings else None
    if status != "ok" or bindings is None:
        kind = _STATUS_KIND.get(status, "no_answer" if status == "ok" else "other")
        errors = getattr(result, "errors", None) or []
        return Check(kind, status=status, detail=str(errors[0])[:300] if errors else status)
    value = first_binding(parsed.query, bindings)
    if value is None:
        return Check("no_answer", status=status, detail="the query binds no variable")
    got = parse_prolog_number(value, accept_expressions=accept_expressions)
    if got is None:
        return Check("wrong_answer", value=value, status=status, detail="the first binding is not a number")
    if numbers_match(got, expected, abs_tol=abs_tol, rel_tol=rel_tol):
        return Check("correct", value=value, status=status)
    return Check("wrong_answer", value=value, status=status, detail=f"expected {expected}")


def check_completions(completions: Sequence[Any], answers: Sequence[Any], *, abs_tol: float = 1e-6,
                      rel_tol: float = 1e-9, accept_expressions: bool = False,
                      max_workers: int | None = None, limits: Any = None) -> list[Check]:
    """One :class:`Check` per completion (``answers[i]`` is the exact answer of completion ``i``)."""
    if len(completions) != len(answers):
        raise ValueError(f"{len(completions)} completions but {len(answers)} answers")
    expected = []
    for a in answers:
        try:
            expected.append(parse_answer(a))
        except ValueError as e:
            raise UserError(f"answer column: {e}; fix the dataset") from None
    parsed = [parse_completion(completion_text(c)) for c in completions]
    todo = [i for i, p in enumerate(parsed) if p.complete]
    results: list[Any] = [None] * len(parsed)
    if todo:
        ran = run_programs([(parsed[i].code, parsed[i].query) for i in todo],
                           max_workers=max_workers, limits=limits)
        for i, r in zip(todo, ran):
            results[i] = r
    checks = [classify(p, r, e, abs_tol=abs_tol, rel_tol=rel_tol, accept_expressions=accept_expressions)
              for p, r, e in zip(parsed, results, expected)]
    n_sandbox = sum(c.status == "sandbox_error" for c in checks)
    if n_sandbox:
        log.warning("%d of %d Prolog runs failed in the sandbox itself (first: %s)", n_sandbox,
                    len(checks), next(c.detail for c in checks if c.status == "sandbox_error"))
    return checks
