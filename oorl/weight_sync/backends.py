"""Weight-sync backends and the plan of one run's transfer: which backend, the wire dtype, the bucket
size, the rendezvous address and port, and the size of the transfer group.

Backends (chosen by ``weight_sync.backend``; ``auto`` picks by placement):

* ``cpu`` (vLLM name ``oorl_cpu``): OORL's engine pair (:mod:`oorl.weight_sync.cpu`), Ray's object store;
* ``nccl``: vLLM's NCCL broadcast engine (split placement: learner and engines on separate GPUs);
* ``cuda_ipc`` (``ipc``): vLLM's CUDA-IPC engine (colocated: handles instead of copies).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import torch

from oorl.registry import Registry

BACKENDS: Registry[str] = Registry("weight sync backend")
for _config_name, _vllm_name in (("cpu", "oorl_cpu"), ("nccl", "nccl"), ("cuda_ipc", "ipc")):
    BACKENDS.add(_config_name, _vllm_name)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_backend(name: str, placement_mode: str, use_gpu: bool) -> str:
    """The vLLM backend name: ``auto`` picks cpu without GPUs, cuda_ipc when colocated, nccl when split."""
    if name == "auto":
        name = "cpu" if not use_gpu else ("cuda_ipc" if placement_mode == "colocate" else "nccl")
    return BACKENDS.get(name)


@dataclass(frozen=True)
class SyncPlan:
    """Everything the learner ranks need to open the transfer (sent to each rank as is)."""

    backend: str          # vLLM backend name
    bucket_bytes: int
    dtype: str            # the engines' dtype: weights travel in it
    master_address: str   # NCCL rendezvous: the sender's (learner rank 0's) node
    master_port: int
    world_size: int       # the NCCL group: the sender plus every engine GPU


def free_port(avoid: tuple[int, ...] = ()) -> int:
    """A TCP port free on this node now (the kernel's choice), other than ``avoid``."""
    while True:
        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def plan_sync(cfg, use_gpu: bool, master_address: str, avoid_ports: tuple[int, ...] = ()) -> SyncPlan:
    """The plan for ``cfg`` (an ``oorl.config.Config``). Only NCCL rendezvouses, on a port of its own
    (not one of ``avoid_ports``, e.g. the learners' process-group port) at ``master_address``."""
    ws, rc = cfg.weight_sync, cfg.rollout
    backend = resolve_backend(ws.backend, cfg.placement.mode, use_gpu)
    return SyncPlan(backend=backend, bucket_bytes=int(ws.bucket_mb * 2**20), dtype=cfg.model.dtype,
                    master_address=master_address, master_port=free_port(avoid_ports) if backend == "nccl" else 0,
                    world_size=1 + rc.num_engines * rc.tensor_parallel_size)


def trainer_init_info(plan: SyncPlan, rank: int):
    """vLLM's trainer-side init info for ``plan`` on learner ``rank``."""
    if plan.backend == "oorl_cpu":
        from oorl.weight_sync.cpu import CpuTrainerInitInfo

        return CpuTrainerInitInfo(rank=rank, bucket_bytes=plan.bucket_bytes)
    if plan.backend == "nccl":
        from vllm.distributed.weight_transfer.nccl_engine import NCCLTrainerInitInfo

        return NCCLTrainerInitInfo(rank=rank, master_address=plan.master_address, master_port=plan.master_port,
                                   world_size=plan.world_size, packed=True,
                                   packed_buffer_size_bytes=plan.bucket_bytes)
    if plan.backend == "ipc":
        from vllm.distributed.weight_transfer.ipc_engine import IPCTrainerInitInfo

        return IPCTrainerInitInfo(rank=rank, packed=True, packed_buffer_size_bytes=plan.bucket_bytes)
    raise ValueError(f"unknown weight sync backend {plan.backend!r}")


def register_backends() -> None:
    """Make ``oorl_cpu`` known to vLLM's factories (idempotent; run in every process that builds one)."""
    from vllm.distributed.weight_transfer.factory import WeightTransferEngineFactory, WeightTransferTrainerFactory

    from oorl.weight_sync.cpu import CpuTrainerWeightTransferEngine, CpuWeightTransferEngine

    if "oorl_cpu" not in WeightTransferEngineFactory._registry:
        WeightTransferEngineFactory.register_engine("oorl_cpu", CpuWeightTransferEngine)
    if "oorl_cpu" not in WeightTransferTrainerFactory._registry:
        WeightTransferTrainerFactory.register_engine("oorl_cpu", CpuTrainerWeightTransferEngine)
