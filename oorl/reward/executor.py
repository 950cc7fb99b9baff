"""Judge one program: write its files to a fresh work directory, compile it in the jail (compile
limits), run it in the jail (run limits), and turn what happened into a ``RunResult``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from oorl.errors import UserError
from oorl.reward.jail import Jail
from oorl.reward.languages import Ctx, Language, get_language, strip_sentinel
from oorl.reward.sandbox import Program, RunResult, SandboxLimits, Verdict


def _safe_name(name: str) -> str:
    p = Path(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise UserError(f"program file name {name!r} must be a relative path inside the work directory")
    return name


class Executor:
    """Compiles and runs programs under one set of limits. Thread-safe; one per worker."""

    def __init__(self, limits: SandboxLimits | None = None):
        self.limits = limits or SandboxLimits()
        self.jail = Jail(self.limits)
        self._prepared: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def prepared(self, lang: Language) -> dict[str, str]:
        with self._lock:
            if lang.name not in self._prepared:
                self._prepared[lang.name] = lang.prepare(self.limits)
            return self._prepared[lang.name]

    def run(self, program: Program) -> RunResult:
        lang = get_language(program.language)
        t0 = time.monotonic()
        try:
            prep = self.prepared(lang)
        except UserError as e:
            return RunResult(Verdict.SANDBOX_ERROR, lang.name, detail=f"toolchain: {e}", wall_s=time.monotonic() - t0)
        lim = self.limits
        with self.jail.workspace(lang.binds(lim, prep)) as (job_dir, view):
            ctx = Ctx(view, lim, program, lim.compile_memory_mb, prep)
            for name, text in {**program.files, **lang.extra_files(ctx)}.items():
                f = job_dir / _safe_name(name)
                if "/" in name:
                    f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(text)
            self.jail.hand_over(job_dir)
            compile_step = None
            argv = lang.compile_argv(ctx)
            if argv is not None:
                compile_step = self.jail.run(
                    argv, view=view, job_dir=job_dir, writable_job=True, wall_s=lim.compile_wall_s,
                    cpu_s=lim.compile_cpu_s, memory_mb=lim.compile_memory_mb, env=lang.env(ctx, "compile"),
                    address_space_ok=lang.address_space_ok)
                failed = lang.classify_compile(compile_step)
                if failed is not None:
                    verdict, detail = failed
                    return RunResult(verdict, lang.name, exit_code=compile_step.exit_code,
                                     wall_s=time.monotonic() - t0, stdout=compile_step.stdout,
                                     stderr=compile_step.stderr, detail=detail, compile=compile_step)
            ctx = Ctx(view, lim, program, lim.memory_mb, prep)
            step = self.jail.run(
                lang.run_argv(ctx), view=view, job_dir=job_dir, writable_job=False, wall_s=lim.wall_s,
                cpu_s=lim.cpu_s, memory_mb=lim.memory_mb, env=lang.env(ctx, "run"),
                stdin=program.stdin.encode(), address_space_ok=lang.address_space_ok)
            sentinel = program.meta.get("sentinel")
            verdict, detail = lang.classify_run(step, sentinel)
            return RunResult(verdict, lang.name, exit_code=step.exit_code, wall_s=time.monotonic() - t0,
                             stdout=strip_sentinel(step.stdout, sentinel), stderr=step.stderr, detail=detail,
                             compile=compile_step, run=step)

    def close(self) -> None:
        """End the persistent jails (they also end with this process)."""
        self.jail.close()
