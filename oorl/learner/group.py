"""The learner group: the DeepSpeed ranks of a run, driven together.

The driver hands it whole batches; it shards them over the ranks (contiguous, so a micro-batch's
rows keep their shared prompt) and gathers the ranks' statistics. Every call is a collective: all
ranks take part or none does. A rank that dies stops the run at once with a one-line error (a
restarted rank could not rejoin the others' process group); ``lost_hint`` says how to go on.
"""

from __future__ import annotations

from typing import Callable

from oorl.dispatch import gather
from oorl.learner.batch import build_batch, shard


class LearnerGroup:
    def __init__(self, learners: list, pad_id: int, lost_hint: Callable[[], str] = lambda: "") -> None:
        self.learners, self.pad_id, self.lost_hint = learners, pad_id, lost_hint

    def call(self, method: str, args_per_rank: list[tuple] | None = None) -> list:
        """``method`` on every rank (``args_per_rank[r]`` for rank r, else no arguments)."""
        args = args_per_rank or [()] * len(self.learners)
        refs = [getattr(l, method).remote(*a) for l, a in zip(self.learners, args)]
        return gather(refs, "learner rank", method, self.lost_hint())

    def ping(self) -> list[int]:
        return self.call("ping")

    def train(self, batch: dict | None, offpolicy: list[dict] | None = None) -> dict:
        """One update on ``batch`` (None: off-policy only) and ``offpolicy`` (one off-policy batch per
        rank, or None); the step's loss terms summed over ranks per update, the rest averaged, rank 0's
        optimizer state."""
        shards = shard(batch, len(self.learners)) if batch is not None else [None] * len(self.learners)
        offs = offpolicy or [None] * len(self.learners)
        outs = self.call("train_step", list(zip(shards, offs)))
        updates = outs[0]["updates"]
        m = {}
        for key in sorted({k for o in outs for k in o} - {"updates", "grad_norm", "lr"}):
            vals = [o[key] for o in outs if key in o]
            summed = key in ("loss", "pg_loss", "kl_loss") or key.endswith("/loss")  # shares of a global mean
            m[key] = sum(vals) / updates if summed else sum(vals) / len(vals)
        m.setdefault("kl", 0.0)
        m["grad_norm"], m["lr"] = outs[0]["grad_norm"], outs[0]["lr"]
        return m

    def offpolicy_eval(self, shards: list[dict], beta: float) -> list[dict]:
        """Per-group margins of held-out IR groups, one shard per rank, in the shards' order."""
        outs = self.call("offpolicy_eval", [(s, beta) for s in shards])
        return [g for out in outs for g in out]

    def logprobs(self, prompts: list[list[int]], responses: list[list[int]]) -> list[list[float]]:
        """Per-token logprobs of each response (rank 0's; every rank computes, ZeRO-3 needs them all)."""
        batch = build_batch(prompts, responses, [0.0] * len(prompts), self.pad_id)
        return self.call("logprobs", [(batch,)] * len(self.learners))[0]

    def save(self, path: str, tokenizer_dir: str) -> None:
        self.call("save_checkpoint", [(path, tokenizer_dir)] * len(self.learners))

    def load(self, path: str) -> None:
        self.call("load_checkpoint", [(path,)] * len(self.learners))
