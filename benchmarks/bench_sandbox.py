"""Throughput of the reward workers' jail, per language, against the same toolchain with no jail.

For each language, the same programs (HumanEval-X canonical solutions with their tests where the
dataset has the language, a small program with tests otherwise) are judged twice on ``--threads``
threads: by the judge (bubblewrap, persistent jails, cgroup, rlimits, unprivileged uid, output
capture) and by a bare runner that runs the identical compile and run command lines directly, each
in a session of its own as jailed commands are. The two alternate chunk by chunk (``--chunk``
programs) over ``--rounds`` rounds; the best round of each is kept (the machine is shared). CPU per
program: the bare commands' own (wait4) and this process's; the jail's cgroups (the persistent
jails' work for their runs included), the persistent jails' start-up and this process's. Then a
GRPO-like batch (8 samples per prompt, some identical) measures the share of runs saved by
deduplication. ``--one-shot`` measures a jail per command instead of persistent jails.

    python benchmarks/bench_sandbox.py [--languages python,cpp] [--n 24] [--rounds 3] [--chunk 8] [--one-shot]
                                       [--json out.json]

Last measured (2026-12-06 09:38-09:42, persistent jails, quiet: other processes 0.00-0.04 cores; all
twelve languages in benchmarks/README.md, every one under 15% in wall clock and CPU):

| language | bare prog/s | jail prog/s | overhead | CPU ms/prog bare | jail | CPU overhead |
|---|---|---|---|---|---|---|
| python | 73.34 | 73.27 | 0.1% | 26.0 | 26.5 | 1.8% |
| javascript | 86.67 | 89.29 | -2.9% | 20.8 | 20.4 | -1.9% |
| prolog | 76.46 | 78.28 | -2.3% | 24.8 | 24.8 | -0.0% |
| php | 163.18 | 157.58 | 3.6% | 11.5 | 11.7 | 1.6% |
| bash | 597.55 | 645.96 | -7.5% | 2.6 | 2.7 | 2.2% |
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from oorl.reward import humaneval_x as hx
from oorl.reward.doctor import HELLO
from oorl.reward.executor import Executor
from oorl.reward.harness import JudgeRequest, build_program
from oorl.reward.jail import View
from oorl.reward.judge import Judge
from oorl.reward.languages import Ctx, get_language
from oorl.reward.sandbox import Program, SandboxLimits

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "humaneval-x"
ALL = ["cpp", "go", "java", "javascript", "python", "rust", "typescript", "php", "bash", "csharp", "prolog", "llvm_ir"]


def run_measured(argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes, timeout: float) -> tuple[int, bytes, float]:
    """Run a command with its output captured (like ``subprocess.run``); its exit status, stdout and
    the CPU seconds of it and the descendants it waited for, from its own ``wait4`` (this process's
    RUSAGE_CHILDREN would also take in whatever else it reaps meanwhile, e.g. a persistent jail that
    ended)."""
    # a session of its own, as the jail gives every command: with scheduler autogroups (on by
    # default) a session is what shares the CPUs with other sessions, so under load the two sides
    # would otherwise not get the same share
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    if stdin:
        try:
            p.stdin.write(stdin)
        except BrokenPipeError:
            pass
        p.stdin.close()
    out = bytearray()
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        sel.register(p.stderr, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                break
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is p.stdout:
                    out += data
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    p.stdout.close()
    p.stderr.close()
    return p.returncode, bytes(out), ru.ru_utime + ru.ru_stime


class BareRunner:
    """The floor: the same files and command lines as the jail, run directly (no jail at all).
    ``cpu_s`` sums the CPU time of the commands it ran."""

    def __init__(self, limits: SandboxLimits, executor: Executor):
        self.limits, self.executor = limits, executor
        self.cpu_s = 0.0
        self._lock = threading.Lock()

    def run(self, program: Program) -> bool:
        lang = get_language(program.language)
        prep = self.executor.prepared(lang)
        job = Path(tempfile.mkdtemp(prefix="oorl-bare-"))
        try:
            (job / ".work").mkdir()
            view = View(job=str(job), work=str(job / ".work"))
            ctx = Ctx(view, self.limits, program, self.limits.compile_memory_mb, prep)
            for name, text in {**program.files, **lang.extra_files(ctx)}.items():
                (job / name).parent.mkdir(parents=True, exist_ok=True)
                (job / name).write_text(text)
            base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(job / ".work"), "TMPDIR": str(job / ".work"),
                    "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
            argv = lang.compile_argv(ctx)
            if argv is not None:
                code, _, cpu = run_measured(argv, job, {**base, **lang.env(ctx, "compile")}, b"",
                                            self.limits.compile_wall_s)
                self._count(cpu)
                if code != 0:
                    return False
            ctx = Ctx(view, self.limits, program, self.limits.memory_mb, prep)
            code, out, cpu = run_measured(lang.run_argv(ctx), job / ".work", {**base, **lang.env(ctx, "run")},
                                          program.stdin.encode(), self.limits.wall_s)
            self._count(cpu)
            return code == 0 and program.meta["sentinel"] in out.decode("utf-8", "replace")
        finally:
            shutil.rmtree(job, ignore_errors=True)


    def _count(self, cpu: float) -> None:
        with self._lock:
            self.cpu_s += cpu


def requests_for(lang: str, n: int) -> list[JudgeRequest]:
    """n distinct, passing programs of ``lang``."""
    short = {v: k for k, v in hx.FILES.items()}
    if lang in short and DATA.is_dir():
        probs = list(hx.load_problems(DATA, [lang])[lang].values())
        skip = {"JavaScript/112", "JavaScript/155", "Go/95", "Rust/50"}  # wrong in the dataset (cluster/README.md)
        probs = [p for p in probs if p["task_id"] not in skip]
        return [hx.request(p, lang, p["canonical_solution"]) for p in probs[:n]]
    prog, tests = HELLO[lang]
    comment = {"python": "#", "bash": "#", "prolog": "%", "llvm_ir": ";"}.get(lang, "//")
    if lang == "php":
        return [JudgeRequest.make(lang, prog.replace("<?php\n", f"<?php\n// variant {i}\n", 1), tests) for i in range(n)]
    return [JudgeRequest.make(lang, f"{comment} variant {i}\n{prog}", tests) for i in range(n)]


def bench_language(lang: str, n: int, rounds: int, threads: int, limits: SandboxLimits, chunk: int = 8) -> dict:
    reqs = requests_for(lang, n)
    judge = Judge(limits.model_copy(update={"cache_entries": 0}), threads=threads)
    bare = BareRunner(limits, judge.executor)
    pool = ThreadPoolExecutor(threads)
    judge.judge(reqs[:2 * threads])  # warm up: prepared toolchains, page cache, a jail per thread
    list(pool.map(bare.run, [build_program(r) for r in reqs[:threads]]))
    # Jail and bare alternate chunk by chunk, so that both meet the same load; a round's time is the
    # sum over its chunks, and the best round of each is kept.
    chunks = [reqs[k:k + chunk] for k in range(0, len(reqs), chunk)]
    jail_s, bare_s, jail_cpu, bare_cpu, ok_jail, ok_bare = [], [], [], [], 0, 0
    busy0, start = _busy_cpu_s(), time.perf_counter()
    for i in range(rounds):
        zyg0 = judge.executor.jail.overhead_cpu_s()
        wall = {"bare": 0.0, "jail": 0.0}
        cpu = {"bare": 0.0, "jail": 0.0}
        ok_bare = ok_jail = 0
        for k, part in enumerate(chunks):
            programs = [build_program(r) for r in part]
            for which in (("bare", "jail") if (i + k) % 2 == 0 else ("jail", "bare")):  # alternate the order
                own0, kids0, t0 = _cpu(), bare.cpu_s, time.perf_counter()
                if which == "bare":  # CPU: the toolchain's processes and this process
                    ok_bare += sum(pool.map(bare.run, programs))
                    wall["bare"] += time.perf_counter() - t0
                    cpu["bare"] += _cpu() - own0 + bare.cpu_s - kids0
                else:  # CPU: everything in the runs' cgroups (persistent jails' work for their runs
                    # included), the jails' own start-up (read outside the timed part), this process
                    results = judge.judge(part)
                    wall["jail"] += time.perf_counter() - t0
                    own1 = _cpu()
                    ok_jail += sum(r.passed for r in results)
                    in_jail = sum((r.compile.cpu_s if r.compile else 0) + (r.run.cpu_s if r.run else 0)
                                  for r in results)
                    cpu["jail"] += in_jail + own1 - own0
        bare_s.append(wall["bare"])
        jail_s.append(wall["jail"])
        bare_cpu.append(cpu["bare"])
        jail_cpu.append(cpu["jail"] + judge.executor.jail.overhead_cpu_s() - zyg0)
    others = (_busy_cpu_s() - busy0 - sum(bare_cpu) - sum(jail_cpu)) / (time.perf_counter() - start)
    counts = dict(judge.executor.jail.counts)
    pool.shutdown()
    judge.close()
    b, j, n = min(bare_s), min(jail_s), len(reqs)
    cb, cj = 1000 * min(bare_cpu) / n, 1000 * min(jail_cpu) / n
    return {"language": lang, "programs": n, "passed_bare": ok_bare, "passed_jail": ok_jail,
            "bare_per_s": n / b, "jail_per_s": n / j, "ratio": j / b, "overhead_pct": 100 * (j / b - 1),
            "bare_cpu_ms": cb, "jail_cpu_ms": cj, "cpu_overhead_pct": 100 * (cj / cb - 1),
            "other_cores": max(0.0, others), "jail_commands": counts}


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores), from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    """CPU seconds of this process (all its threads)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def bench_dedup(threads: int, limits: SandboxLimits, prompts: int = 16, group: int = 8, seed: int = 0) -> dict:
    """A GRPO-like batch: per prompt 8 samples drawn from the right answer and 3 wrong ones."""
    rng = random.Random(seed)
    probs = list(hx.load_problems(DATA, ["python"])["python"].values()) if DATA.is_dir() else []
    batch = []
    for i in range(prompts):
        if probs:
            p = probs[i]
            answers = [p["canonical_solution"]] + [probs[(i + k) % len(probs)]["canonical_solution"] for k in (1, 2, 3)]
            make = lambda a, p=p: hx.request(p, "python", a)  # noqa: E731
        else:
            prog, tests = HELLO["python"]
            answers = [prog.replace("+", op) for op in "+-*%"]
            make = lambda a, t=tests, i=i: JudgeRequest.make("python", f"# prompt {i}\n{a}", t)  # noqa: E731
        weights = [0.55, 0.2, 0.15, 0.1]
        batch += [make(rng.choices(answers, weights)[0]) for _ in range(group)]
    judge = Judge(limits.model_copy(update={"cache_entries": 0}), threads=threads)
    t0 = time.perf_counter()
    judge.judge(batch)
    wall = time.perf_counter() - t0
    st = judge.stats()
    judge.close()
    return {"samples": len(batch), "executed": int(st["reward/judge/executed"]),
            "saved_pct": 100 * st["reward/judge/dedup_rate"], "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--languages", default=",".join(ALL))
    ap.add_argument("--n", type=int, default=24, help="programs per language")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=8, help="programs judged in one go before the other side's turn")
    ap.add_argument("--one-shot", action="store_true", help="a jail per command (persistent_jail=False), as before")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    limits = SandboxLimits(wall_s=20, cpu_s=20, persistent_jail=not args.one_shot)
    rows = []
    print(f"{'language':11s} {'n':>3s} {'bare prog/s':>11s} {'jail prog/s':>11s} {'jail/bare':>9s} {'overhead':>8s}"
          f" {'CPU ms/prog bare':>16s} {'jail':>7s} {'CPU overhead':>12s} {'others':>6s}")
    for lang in [get_language(x).name for x in args.languages.split(",") if x.strip()]:
        r = bench_language(lang, args.n, args.rounds, args.threads, limits, max(1, args.chunk))
        rows.append(r)
        print(f"{lang:11s} {r['programs']:3d} {r['bare_per_s']:11.2f} {r['jail_per_s']:11.2f} {r['ratio']:9.3f} "
              f"{r['overhead_pct']:7.1f}% {r['bare_cpu_ms']:16.1f} {r['jail_cpu_ms']:7.1f} {r['cpu_overhead_pct']:11.1f}%"
              f" {r['other_cores']:6.2f}" + ("" if r["passed_jail"] == r["programs"] == r["passed_bare"] else
                                              f"  (passed: bare {r['passed_bare']}, jail {r['passed_jail']})"),
              flush=True)
    d = bench_dedup(args.threads, limits)
    print(f"GRPO batch: {d['samples']} samples (8 per prompt), {d['executed']} executed, "
          f"{d['saved_pct']:.1f}% of runs saved by deduplication, {d['wall_s']:.2f}s")
    if args.json:
        args.json.write_text(json.dumps({"languages": rows, "dedup": d, "threads": args.threads}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
