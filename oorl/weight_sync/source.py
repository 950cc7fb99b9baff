"""The learner side's view of the weights: parameters in the wire dtype, gathered group by group
under ZeRO-3, so the full model never sits in memory at once."""

from __future__ import annotations

import os
import re
from typing import Iterator

import torch

from vllm.distributed.weight_transfer.base import ParamMeta, WeightSource


class ZeroWeightSource(WeightSource):
    """The learner model's parameters, in the rollout dtype; gathered group by group under ZeRO-3.

    Every learner rank must iterate in lockstep (gathering is a collective); only the sender uses the
    tensors.
    """

    def __init__(self, module: torch.nn.Module, dtype: torch.dtype, zero_stage: int) -> None:
        self.module = module
        self.dtype = dtype
        self.zero3 = zero_stage == 3
        self._params = dict(module.named_parameters())
        # fault injection, for the tests and the tolerance measurement only: parameters whose name matches
        # this regex are left out of every sync (the engine keeps its old values), a broken sync the probe
        # check must catch
        skip = os.environ.get("OORL_FAULT_SYNC_SKIP")
        if skip:
            self._params = {n: p for n, p in self._params.items() if not re.search(skip, n)}

    def metadata(self) -> list[ParamMeta]:
        return [ParamMeta(n, self.dtype, tuple(getattr(p, "ds_shape", p.shape))) for n, p in self._params.items()]

    def iter_groups(self) -> Iterator[tuple[list[str], list[torch.Tensor]]]:
        for group in self.groups():
            params = [self._params[n] for n in group]
            if self.zero3:
                import deepspeed

                with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                    yield group, [p.data.to(self.dtype, copy=True) for p in params]
            else:
                yield group, [p.data.to(self.dtype) for p in params]

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        for names, tensors in self.iter_groups():
            yield from zip(names, tensors)


