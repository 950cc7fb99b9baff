"""Learner -> engines weight transfer: backends (:mod:`.backends`), buckets (:mod:`.buckets`), the
learner-side source (:mod:`.source`), OORL's ``cpu`` engine pair (:mod:`.cpu`) and the probe check
that the engines' logprobs equal the learner's after each sync (:mod:`.probe`).

vLLM (0.32+) defines the lifecycle: a trainer-side engine sends, a worker-side engine receives into
the model with layerwise reloading, and a control-plane client drives ``start_weight_update`` /
``update_weights`` / ``finish_weight_update`` on the inference side (the rollout worker exposes
those methods). :class:`WeightSync` is the driver's handle: it opens the transfer on every learner
rank from one :class:`SyncPlan` and runs a sync.
"""

from __future__ import annotations

import ray

from oorl.weight_sync.backends import BACKENDS, DTYPES, SyncPlan, plan_sync, register_backends, resolve_backend

__all__ = ["BACKENDS", "DTYPES", "SyncPlan", "WeightSync", "plan_sync", "register_backends", "resolve_backend"]


class WeightSync:
    def __init__(self, learners: list, engines: list, plan: SyncPlan) -> None:
        self.learners, self.plan = learners, plan
        ray.get([l.init_weight_sync.remote(engines, plan) for l in learners])

    def sync(self) -> dict:
        """Push the learner's weights to every engine; rank 0's stats (bytes, buckets, seconds)."""
        return ray.get([l.sync_weights.remote() for l in self.learners])[0]
