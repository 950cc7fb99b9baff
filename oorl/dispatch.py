"""Splitting a step's work over the workers of a role, whole groups at a time (pure, tested).

GRPO's groups must stay together: the judge deduplicates identical answers within a group and vLLM
reuses a shared prompt's cache only when the whole group reaches one engine.
"""

from __future__ import annotations

from typing import Sequence


def balance(costs: Sequence[float], workers: int) -> list[list[int]]:
    """Item indices per worker: longest-processing-time first (each item, costliest first, goes to
    the least-loaded worker; ties go to the lower index), then each worker's items back in their
    original order. Deterministic; every worker gets a list, possibly empty."""
    if workers < 1:
        raise ValueError(f"need at least one worker, got {workers}")
    loads = [0.0] * workers
    out: list[list[int]] = [[] for _ in range(workers)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        w = min(range(workers), key=lambda w: (loads[w], w))
        out[w].append(i)
        loads[w] += costs[i]
    return [sorted(items) for items in out]


def is_actor(worker) -> bool:
    """A Ray actor handle (calls go through ``.remote``), or a plain in-process object."""
    import ray

    return isinstance(worker, ray.actor.ActorHandle)


def call_all(workers: list, method: str, calls: list[tuple[int, tuple]]) -> list:
    """``workers[w].method(*args)`` for each ``(w, args)``, concurrently for actors; results in order."""
    import ray

    if calls and is_actor(workers[calls[0][0]]):
        return ray.get([getattr(workers[w], method).remote(*args) for w, args in calls])
    return [getattr(workers[w], method)(*args) for w, args in calls]


def share(obj):
    """``obj`` in Ray's object store when Ray runs (one put, read by an actor without a copy on
    its node), else ``obj`` itself."""
    import ray

    return ray.put(obj) if ray.is_initialized() else obj
