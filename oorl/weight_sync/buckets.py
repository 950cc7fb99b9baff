"""Buckets: parameters streamed in groups of at most ``bucket_bytes``, packed into one flat buffer
each (pure, tested). The ``cpu`` backend's sender is the one user; vLLM's NCCL/IPC engines bucket
with their own ``packed_buffer_size_bytes``, which the plan sets from the same ``bucket_mb``."""

from __future__ import annotations

from typing import Iterable, Iterator

import torch


def bucketize(items: Iterable[tuple[str, torch.Tensor]], bucket_bytes: int
              ) -> Iterator[tuple[list[str], list[torch.Tensor]]]:
    """Consecutive ``(names, tensors)`` buckets of at most ``bucket_bytes`` each, in stream order; a
    tensor larger than the budget gets a bucket of its own. Lazy: under ZeRO-3 the stream gathers
    parameters group by group, so at most one bucket plus one group is ever materialised."""
    names: list[str] = []
    tensors: list[torch.Tensor] = []
    size = 0
    for name, t in items:
        nbytes = t.numel() * t.element_size()
        if names and size + nbytes > bucket_bytes:
            yield names, tensors
            names, tensors, size = [], [], 0
        names.append(name)
        tensors.append(t)
        size += nbytes
    if names:
        yield names, tensors


def numel(shape) -> int:
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
        n = numel(shape)
        out.append((name, flat[offset:offset + n].view(*shape)))
        offset += n
    if offset != flat.numel():
        raise ValueError(f"bucket holds {flat.numel()} elements but its metadata describes {offset}")
    return out
