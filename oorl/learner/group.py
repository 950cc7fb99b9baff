"""The learner group: the DeepSpeed ranks of a run, driven together.

The driver hands it whole batches; it shards them over the ranks (contiguous, so a micro-batch's
rows keep their shared prompt) and gathers the ranks' statistics. Every call is a collective: all
ranks take part or none does.
"""

from __future__ import annotations

import ray

from oorl.learner.batch import build_batch, shard


class LearnerGroup:
    def __init__(self, learners: list, pad_id: int) -> None:
        self.learners, self.pad_id = learners, pad_id

    def ping(self) -> list[int]:
        return ray.get([l.ping.remote() for l in self.learners])

    def train(self, batch: dict | None, offpolicy: list[dict] | None = None) -> dict:
        """One update on ``batch`` (None: off-policy only) and ``offpolicy`` (one off-policy batch per
        rank, or None); the step's loss terms summed over ranks per update, the rest averaged, rank 0's
        optimizer state."""
        shards = shard(batch, len(self.learners)) if batch is not None else [None] * len(self.learners)
        offs = offpolicy or [None] * len(self.learners)
        outs = ray.get([l.train_step.remote(s, o) for l, s, o in zip(self.learners, shards, offs)])
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
        outs = ray.get([l.offpolicy_eval.remote(s, beta) for l, s in zip(self.learners, shards)])
        return [g for out in outs for g in out]

    def logprobs(self, prompts: list[list[int]], responses: list[list[int]]) -> list[list[float]]:
        """Per-token logprobs of each response (rank 0's; every rank computes, ZeRO-3 needs them all)."""
        batch = build_batch(prompts, responses, [0.0] * len(prompts), self.pad_id)
        return ray.get([l.logprobs.remote(batch) for l in self.learners])[0]

    def save(self, path: str, tokenizer_dir: str) -> None:
        ray.get([l.save_checkpoint.remote(path, tokenizer_dir) for l in self.learners])

    def load(self, path: str) -> None:
        ray.get([l.load_checkpoint.remote(path) for l in self.learners])
