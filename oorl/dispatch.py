"""Splitting a step's work over the workers of a role, whole groups at a time, and collecting the
results when a worker dies (pure parts tested directly).

GRPO's groups must stay together: the judge deduplicates identical answers within a group and vLLM
reuses a shared prompt's cache only when the whole group reaches one engine.

Dead workers: Ray restarts a rollout engine or a reward worker (``placement.max_restarts``); a call
that was running on it fails with ``RayActorError``. :func:`call_all` then asks the role's
``on_lost(worker)`` to bring the restarted worker to the run's state (an engine needs the learner's
current weights) and submits the call again; Ray queues it until the actor is back. A learner rank
cannot rejoin its process group: :func:`gather` turns its death into a one-line error at once, even
while the other ranks wait for it in a collective.
"""

from __future__ import annotations

from typing import Callable, Sequence


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


def actor_died(e: BaseException) -> bool:
    """True when ``e`` says the actor that ran the call died (not an error raised by its code, which
    Ray wraps in ``RayTaskError``, even when that code's own call to another actor failed)."""
    import ray

    return isinstance(e, ray.exceptions.RayActorError) and not isinstance(e, ray.exceptions.RayTaskError)


def call_all(workers: list, method: str, calls: list[tuple[int, tuple]],
             on_lost: Callable[[int], None] | None = None, max_tries: int = 4) -> list:
    """``workers[w].method(*args)`` for each ``(w, args)``, concurrently for actors; results in order.

    A call whose actor died is submitted again after ``on_lost(w)`` (at most ``max_tries`` times in
    all); without ``on_lost`` the error propagates."""
    import ray

    if not calls or not is_actor(workers[calls[0][0]]):
        return [getattr(workers[w], method)(*args) for w, args in calls]
    refs = [getattr(workers[w], method).remote(*args) for w, args in calls]
    out = []
    for (w, args), ref in zip(calls, refs):
        for attempt in range(1, max_tries + 1):
            try:
                out.append(ray.get(ref))
                break
            except ray.exceptions.RayActorError as e:
                if on_lost is None or not actor_died(e) or attempt == max_tries:
                    raise
                on_lost(w)
                ref = getattr(workers[w], method).remote(*args)
    return out


def gather(refs: list, role: str, method: str, lost_hint: str = "") -> list:
    """``ray.get(refs)`` of one call on every member of a role that cannot lose a member (the learner
    ranks): the first death stops the wait at once with a one-line error, even while the others are
    blocked in a collective waiting for the dead one."""
    import ray

    from oorl.errors import TrainingError

    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        try:
            ray.get(ready[0])
        except ray.exceptions.RayActorError as e:
            if not actor_died(e):
                raise
            rank = refs.index(ready[0])
            raise TrainingError(f"{role} {rank} died during {method} ({type(e).__name__}: "
                                f"{str(e).splitlines()[0][:160]}); the run stops{lost_hint}") from None
    return ray.get(refs)


def share(obj):
    """``obj`` in Ray's object store when Ray runs (one put, read by an actor without a copy on
    its node), else ``obj`` itself."""
    import ray

    return ray.put(obj) if ray.is_initialized() else obj
