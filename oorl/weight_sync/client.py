"""The learner's control-plane client to the rollout engines, for every backend: vLLM's Ray client
(each call fans out to every engine and waits for all), except that an engine that died or restarted
during a transfer is left out of the rest of it instead of failing the learner's call midway.

Failing midway would leave the learner ranks out of step: under ZeRO-3 every rank gathers each
parameter group with the others while only rank 0 sends. The transfer runs to its end, ``lost``
names the engines that missed it, and the driver brings those back (they restart with the starting
weights) and syncs again.
"""

from __future__ import annotations

from typing import Any

import ray
from vllm.distributed.weight_transfer.clients import RayVLLMWeightSyncClient
from vllm.distributed.weight_transfer.base import WeightTransferInitRequest, WeightTransferUpdateRequest

from oorl.dispatch import actor_died


class EngineClient(RayVLLMWeightSyncClient):
    def __init__(self, handles: list) -> None:
        super().__init__(list(handles))
        self.lost: set[int] = set()
        self.incarnations = ray.get([h.get_incarnation.remote() for h in self.handles])

    def _fan_out(self, method: str, *args: Any) -> None:
        live = [i for i in range(len(self.handles)) if i not in self.lost]
        if len(live) > 1:  # one copy in the object store for every engine: Ray would serialise and store
            args = tuple(ray.put(a) for a in args)  # a large argument (a bucket) once per call
        refs = [getattr(self.handles[i], method).remote(*args) for i in live]
        for i, ref in zip(live, refs):
            try:
                ray.get(ref)
            except ray.exceptions.RayActorError as e:
                if not actor_died(e):
                    raise
                self.lost.add(i)

    def init_weight_transfer_engine(self, init_info: dict[str, Any]) -> None:
        self._fan_out("init_weight_transfer_engine", WeightTransferInitRequest(init_info=init_info))

    def shutdown_weight_transfer_engine(self) -> None:
        self._fan_out("shutdown_weight_transfer_engine")

    def start_weight_update(self) -> None:
        """A new transfer: an engine restarted since the transfer was opened (a new incarnation) has
        no transfer engine and is left out of it."""
        self.lost = set()
        now = []
        for h in self.handles:
            try:
                now.append(ray.get(h.get_incarnation.remote()))
            except ray.exceptions.RayActorError:
                now.append(None)
        self.lost = {i for i, inc in enumerate(now) if inc != self.incarnations[i]}
        self._fan_out("start_weight_update")

    def update_weights(self, update_info) -> None:
        self._fan_out("update_weights", WeightTransferUpdateRequest(update_info=update_info))

    def finish_weight_update(self, weight_version: str | None = None) -> None:
        self._fan_out("finish_weight_update")
        if weight_version is not None:
            self._fan_out("update_weight_version", weight_version)
