"""The reward pool: the reward workers of a run, and how samples and eval tasks reach them.

Whole groups go to one worker (its judge then runs identical answers of a group once), balanced by
group size; results come back into the samples in request order. Evaluation goes through the same
workers, so eval scoring runs with the jail configuration training rewards run with. ``local``
makes a pool of one in-process worker (``oorl eval`` without a cluster): the same class, the same
judge configuration.
"""

from __future__ import annotations

from typing import Any, Sequence

from oorl.dispatch import balance, call_all
from oorl.reward.worker import RewardWorker
from oorl.types import Sample, SampleStatus, groups_of

# judge counters that are not sums over workers: recomputed from the sums
_DERIVED = ("dedup_rate", "wall_s_mean")


class RewardPool:
    def __init__(self, workers: list) -> None:
        if not workers:
            raise ValueError("a reward pool needs at least one worker")
        self.workers = workers
        self.incarnations: list[str | None] = [None] * len(workers)
        self.restarts = 0

    def _seen(self, w: int, out: dict) -> None:
        inc = out.pop("incarnation", None)
        if inc is not None:
            if self.incarnations[w] is not None and inc != self.incarnations[w]:
                self.restarts += 1
            self.incarnations[w] = inc

    @classmethod
    def local(cls, reward_cfg: dict) -> "RewardPool":
        return cls([RewardWorker(reward_cfg)])

    def _call(self, method: str, calls: list[tuple[int, tuple]]) -> list:
        return call_all(self.workers, method, calls)

    @staticmethod
    def _columns(tasks: Sequence[dict]) -> dict[str, list]:
        cols = sorted({k for t in tasks for k in t if k not in ("id", "prompt")})
        return {c: [t.get(c) for t in tasks] for c in cols}

    def score(self, samples: list[Sample], tasks: Sequence[dict], prompt_texts: Sequence[str]) -> None:
        """Fill ``rewards``, ``reward`` and ``status`` of each sample in place; ``tasks[s.task]`` holds
        a sample's columns and ``prompt_texts[s.task]`` its prompt as the reward functions see it."""
        groups = groups_of(samples)
        shares = balance([len(g) for g in groups], len(self.workers))
        calls, parts = [], []
        for w, share in enumerate(shares):
            part = [s for gi in share for s in groups[gi]]
            for s in part:
                s.reward_worker = w
            if part:
                calls.append((w, ([prompt_texts[s.task] for s in part], [s.text for s in part],
                                  self._columns([tasks[s.task] for s in part]))))
                parts.append(part)
        for (w, _), part, out in zip(calls, parts, self._call("score", calls)):
            self._seen(w, out)
            for i, s in enumerate(part):
                s.rewards = {name: vals[i] for name, vals in out["per_function"].items()}
                s.reward = out["rewards"][i]
                if out["infra"][i] is not None:
                    s.status = SampleStatus.INFRA_ERROR
                    s.detail = f"reward {out['infra'][i]!r} could not judge it (sandbox error)"

    def evaluate(self, scorer, tasks: Sequence[dict], completions: Sequence[Sequence[str]]) -> list[list[Any]]:
        """``scorer.judge`` over the workers, whole tasks each, balanced by samples; outcomes in task order."""
        shares = balance([len(c) for c in completions], len(self.workers))
        calls = [(w, (scorer, [tasks[i] for i in share], [list(completions[i]) for i in share]))
                 for w, share in enumerate(shares) if share]
        outcomes: list = [None] * len(tasks)
        for (w, _), share_out in zip(calls, self._call("evaluate", calls)):
            for i, row in zip(shares[w], share_out):
                outcomes[i] = row
        return outcomes

    def sandbox_limits(self) -> list[dict]:
        return self._call("sandbox_limits", [(w, ()) for w in range(len(self.workers))])

    def stats(self, reset: bool = True) -> dict[str, float]:
        """The workers' reward times and judge counters summed (rates recomputed); by default the
        counters restart, so each call reports one step."""
        total: dict[str, float] = {}
        for w, part in enumerate(self._call("stats", [(w, (reset,)) for w in range(len(self.workers))])):
            self._seen(w, part)
            for k, v in part.items():
                if not k.endswith(_DERIVED):
                    total[k] = total.get(k, 0.0) + v
        if total.get("reward/judge/requests"):
            total["reward/judge/dedup_rate"] = 1.0 - total.get("reward/judge/executed", 0.0) / total["reward/judge/requests"]
        for k in [k for k in total if k.endswith("/wall_s")]:
            runs = total.get(k[: -len("wall_s")] + "total")
            if runs:
                total[k + "_mean"] = total[k] / runs
        return total
