"""The ``prolog`` eval scorer (Prolog GRPO): answers checked in the jailed SWI-Prolog.

Each completion's query runs against its program (:mod:`oorl.reward.prolog_check`) and its first
binding is compared with the task's ``answer``. Outcome kinds: ``correct``, ``wrong_answer``,
``no_answer``, ``syntax_error``, ``runtime_error``, ``timeout``, and ``infra_error`` when the jail
itself failed (not the model's fault). Breakdowns by the ``difficulty`` and ``template`` columns.
Options: ``abs_tol``, ``rel_tol``, ``accept_expressions`` (as the ``prolog_correctness`` reward).
"""

from __future__ import annotations

from typing import Any, Sequence

from oorl.eval.report import EvalResult
from oorl.eval.scorers import SCORERS, Outcome, Scorer

FAILURE_KINDS = ("wrong_answer", "no_answer", "syntax_error", "runtime_error", "timeout", "infra_error")
BREAKDOWN = ("difficulty", "template")


def outcome_of(check) -> Outcome:
    """A :class:`oorl.reward.prolog_check.Check` as an eval outcome (the sandbox's own failure,
    kind ``other`` there, is an ``infra_error`` here)."""
    kind = "infra_error" if check.kind == "other" else check.kind
    return Outcome(check.correct, kind, detail=check.detail, value=check.value)


@SCORERS.register("prolog")
class PrologScorer(Scorer):
    failure_kinds = FAILURE_KINDS
    breakdown = BREAKDOWN

    def __init__(self, abs_tol: float = 1e-6, rel_tol: float = 1e-9, accept_expressions: bool = False) -> None:
        super().__init__(abs_tol=abs_tol, rel_tol=rel_tol, accept_expressions=accept_expressions)

    def judge(self, tasks, completions, rewards=()):
        from oorl.reward.prolog_check import check_completions

        flat = [c for cs in completions for c in cs]
        answers = [t["answer"] for t, cs in zip(tasks, completions) for _ in cs]
        checks = iter(check_completions(flat, answers, **self.options))
        return [[outcome_of(next(checks)) for _ in cs] for cs in completions]


def score_completions(tasks: Sequence[dict], completions: Sequence[Sequence[Any]], **options) -> EvalResult:
    """Judge and summarise in this process (tests, scripts); training and ``oorl eval`` judge on the
    reward pool."""
    if len(tasks) != len(completions):
        raise ValueError(f"{len(tasks)} tasks but {len(completions)} lists of completions")
    scorer = PrologScorer(**options)
    outcomes = scorer.judge(tasks, completions)
    return EvalResult.build(scorer, tasks, completions, outcomes)
