"""Eval scorers: a registry of ways to judge k completions per task.

A scorer has two halves, so that judging runs where training rewards run:

* ``judge(tasks, completions, rewards)`` runs **on a reward worker** (inside its jail configuration,
  ``reward.sandbox``), on a share of whole tasks, and returns one :class:`Outcome` per completion;
  ``rewards`` are the worker's configured reward functions ``[(name, weight, fn)]``;
* ``summarize(tasks, outcomes)`` runs in the driver over all tasks: the generic metrics of
  :mod:`oorl.eval.metrics` with the scorer's failure kinds and breakdown columns.

Built in: ``reward`` (the mean of the configured reward functions), ``unit_tests`` (pass@k of code
answers judged by the target language's tests, by language), ``prolog`` (:mod:`oorl.eval.prolog`).
A scorer takes keyword options from ``trainer.eval_scorer_kwargs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from oorl.eval.metrics import summarize
from oorl.registry import Registry


@dataclass
class Outcome:
    """How one completion fared."""

    correct: bool
    kind: str                     # "correct", or a failure kind of the scorer ("infra_error": not the answer's fault)
    detail: str = ""
    value: str | None = None      # what the answer evaluated to, when the scorer has such a thing
    scores: dict[str, float] = field(default_factory=dict)  # reward values, for the reward scorer


class Scorer:
    name: ClassVar[str] = ""
    failure_kinds: ClassVar[tuple[str, ...]] = ()
    breakdown: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = options

    def judge(self, tasks: Sequence[dict], completions: Sequence[Sequence[str]], rewards: list) -> list[list[Outcome]]:
        raise NotImplementedError

    def summarize(self, tasks: Sequence[dict], outcomes: Sequence[Sequence[Outcome]]) -> dict[str, Any]:
        m = summarize(outcomes, tasks, failure_kinds=self.failure_kinds, breakdown=self.breakdown)
        m["infra_errors"] = sum(o.kind == "infra_error" for row in outcomes for o in row)
        return m


SCORERS: Registry[type[Scorer]] = Registry("eval scorer", ("oorl.eval.scorers", "oorl.eval.prolog", "oorl.eval.multipl_e"))


def make_scorer(name: str, **options: Any) -> Scorer:
    """An instance of the scorer registered as ``name``; an unknown name or option is a UserError."""
    from oorl.errors import UserError

    cls = SCORERS.get(name)
    try:
        return cls(**options)
    except TypeError as e:
        raise UserError(f"eval scorer {name!r}: {e} (trainer.eval_scorer_kwargs)") from None


def _flat(tasks, completions):
    flat_tasks = [t for t, cs in zip(tasks, completions) for _ in cs]
    flat = [c for cs in completions for c in cs]
    cols = sorted({k for t in tasks for k in t if k not in ("id", "prompt")})
    columns = {c: [t.get(c) for t in flat_tasks] for c in cols}
    return flat, columns


def _unflat(flat: list, completions) -> list[list]:
    out, i = [], 0
    for cs in completions:
        out.append(flat[i:i + len(cs)])
        i += len(cs)
    return out


@SCORERS.register("reward")
class RewardScorer(Scorer):
    """The weighted sum of the configured reward functions (for tasks without an answer checker).
    A sample counts as correct when its total reaches ``threshold`` (default: never, so accuracy
    reads 0 and ``reward_mean`` is the figure)."""

    def __init__(self, threshold: float = math.inf) -> None:
        super().__init__(threshold=threshold)
        self.threshold = threshold

    def judge(self, tasks, completions, rewards):
        flat, columns = _flat(tasks, completions)
        prompts = [str(t.get("prompt")) for t, cs in zip(tasks, completions) for _ in cs]
        values = {name: [float(v) for v in fn(prompts, flat, **columns)] for name, _w, fn in rewards}
        outs = []
        for i in range(len(flat)):
            scores = {name: vals[i] for name, vals in values.items()}
            if any(math.isnan(v) for v in scores.values()):
                outs.append(Outcome(False, "infra_error", scores=scores))
                continue
            total = sum(w * scores[name] for name, w, _fn in rewards)
            outs.append(Outcome(total >= self.threshold, "correct" if total >= self.threshold else "below_threshold",
                                scores={**scores, "total": total}))
        return _unflat(outs, completions)

    def summarize(self, tasks, outcomes):
        m = super().summarize(tasks, outcomes)
        judged = [o for row in outcomes for o in row if o.kind != "infra_error"]
        names = sorted({k for o in judged for k in o.scores if k != "total"})
        m["reward"] = {n: sum(o.scores[n] for o in judged) / max(len(judged), 1) for n in names}
        m["reward_mean"] = sum(o.scores["total"] for o in judged) / max(len(judged), 1)
        return m


UNIT_TEST_KINDS = ("wrong_answer", "compile_error", "runtime_error", "timeout", "no_code", "infra_error")


def verdict_kind(result) -> str:
    """A judged program's verdict (``oorl.reward.sandbox.RunResult``) as an eval outcome kind."""
    status = result.status.value
    if status == "passed":
        return "correct"
    if status == "compile_error" and "no code found" in (result.detail or ""):
        return "no_code"
    return {"failed": "wrong_answer", "memory": "runtime_error", "sandbox_error": "infra_error"}.get(status, status)


@SCORERS.register("unit_tests")
class UnitTestScorer(Scorer):
    """Code answers judged by the tasks' unit tests (the ``unit_tests`` reward's columns: ``language``,
    ``tests`` or ``inputs``/``outputs``...): pass@k per ``language`` (and ``source_language``)."""

    failure_kinds = UNIT_TEST_KINDS
    breakdown = ("language", "source_language", "difficulty")

    def judge(self, tasks, completions, rewards):
        from oorl.reward.unit_test_rewards import unit_test_verdicts

        flat, columns = _flat(tasks, completions)
        results = unit_test_verdicts([""] * len(flat), flat, **columns)
        outs = [Outcome(r.passed, verdict_kind(r), detail=(r.detail or "")[:300]) for r in results]
        return _unflat(outs, completions)
