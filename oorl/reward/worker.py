"""The reward worker: a Ray actor that scores completions with the configured reward functions.

Each function is resolved by name (or import path) and called with the TRL signature; its kwargs
from the config are bound with ``functools.partial``. The total reward is the weighted sum. The
worker owns its judge: ``reward.sandbox`` (and ``reward.unsafe_no_sandbox``) configure the
process-wide judge once, at start, for training rewards and evaluation alike.

A reward function returns ``nan`` (``oorl.types.INFRA_ERROR``) for a completion it could not judge
for a reason that is not the answer's (the jail failed): the sample is then marked, not rewarded.
"""

from __future__ import annotations

import functools
import math
import time
import uuid


class RewardWorker:
    def __init__(self, reward_cfg: dict) -> None:
        from oorl.reward.functions import resolve_reward
        from oorl.reward.judge import configure_judge, limits_from_config

        self.cfg = reward_cfg
        self.functions = []
        for spec in reward_cfg["functions"]:
            fn = resolve_reward(spec["name"])
            if spec.get("kwargs"):
                fn = functools.partial(fn, **spec["kwargs"])
            self.functions.append((spec["name"], float(spec.get("weight", 1.0)), fn))
        self.timings: dict[str, float] = {}
        # the process-wide judge (code-executing rewards) starts on first use with these settings
        self.limits = limits_from_config(reward_cfg.get("sandbox"), bool(reward_cfg.get("unsafe_no_sandbox")))
        configure_judge(self.limits, reward_cfg.get("threads"))
        self.incarnation = uuid.uuid4().hex  # new at every (re)start: the pool counts restarts by it

    def score(self, prompts: list[str], completions: list[str], columns: dict[str, list]) -> dict:
        """``rewards`` (weighted sum per completion), ``per_function`` raw values, and ``infra``: per
        completion, the first function that could not judge it (None when all did)."""
        n = len(completions)
        total = [0.0] * n
        infra: list[str | None] = [None] * n
        per_function: dict[str, list[float]] = {}
        for name, weight, fn in self.functions:
            t0 = time.perf_counter()
            values = [float(v) for v in fn(prompts, completions, **columns)]
            if len(values) != n:
                raise ValueError(f"reward function {name!r} returned {len(values)} values for {n} completions")
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
            per_function[name] = values
            for i, v in enumerate(values):
                if math.isnan(v):
                    infra[i] = infra[i] or name
                else:
                    total[i] += weight * v
        return {"rewards": total, "per_function": per_function, "infra": infra, "incarnation": self.incarnation}

    def evaluate(self, scorer, tasks: list[dict], completions: list[list[str]]) -> list:
        """``scorer.judge`` (an ``oorl.eval.scorers.Scorer``) on this worker, with its judge and reward
        functions: evaluation runs where training rewards run."""
        return scorer.judge(tasks, completions, self.functions)

    def sandbox_limits(self) -> dict:
        """The jail limits in force here (what the judge runs programs with)."""
        return self.limits.model_dump(mode="json")

    def stats(self, reset: bool = False) -> dict:
        """Reward time per function and the judge's counters (requests, unique, executed, cache hits,
        per language and verdict, time); ``reset`` starts the next period from zero."""
        out = {f"reward/time_s/{k}": v for k, v in self.timings.items()}
        from oorl.reward.judge import current_judge

        judge = current_judge()  # only if a reward function used it: asking must not start one
        if judge is not None:
            out.update(judge.stats(reset=reset))
        if reset:
            self.timings.clear()
        return {**out, "incarnation": self.incarnation}
