"""Weight sync from the learner to the rollout engines, on vLLM's weight-transfer interface.

vLLM (0.32+) defines the whole lifecycle: a trainer-side engine sends, a worker-side engine receives
into the model with layerwise reloading, and a control-plane client drives ``start_weight_update`` /
``update_weights`` / ``finish_weight_update`` on the inference side. OORL plugs into it:

* ``ZeroWeightSource`` yields the learner's parameters group by group; under ZeRO-3 each group is
  gathered in one collective (``GatheredParameters``), so the full model never sits in memory at once.
* Backends (registry ``BACKENDS``, chosen by ``weight_sync.backend``):
  - ``cpu``: OORL's own engine pair, registered with vLLM's factories. Rank 0 packs groups into
    flat buckets of ``bucket_mb`` and ships each bucket through Ray's object store (shared memory on
    one node, Ray's transfer across nodes); the worker unpacks views and loads them. Runs in CI.
  - ``nccl``: vLLM's NCCL broadcast engine (split placement: learner and engines on different GPUs).
  - ``cuda_ipc``: vLLM's CUDA-IPC engine (colocated: same GPUs, handles instead of copies).
* ``RolloutWorker`` exposes the control-plane methods that ``RayVLLMWeightSyncClient`` calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import torch

from vllm.distributed.weight_transfer.base import (
    ParamMeta,
    TrainerInitInfo,
    WeightSource,
    WeightTransferEngine,
    WeightTransferInitInfo,
    WeightTransferUpdateInfo,
)
from vllm.distributed.weight_transfer.factory import WeightTransferEngineFactory, WeightTransferTrainerFactory

# config name -> vLLM backend name
BACKENDS = {"cpu": "oorl_cpu", "nccl": "nccl", "cuda_ipc": "ipc"}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_backend(name: str, placement_mode: str, use_gpu: bool) -> str:
    """``auto`` picks cpu without GPUs, cuda_ipc when colocated, nccl when split."""
    if name == "auto":
        name = "cpu" if not use_gpu else ("cuda_ipc" if placement_mode == "colocate" else "nccl")
    return BACKENDS[name]


# ----------------------------------------------------------------------------------- packing (pure)
def plan_buckets(metas: list[ParamMeta], bucket_bytes: int) -> list[list[int]]:
    """Split parameter indices into consecutive buckets of at most ``bucket_bytes`` (one oversized
    parameter gets a bucket of its own)."""
    buckets: list[list[int]] = []
    cur: list[int] = []
    size = 0
    for i, m in enumerate(metas):
        nbytes = _numel(m.shape) * torch.empty((), dtype=m.dtype).element_size()
        if cur and size + nbytes > bucket_bytes:
            buckets.append(cur)
            cur, size = [], 0
        cur.append(i)
        size += nbytes
    if cur:
        buckets.append(cur)
    return buckets


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def pack(tensors: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """Concatenate tensors (cast to ``dtype``) into one flat contiguous buffer."""
    return torch.cat([t.detach().reshape(-1).to(dtype) for t in tensors]) if tensors else torch.empty(0, dtype=dtype)


def unpack(flat: torch.Tensor, names: list[str], shapes: list[list[int]]) -> list[tuple[str, torch.Tensor]]:
    """Views into ``flat``, one per parameter, in order."""
    out, offset = [], 0
    for name, shape in zip(names, shapes):
        n = _numel(shape)
        out.append((name, flat[offset:offset + n].view(*shape)))
        offset += n
    if offset != flat.numel():
        raise ValueError(f"bucket holds {flat.numel()} elements but its metadata describes {offset}")
    return out


# ----------------------------------------------------------------------------------- learner side
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


@dataclass
class CpuTrainerInitInfo(TrainerInitInfo):
    backend: ClassVar[str] = "oorl_cpu"
    bucket_bytes: int = 64 << 20


@dataclass
class CpuWeightTransferInitInfo(WeightTransferInitInfo):
    bucket_bytes: int = 64 << 20


@dataclass
class CpuWeightTransferUpdateInfo(WeightTransferUpdateInfo):
    names: list[str]
    shapes: list[list[int]]
    flat: Any  # a torch.Tensor (Ray ships it through its shared-memory object store)


class CpuTrainerWeightTransferEngine:
    """Trainer side of the ``oorl_cpu`` backend: packs groups into buckets and ships each one."""

    def __init__(self, client, source: WeightSource, is_sender: bool, bucket_bytes: int) -> None:
        self.client, self.source, self.is_sender, self.bucket_bytes = client, source, is_sender, bucket_bytes
        self.last_stats: dict[str, float] = {}

    @classmethod
    def trainer_init(cls, init_info: CpuTrainerInitInfo, *, client, source: WeightSource | None = None):
        if source is None:
            raise ValueError("the oorl_cpu weight transfer needs a WeightSource")
        engine = cls(client, source, init_info.is_sender, init_info.bucket_bytes)
        if engine.is_sender:
            engine.client.init_weight_transfer_engine({"bucket_bytes": init_info.bucket_bytes})
        return engine

    def send_weights(self) -> None:
        if self.is_sender:
            self.client.start_weight_update()
        names: list[str] = []
        tensors: list[torch.Tensor] = []
        size = 0
        buckets = 0
        total = 0

        def flush():
            nonlocal names, tensors, size, buckets, total
            if not names:
                return
            if self.is_sender:
                flat = pack(tensors, tensors[0].dtype)
                self.client.update_weights({"names": names, "shapes": [list(t.shape) for t in tensors], "flat": flat})
                total += flat.numel() * flat.element_size()
            buckets += 1
            names, tensors, size = [], [], 0

        for group_names, group_tensors in self.source.iter_groups():
            for n, t in zip(group_names, group_tensors):
                nbytes = t.numel() * t.element_size()
                if names and size + nbytes > self.bucket_bytes:
                    flush()
                names.append(n)
                tensors.append(t)
                size += nbytes
        flush()
        if self.is_sender:
            self.client.finish_weight_update()
        self.last_stats = {"buckets": buckets, "bytes": total}

    def shutdown(self) -> None:
        if self.is_sender:
            self.client.shutdown_weight_transfer_engine()


# ----------------------------------------------------------------------------------- rollout side
class CpuWeightTransferEngine(WeightTransferEngine[CpuWeightTransferInitInfo, CpuWeightTransferUpdateInfo]):
    """Worker side of ``oorl_cpu``: loads each bucket with the model's own ``load_weights``, inside
    vLLM's layerwise reload so kernel-format weights (CPU repacking, fused QKV) are rebuilt."""

    init_info_cls = CpuWeightTransferInitInfo
    update_info_cls = CpuWeightTransferUpdateInfo

    def init_transfer_engine(self, init_info: CpuWeightTransferInitInfo) -> None:
        self.bucket_bytes = init_info.bucket_bytes

    def start_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import initialize_layerwise_reload

        initialize_layerwise_reload(self.model)

    def finish_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

        finalize_layerwise_reload(self.model, self.model_config)
        refresh_tied_cpu_heads(self.model)

    def update_weights(self, update_info: dict[str, Any]) -> None:
        self.receive_weights(self.parse_update_info(update_info))

    def receive_weights(self, update_info: CpuWeightTransferUpdateInfo) -> None:
        flat = update_info.flat
        if not isinstance(flat, torch.Tensor):
            raise TypeError("oorl_cpu bucket did not arrive as a tensor (is the engine in-process?)")
        self.model.load_weights(unpack(flat, update_info.names, update_info.shapes))

    def shutdown(self) -> None:
        pass


def refresh_tied_cpu_heads(model: torch.nn.Module) -> None:
    """vLLM's CPU backend packs the LM head's weight into a GEMM handle at load time. A head tied to
    the input embedding is never loaded itself (the checkpoint has no ``lm_head.weight``), so layerwise
    reload leaves its handle packed from the *old* embedding. Re-run its post-load processing so it
    packs the new one (found by the probe check: logprobs off by ~0.04 after one step)."""
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

    for module in model.modules():
        if isinstance(module, ParallelLMHead) and hasattr(module, "cpu_linear"):
            module.quant_method.process_weights_after_loading(module)


def register_backends() -> None:
    """Make ``oorl_cpu`` known to vLLM's factories (idempotent; run in every process that builds one)."""
    if "oorl_cpu" not in WeightTransferEngineFactory._registry:
        WeightTransferEngineFactory.register_engine("oorl_cpu", CpuWeightTransferEngine)
    if "oorl_cpu" not in WeightTransferTrainerFactory._registry:
        WeightTransferTrainerFactory.register_engine("oorl_cpu", CpuTrainerWeightTransferEngine)


def trainer_init_info(backend: str, rank: int, bucket_bytes: int, *, master_address: str = "",
                      master_port: int = 0, world_size: int = 0) -> TrainerInitInfo:
    """The trainer-side init info for a vLLM backend name."""
    if backend == "oorl_cpu":
        return CpuTrainerInitInfo(rank=rank, bucket_bytes=bucket_bytes)
    if backend == "nccl":
        from vllm.distributed.weight_transfer.nccl_engine import NCCLTrainerInitInfo

        return NCCLTrainerInitInfo(rank=rank, master_address=master_address, master_port=master_port,
                                   world_size=world_size, packed=True, packed_buffer_size_bytes=bucket_bytes)
    if backend == "ipc":
        from vllm.distributed.weight_transfer.ipc_engine import IPCTrainerInitInfo

        return IPCTrainerInitInfo(rank=rank, packed=True, packed_buffer_size_bytes=bucket_bytes)
    raise ValueError(f"unknown weight sync backend {backend!r}")


register_backends()
