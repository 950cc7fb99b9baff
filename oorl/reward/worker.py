"""The reward worker: a Ray actor that scores a batch with the configured reward functions.

Each function is resolved by name (or import path) and called with the TRL signature; its kwargs
from the config are bound with ``functools.partial``. The total reward is the weighted sum.
"""

from __future__ import annotations

import functools
import time


class RewardWorker:
    def __init__(self, reward_cfg: dict) -> None:
        from oorl.reward.functions import resolve_reward

        self.cfg = reward_cfg
        self.functions = []
        for spec in reward_cfg["functions"]:
            fn = resolve_reward(spec["name"])
            if spec.get("kwargs"):
                fn = functools.partial(fn, **spec["kwargs"])
            self.functions.append((spec["name"], float(spec.get("weight", 1.0)), fn))
        self.timings: dict[str, float] = {}
        from oorl.reward.judge import configure_judge, limits_from_config

        # the process-wide judge (code-executing rewards) starts on first use with these settings
        configure_judge(limits_from_config(reward_cfg.get("sandbox"), bool(reward_cfg.get("unsafe_no_sandbox"))),
                        reward_cfg.get("threads"))

    def score(self, prompts: list[str], completions: list[str], columns: dict[str, list]) -> dict:
        """``rewards`` (weighted sum per completion) and ``per_function`` raw values."""
        n = len(completions)
        total = [0.0] * n
        per_function: dict[str, list[float]] = {}
        for name, weight, fn in self.functions:
            t0 = time.perf_counter()
            values = [float(v) for v in fn(prompts, completions, **columns)]
            if len(values) != n:
                raise ValueError(f"reward function {name!r} returned {len(values)} values for {n} completions")
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
            per_function[name] = values
            total = [t + weight * v for t, v in zip(total, values)]
        return {"rewards": total, "per_function": per_function}

    def stats(self) -> dict:
        out = {f"reward_time_s/{k}": v for k, v in self.timings.items()}
        from oorl.reward.judge import current_judge

        judge = current_judge()  # only if a reward function used it: asking must not start one
        if judge is not None:
            out.update(judge.stats())
        return out
