"""The judge: many programs at once, each judged once.

``Judge.judge(requests)`` judges a batch concurrently on ``threads`` threads (the worker's CPU
share: each thread waits on one jailed process), runs identical requests once (GRPO samples 8
answers per prompt and many are equal), remembers verdicts across batches in a bounded LRU cache,
and counts per language and verdict for the metrics (``stats()``).

``get_judge()`` is the process-wide judge (one per reward worker).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor

from oorl.reward.executor import Executor
from oorl.reward.harness import JudgeRequest, build_program
from oorl.reward.sandbox import RunResult, SandboxLimits, Verdict


def cpu_share() -> int:
    """CPUs this process may use: Ray's assignment inside an actor, else the affinity mask."""
    try:
        import ray

        if ray.is_initialized():
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(round(cpus)))
    except Exception:  # not in Ray, or Ray not installed
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Judge:
    def __init__(self, limits: SandboxLimits | None = None, threads: int | None = None):
        self.limits = limits or SandboxLimits()
        self.executor = Executor(self.limits)
        self.threads = threads or self.limits.threads or cpu_share()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="oorl-judge")
        self._cache: OrderedDict[JudgeRequest, RunResult] = OrderedDict()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._times: Counter[str] = Counter()

    # -- judging ----------------------------------------------------------------------------------
    def judge(self, requests: list[JudgeRequest]) -> list[RunResult]:
        t0 = time.monotonic()
        unique: dict[JudgeRequest, RunResult | None] = {}
        hits = 0
        with self._lock:
            for r in requests:
                if r in unique:
                    continue
                cached = self._cache.get(r)
                if cached is not None:
                    self._cache.move_to_end(r)
                    hits += 1
                unique[r] = cached
        todo = [r for r, res in unique.items() if res is None]
        todo_set = set(todo)
        for req, res in zip(todo, self._pool.map(self._run_one, todo)):
            unique[req] = res
        with self._lock:
            if self.limits.cache_entries > 0:
                for req in todo:
                    res = unique[req]
                    if res is not None and res.status is not Verdict.SANDBOX_ERROR:
                        self._cache[req] = res
                while len(self._cache) > self.limits.cache_entries:
                    self._cache.popitem(last=False)
        self.record_batch(len(requests), len(unique), len(todo), hits, time.monotonic() - t0)
        out = []
        for r in requests:
            res = unique[r]
            assert res is not None
            if r not in todo_set:
                res = _copy(res, cached=True)
            out.append(res)
        return out

    def record_batch(self, requests: int, unique: int, executed: int, cache_hits: int, seconds: float) -> None:
        """Count a batch (also for runs made outside :meth:`judge`, such as the Prolog answer checks)."""
        with self._lock:
            c = self._counts
            c["batches"] += 1
            c["requests"] += requests
            c["unique"] += unique
            c["executed"] += executed
            c["cache_hits"] += cache_hits
            c["dedup_saved"] += requests - unique
            self._times["batch_s"] += seconds

    def record_run(self, language: str, verdict: str, wall_s: float) -> None:
        """Count one executed program by language and verdict."""
        with self._lock:
            self._counts[f"{language}/{verdict}"] += 1
            self._counts[f"{language}/total"] += 1
            self._times[f"{language}/wall_s"] += wall_s

    def judge_one(self, request: JudgeRequest) -> RunResult:
        return self.judge([request])[0]

    def _run_one(self, req: JudgeRequest) -> RunResult:
        try:
            res = self.executor.run(build_program(req))
        except Exception as e:  # a bug or a broken toolchain must not kill the batch
            res = RunResult(Verdict.SANDBOX_ERROR, req.language, detail=f"{type(e).__name__}: {e}")
        self.record_run(res.language, res.status.value, res.wall_s)
        with self._lock:
            if res.compile is not None:
                self._times[f"{res.language}/compile_s"] += res.compile.wall_s
            if res.run is not None:
                self._times[f"{res.language}/run_s"] += res.run.wall_s
        return res

    # -- metrics ----------------------------------------------------------------------------------
    def stats(self, reset: bool = False) -> dict[str, float]:
        """Flat metrics: ``reward/judge/<language>/<verdict>`` counts, ``.../<language>/wall_s_mean``,
        compile/run seconds, and batch-level ``requests``, ``executed``, ``cache_hits``,
        ``dedup_saved``, ``dedup_rate`` (share of requests not executed)."""
        with self._lock:
            out: dict[str, float] = {f"reward/judge/{k}": float(v) for k, v in self._counts.items()}
            for k, v in self._times.items():
                out[f"reward/judge/{k}"] = float(v)
                lang, _, what = k.partition("/")
                if what == "wall_s" and self._counts.get(f"{lang}/total"):
                    out[f"reward/judge/{lang}/wall_s_mean"] = v / self._counts[f"{lang}/total"]
            req = self._counts.get("requests", 0)
            if req:
                out["reward/judge/dedup_rate"] = 1.0 - self._counts.get("executed", 0) / req
            out["reward/judge/cache_size"] = float(len(self._cache))
            out["reward/judge/threads"] = float(self.threads)
            if reset:
                self._counts.clear()
                self._times.clear()
            return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.executor.close()


def _copy(res: RunResult, cached: bool) -> RunResult:
    from dataclasses import replace

    return replace(res, cached=cached)


_judge: Judge | None = None
_judge_key: tuple | None = None
_configured: tuple[SandboxLimits | None, int | None] = (None, None)
_judges_lock = threading.Lock()


def configure_judge(limits: SandboxLimits | None = None, threads: int | None = None) -> None:
    """Set the limits and threads of the process-wide judge without starting it (it starts on first
    use, so a run whose rewards never execute code needs no bubblewrap)."""
    global _configured, _judge, _judge_key
    with _judges_lock:
        _configured = (limits, threads)
        # a judge made earlier with other limits must not outlive the new configuration
        if _judge is not None and _judge_key != ((limits or SandboxLimits()).model_dump_json(), threads):
            _judge.close()
            _judge, _judge_key = None, None


def limits_from_config(sandbox: "SandboxLimits | dict | None", unsafe_no_sandbox: bool = False) -> SandboxLimits:
    """``reward.sandbox`` (a SandboxLimits or its dict) as SandboxLimits; errors name the field."""
    from pydantic import ValidationError

    from oorl.errors import UserError

    if isinstance(sandbox, SandboxLimits):
        lim = sandbox
    else:
        try:
            lim = SandboxLimits(**(sandbox or {}))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ()))
            raise UserError(f"reward.sandbox.{where}: {err.get('msg')}") from None
    if unsafe_no_sandbox and lim.mode != "unsandboxed":
        lim = lim.model_copy(update={"mode": "unsandboxed"})
    return lim


def get_judge(limits: SandboxLimits | None = None, threads: int | None = None) -> Judge:
    """The process-wide judge. Without arguments: the current one (created with default limits on
    first use). With limits (or threads) different from the current judge's: a new judge with them
    replaces it, so the reward worker calls ``get_judge(config.reward.sandbox)`` once at start and
    reward functions calling ``get_judge()`` share it."""
    global _judge, _judge_key
    with _judges_lock:
        if _judge is not None and limits is None and threads is None:
            return _judge
        if _judge is None and limits is None and threads is None:
            limits, threads = _configured
        lim = limits or (_judge.limits if _judge is not None else SandboxLimits())
        key = (lim.model_dump_json(), threads)
        if _judge is None or key != _judge_key:
            old = _judge
            _judge, _judge_key = Judge(lim, threads), key
            if old is not None:
                old.close()
        return _judge


def current_judge() -> Judge | None:
    """The process-wide judge if one was made (for metrics: asking must not start one)."""
    return _judge
