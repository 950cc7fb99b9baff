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

from oorl.weight_sync.backends import BACKENDS, DTYPES, SyncPlan, plan_sync, register_backends, resolve_backend

__all__ = ["BACKENDS", "DTYPES", "SyncPlan", "WeightSync", "plan_sync", "register_backends", "resolve_backend"]


class WeightSync:
    """``learners``: an ``oorl.learner.group.LearnerGroup``; ``engines``: the rollout actors."""

    def __init__(self, learners, engines: list, plan: SyncPlan) -> None:
        self.learners, self.engines, self.plan = learners, engines, plan
        self.open()

    def open(self) -> None:
        """Open the transfer on every learner rank (again after an engine restarted: it has none)."""
        self.learners.call("init_weight_sync", [(self.engines, self.plan)] * len(self.learners.learners))

    def sync(self) -> dict:
        """Push the learner's weights to every engine; rank 0's stats (bytes, buckets, seconds, and
        ``lost_engines``: the engines that died or restarted during the transfer and missed it)."""
        return self.learners.call("sync_weights")[0]
