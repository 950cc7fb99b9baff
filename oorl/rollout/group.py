"""The rollout group: the vLLM engines of a run, and how a step's samples reach them.

Whole groups go to one engine (so the engine's prefix cache serves the group's shared prompt),
balanced by prompt and completion tokens; each engine gets its share in one object-store put, and
results come back into the samples in request order. Engines are Ray actors in training and may be
plain in-process objects (``oorl eval``). Generation, probe scoring and the colocated sleep/wake go
through here: retries and asynchronous generation have one place to live.
"""

from __future__ import annotations

from oorl.dispatch import balance, call_all, share
from oorl.types import Sample, groups_of


class RolloutGroup:
    def __init__(self, engines: list) -> None:
        if not engines:
            raise ValueError("a rollout group needs at least one engine")
        self.engines = engines

    def generate(self, samples: list[Sample], max_new_tokens: int, temperature: float, top_p: float,
                 weight_version: int = 0) -> float:
        """Fill each sample's response (ids, engine logprobs, text, finish reason) in place; returns the
        generation time (the slowest engine's)."""
        groups = groups_of(samples)
        shares = balance([len(g) * (len(g[0].prompt_ids) + max_new_tokens) for g in groups], len(self.engines))
        calls, parts = [], []
        for e, items in enumerate(shares):
            part = [s for gi in items for s in groups[gi]]
            for s in part:
                s.engine = e
            if part:
                payload = share({"prompts": [s.prompt_ids for s in part], "seeds": [s.seed for s in part]})
                calls.append((e, (payload, max_new_tokens, temperature, top_p)))
                parts.append(part)
        outs = call_all(self.engines, "generate_batch", calls)
        for part, out in zip(parts, outs):
            for s, row in zip(part, out["rows"]):
                s.response_ids, s.logprobs, s.text = row["token_ids"], row["logprobs"], row["text"]
                s.finish_reason, s.weight_version = row["finish_reason"], weight_version
        return max((o["time_s"] for o in outs), default=0.0)

    def prompt_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[list[list[float]]]:
        """Every engine's logprobs of ``seqs[i][starts[i]:]`` (the probe: all engines must agree)."""
        ref = share({"seqs": seqs, "starts": starts})
        return call_all(self.engines, "prompt_logprobs_batch", [(e, (ref,)) for e in range(len(self.engines))])

    def sleep(self) -> None:
        call_all(self.engines, "sleep", [(e, ()) for e in range(len(self.engines))])

    def wake_up(self) -> None:
        call_all(self.engines, "wake_up", [(e, ()) for e in range(len(self.engines))])
