"""The ``cpu`` weight-sync backend: OORL's own engine pair, registered with vLLM's factories.

Rank 0 streams the learner's parameters (:class:`oorl.weight_sync.source.ZeroWeightSource`) into flat
buckets of ``bucket_mb`` (:func:`oorl.weight_sync.buckets.bucketize`) and ships each bucket through
Ray's object store as a NumPy byte array (shared memory on one node, Ray's transfer across nodes);
the engine's worker unpacks views and loads them inside vLLM's layerwise reload. Runs in CI.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from vllm.distributed.weight_transfer.base import (
    TrainerInitInfo,
    WeightSource,
    WeightTransferEngine,
    WeightTransferInitInfo,
    WeightTransferUpdateInfo,
)

from oorl.weight_sync.buckets import bucketize, from_wire, pack, to_wire, unpack


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
    flat: Any  # a 1-D uint8 NumPy array over the packed bucket (buckets.to_wire), zero-copy out of Ray's store
    dtype: str  # the packed tensors' dtype (torch's name: "bfloat16", "float32", ...)


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
        """Bucket by bucket, each loaded before the next is packed (packing the next one while the
        engine loads measured slower on 2 cores: 0.45-1.09 s against 0.34-0.36 s per sync)."""
        if self.is_sender:
            self.client.start_weight_update()
        buckets = total = 0
        for names, tensors in bucketize(self.source, self.bucket_bytes):
            if self.is_sender:
                flat = pack(tensors, tensors[0].dtype)
                self.client.update_weights({"names": names, "shapes": [list(t.shape) for t in tensors],
                                            "flat": to_wire(flat), "dtype": str(flat.dtype).removeprefix("torch.")})
                total += flat.numel() * flat.element_size()
            buckets += 1
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

        with expected_unloaded_layers(self.model, self.model_config):
            finalize_layerwise_reload(self.model, self.model_config)
        refresh_tied_cpu_heads(self.model)

    def update_weights(self, update_info: dict[str, Any]) -> None:
        self.receive_weights(self.parse_update_info(update_info))

    def receive_weights(self, update_info: CpuWeightTransferUpdateInfo) -> None:
        flat = from_wire(update_info.flat, update_info.dtype)
        self.model.load_weights(unpack(flat, update_info.names, update_info.shapes))

    def shutdown(self) -> None:
        pass


class _DropExpectedUnloaded(logging.Filter):
    def __init__(self, layer_names: set[str]) -> None:
        super().__init__()
        self.layer_names = layer_names

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "%s: Failed to load weights" and record.args
                    and record.args[0] in self.layer_names)


@contextmanager
def expected_unloaded_layers(model: torch.nn.Module, model_config):
    """Silence vLLM's "<Layer>: Failed to load weights" for the layers no weight update carries.

    vLLM's layerwise reload counts every tensor of a layer, buffers included, and warns when a layer
    got none of them, then puts the layer's previous tensors back. Two kinds of layers never get
    any, on every sync, and putting theirs back is right (the probe check confirms the logprobs):
    * layers with non-persistent buffers only, e.g. RotaryEmbedding's ``cos_sin_cache``: computed
      from the model config at load time, not a checkpoint weight, not trained;
    * the LM head when tied to the input embedding (``tie_word_embeddings``): the learner sends the
      embedding once; :func:`refresh_tied_cpu_heads` re-packs the head from it right after.
    A layer with parameters of its own that gets nothing still warns: that is a real fault.
    """
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead
    from vllm.model_executor.model_loader.reload import layerwise

    tied = bool(getattr(getattr(model_config, "hf_config", None), "tie_word_embeddings", False))
    names = set()
    for module in model.modules():
        params = [p for p in module._parameters.values() if p is not None]
        buffers = {n for n, b in module._buffers.items() if b is not None}
        if not params and buffers and buffers <= module._non_persistent_buffers_set:
            names.add(type(module).__name__)
    if tied:
        names.update(type(m).__name__ for m in model.modules() if isinstance(m, ParallelLMHead))
    names -= {type(m).__name__ for m in model.modules()
              if not isinstance(m, ParallelLMHead) and any(p is not None for p in m._parameters.values())}
    flt = _DropExpectedUnloaded(names)
    layerwise.logger.addFilter(flt)
    try:
        yield names
    finally:
        layerwise.logger.removeFilter(flt)


def refresh_tied_cpu_heads(model: torch.nn.Module) -> None:
    """vLLM's CPU backend packs the LM head's weight into a GEMM handle at load time. A head tied to
    the input embedding is never loaded itself (the checkpoint has no ``lm_head.weight``), so layerwise
    reload leaves its handle packed from the *old* embedding. Re-run its post-load processing so it
    packs the new one (found by the probe check: logprobs off by ~0.04 after one step)."""
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

    for module in model.modules():
        if isinstance(module, ParallelLMHead) and hasattr(module, "cpu_linear"):
            module.quant_method.process_weights_after_loading(module)
