"""The rollout group: the vLLM engines of a run, and how a step's samples reach them.

Whole groups go to one engine (so the engine's prefix cache serves the group's shared prompt),
balanced by prompt and completion tokens; each engine gets its share in one object-store put, and
results come back into the samples in request order. Engines are Ray actors in training and may be
plain in-process objects (``oorl eval``). Generation, probe scoring and the colocated sleep/wake go
through here, and so do dead engines:

Ray restarts a dead engine (``placement.max_restarts``), which then holds the starting weights. An
engine's answers carry its incarnation (a new id at every start), so a restart is seen whether the
engine died during a call of this group (the call fails) or between two calls (a new id). Either way
``on_restart(engine)`` (the trainer's: reopen the weight transfer, sync the learner's weights, check
the probe) runs before the engine's share is asked again, with the same seeds: the step is redone as
it would have run. ``restarts`` counts them.
"""

from __future__ import annotations

from typing import Callable

from dataclasses import dataclass, field

from oorl.dispatch import balance, call_all, is_actor, share
from oorl.errors import TrainingError
from oorl.types import Sample, groups_of


@dataclass
class Pending:
    """A generation running on the engines (``trainer.async_steps``): its samples, calls and refs."""
    step: int
    samples: list[Sample]
    calls: list
    version: int = 0  # the weights the engines held when it started
    refs: list = field(default_factory=list)
    window: tuple[float, float] | None = None  # (start, end) Unix seconds, once collected
    time_s: float = 0.0
    done: bool = False


class RolloutGroup:
    def __init__(self, engines: list, on_restart: Callable[[int], None] | None = None, logprobs: bool = True) -> None:
        if not engines:
            raise ValueError("a rollout group needs at least one engine")
        self.engines = engines
        self.logprobs = logprobs  # the engines' logprob of each sampled token (Sample.logprobs); else empty
        self.on_restart = on_restart
        self.restarts = 0
        self.max_tries = 4
        self.restart_timeout_s = 900.0  # an engine's start: loading the model, vLLM's warm-up
        self.version = 0  # the weight version the engines hold (the trainer sets it after each sync)
        self.incarnations: list[str | None] = [None] * len(engines)
        if is_actor(engines[0]):
            self.incarnations = call_all(engines, "get_incarnation", [(e, ()) for e in range(len(engines))])

    def recover(self, e: int) -> None:
        """Engine ``e`` died or restarted: wait until Ray has it up again and, unless that incarnation
        was already brought back (e.g. by the weight sync that found it gone), count the restart and
        hand it to ``on_restart``."""
        import time

        import ray

        deadline = time.monotonic() + self.restart_timeout_s
        while True:  # calls fail fast (ActorUnavailableError) while Ray restarts the actor
            try:
                inc = ray.get(self.engines[e].get_incarnation.remote())
                break
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise TrainingError(f"rollout engine {e} did not come back within {self.restart_timeout_s:.0f} s "
                                        "of its death") from None
                time.sleep(1.0)
            except ray.exceptions.RayActorError as err:
                raise TrainingError(f"rollout engine {e} died and Ray did not restart it ({type(err).__name__}; "
                                    f"at most placement.max_restarts restarts per engine)") from None
        if inc == self.incarnations[e]:
            return
        self.restarts += 1
        self.incarnations[e] = inc
        if self.on_restart is None:
            raise TrainingError(f"rollout engine {e} restarted and nothing brings it to the run's weights")
        self.on_restart(e)

    def _call(self, method: str, calls: list[tuple[int, tuple]]) -> list:
        """Each ``(engine, args)`` call, concurrently, with restarts handled (see :meth:`_result`)."""
        if self.incarnations[0] is None:  # in-process engines
            return call_all(self.engines, method, calls)
        refs = [getattr(self.engines[e], method).remote(*args) for e, args in calls]
        return [self._result(e, method, args, ref)[0] for (e, args), ref in zip(calls, refs)]

    def _result(self, e: int, method: str, args: tuple, ref, version: int | None = None) -> tuple[dict, int]:
        """The answer of ``ref`` (``engines[e].method(*args)``, submitted when the engines held weight
        ``version``) and the version it was computed with. A call whose engine died, or that a
        restarted engine answered (a new incarnation), is asked again after the engine is brought
        back (:meth:`recover`), with the weights the engines hold then."""
        import ray

        from oorl.dispatch import actor_died

        version = self.version if version is None else version
        for _ in range(self.max_tries):
            try:
                out = ray.get(ref)
                if out.get("incarnation") in (None, self.incarnations[e]):
                    return out, version
                self.recover(e)
            except ray.exceptions.RayActorError as err:
                if not actor_died(err):
                    raise
                self.recover(e)
            version = self.version
            ref = getattr(self.engines[e], method).remote(*args)
        raise TrainingError(f"rollout engine {e}: {method} failed {self.max_tries} times (the engine keeps dying)")

    def submit(self, samples: list[Sample], max_new_tokens: int, temperature: float, top_p: float) -> list:
        """Split ``samples`` over the engines (whole groups, balanced) and return the calls to make:
        ``[(engine, args, part)]``."""
        groups = groups_of(samples)
        shares = balance([len(g) * (len(g[0].prompt_ids) + max_new_tokens) for g in groups], len(self.engines))
        calls = []
        for e, items in enumerate(shares):
            part = [s for gi in items for s in groups[gi]]
            for s in part:
                s.engine = e
            if part:
                payload = share({"prompts": [s.prompt_ids for s in part], "seeds": [s.seed for s in part],
                                 "logprobs": self.logprobs})
                calls.append((e, (payload, max_new_tokens, temperature, top_p), part))
        return calls

    def generate(self, samples: list[Sample], max_new_tokens: int, temperature: float, top_p: float) -> float:
        """Fill each sample's response (ids, text, finish reason, weight version, and the engine's
        token logprobs when the group asks for them) in place; returns the generation time (the
        slowest engine's)."""
        return self.finish(self.start(samples, max_new_tokens, temperature, top_p))

    def start(self, samples: list[Sample], max_new_tokens: int, temperature: float, top_p: float,
              step: int = 0) -> Pending:
        """Start generating ``samples`` (whole groups per engine, balanced) and return at once."""
        calls = self.submit(samples, max_new_tokens, temperature, top_p)
        p = Pending(step, samples, calls, version=self.version)
        if self.incarnations[0] is not None:
            p.refs = [self.engines[e].generate_batch.remote(*args) for e, args, _ in calls]
        return p

    def finish(self, p: Pending) -> float:
        """Wait for a started generation and fill its samples (once); the slowest engine's time."""
        if not p.done:
            outs = []
            for i, (e, args, part) in enumerate(p.calls):
                if p.refs:
                    out, version = self._result(e, "generate_batch", args, p.refs[i], p.version)
                else:
                    out, version = call_all(self.engines, "generate_batch", [(e, args)])[0], self.version
                outs.append(out)
                for s, row in zip(part, out["rows"]):
                    s.response_ids, s.logprobs, s.text = row["token_ids"], row["logprobs"], row["text"]
                    s.finish_reason, s.weight_version = row["finish_reason"], version
            p.done, p.time_s = True, max((o["time_s"] for o in outs), default=0.0)
            p.window = (min((o["start"] for o in outs), default=0.0),
                        max((o["start"] + o["time_s"] for o in outs), default=0.0))
        return p.time_s

    def prompt_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[list[list[float]]]:
        """Every engine's logprobs of ``seqs[i][starts[i]:]`` (the probe: all engines must agree)."""
        ref = share({"seqs": seqs, "starts": starts})
        return [o["rows"] for o in self._call("prompt_logprobs_batch", [(e, (ref,)) for e in range(len(self.engines))])]

    def sleep(self) -> None:
        call_all(self.engines, "sleep", [(e, ()) for e in range(len(self.engines))], on_lost=self.recover)

    def wake_up(self) -> None:
        call_all(self.engines, "wake_up", [(e, ()) for e in range(len(self.engines))], on_lost=self.recover)
