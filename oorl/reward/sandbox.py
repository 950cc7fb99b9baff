"""The sandbox's settings and results: ``SandboxLimits`` (the config section ``reward.sandbox``),
the typed ``Verdict``, one jailed command's ``StepResult`` and one judged program's ``RunResult``.

How a command is jailed lives in ``jail.py``; how a program is compiled, run and judged lives in
``executor.py`` (``run_program``); the languages are in ``languages/``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ETC = [
    "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone",
    "nsswitch.conf", "host.conf", "os-release", "debian_version", "mime.types",
    "java-17-openjdk", "java-21-openjdk", "mono", "php", "ssl", "ca-certificates", "swi-prolog",
]


class SandboxLimits(BaseModel):
    """Limits and jail settings for every program the reward workers run.

    Times are seconds, sizes are MiB unless the name says otherwise. ``wall_s``/``cpu_s`` bound
    the run of a program, ``compile_*`` its compilation (for compiled languages).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mode: Literal["bwrap", "unsandboxed"] = Field(
        "bwrap", description="bwrap: every run is jailed (fails closed without bubblewrap). "
        "unsandboxed: run model-written code directly on this machine (dangerous; warns).")
    wall_s: float = Field(10.0, gt=0, description="wall-clock limit of a run; the whole process tree is killed")
    cpu_s: float = Field(10.0, gt=0, description="CPU-time limit of a run (RLIMIT_CPU, per process)")
    compile_wall_s: float = Field(60.0, gt=0, description="wall-clock limit of a compilation")
    compile_cpu_s: float = Field(120.0, gt=0, description="CPU-time limit of a compilation")
    memory_mb: int = Field(1024, gt=16, description="memory cap of a run (cgroup; see cgroup)")
    compile_memory_mb: int = Field(2048, gt=16, description="memory cap of a compilation")
    max_processes: int = Field(128, gt=1, description="processes+threads of a run (pids cgroup and RLIMIT_NPROC)")
    max_file_mb: int = Field(64, gt=0, description="largest file a run may write (RLIMIT_FSIZE)")
    max_open_files: int = Field(512, gt=8, description="open file descriptors (RLIMIT_NOFILE)")
    tmpfs_mb: int = Field(128, gt=0, description="size of each writable tmpfs in a run (/work, /tmp, /dev/shm)")
    output_limit_kb: int = Field(8192, gt=0, description="stdout+stderr beyond this kills the run (runtime_error)")
    output_keep_kb: int = Field(64, gt=0, description="bytes of each stream kept in the result (head and tail)")
    cgroup: Literal["auto", "require", "off"] = Field(
        "auto", description="auto: use a cgroup where one can be created, else the rlimit+watchdog "
        "fallback; require: sandbox_error without one; off: always the fallback")
    watchdog_interval_s: float = Field(0.05, gt=0, description="RSS poll period of the no-cgroup fallback")
    prolog_inference_limit: int = Field(20_000_000, gt=0, description="inferences a Prolog query may use")
    prolog_stack_mb: int = Field(256, gt=0, description="SWI-Prolog stack_limit (at most half of memory_mb)")
    jail_uid: int = Field(65534, ge=0, description="uid/gid the program sees inside the jail")
    run_as_uid: int | None = Field(65534, ge=1, description="when the worker runs as root, jailed commands start as "
                                   "this host uid/gid instead (RLIMIT_NPROC then applies, root-owned files stay "
                                   "closed); None keeps root")
    work_root: str | None = Field(None, description="host directory for per-run work dirs (default: system temp)")
    cache_dir: str | None = Field(None, description="prepared toolchain files (Rust crates, Go packages); default "
                                  "$XDG_CACHE_HOME/oorl/sandbox, or /var/cache/oorl/sandbox as root")
    etc_allow: list[str] = Field(default_factory=lambda: list(DEFAULT_ETC),
                                 description="entries of /etc visible (read-only) in the jail")
    launcher: bool = Field(True, description="start jailed commands through a small C launcher built with the "
                           "system compiler (about 2 ms faster per command); False or no compiler: Python")
    persistent_jail: bool = Field(True, description="run commands in a persistent jail per judging thread that forks "
                                  "each run inside namespaces built once (needs the C helpers and a cgroup with "
                                  "memory and pids caps; otherwise every command gets a one-shot jail)")
    persistent_jail_idle_s: float = Field(0.5, gt=0, description="a persistent jail unused this long ends (the "
                                          "next program of its kind starts a new one)")
    threads: int | None = Field(None, ge=1, description="programs judged at once (default: this worker's CPU share)")
    cache_entries: int = Field(4096, ge=0, description="verdicts remembered across batches (LRU); 0 disables")
    rust_crates: dict[str, str] = Field(
        default_factory=lambda: {"rand": '"0.8"', "md5": '"0.7"', "regex": '{ version = "1", default-features = '
                                 'false, features = ["std", "unicode"] }'},
        description="crates prebuilt once (offline, from cargo_registry) that Rust programs may use")
    cargo_registry: str = Field("/usr/share/cargo/registry", description="a cargo directory source "
                                "(Debian's librust-*-dev packages) for rust_crates")
    go_packages: list[str] = Field(default_factory=lambda: ["github.com/stretchr/testify/assert"],
                                   description="non-standard Go packages prebuilt once (GOPATH mode)")
    go_path: str = Field("/usr/share/gocode", description="GOPATH holding go_packages (Debian's golang-*-dev)")

    def cache_path(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        if os.geteuid() == 0 and self.run_as_uid is not None:  # must be readable by run_as_uid
            return Path("/var/cache/oorl/sandbox")
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "oorl" / "sandbox"

    def work_path(self) -> Path:
        import tempfile

        return Path(self.work_root or tempfile.gettempdir())


class Verdict(str, Enum):
    PASSED = "passed"  # compiled, ran, exit status 0, no failure marker
    FAILED = "failed"  # ran to the end and a test said no (assertion, nonzero exit)
    COMPILE_ERROR = "compile_error"  # the compiler rejected the program (or ran out of its limits)
    RUNTIME_ERROR = "runtime_error"  # crashed: uncaught exception, signal, output or file-size limit
    TIMEOUT = "timeout"  # wall-clock or CPU-time limit
    MEMORY = "memory"  # out of memory: the cgroup OOM-killed it, or the runtime said so
    SANDBOX_ERROR = "sandbox_error"  # the jail itself could not run it (not the program's fault)


@dataclass
class StepResult:
    """One command (a compilation or a run) in the jail."""

    exit_code: int | None  # None when killed by a signal (then ``signal`` is set)
    signal: int | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0  # bytes produced, including what was not kept
    stderr_bytes: int = 0
    timed_out: bool = False  # wall-clock limit
    cpu_limited: bool = False  # RLIMIT_CPU
    oom: bool = False  # OOM-killed in its cgroup (or by the fallback watchdog)
    output_exceeded: bool = False
    peak_memory_mb: float = 0.0
    sandbox_error: str | None = None
    side_output: bytes = b""  # what the command wrote to the side channel (fd 3), if asked for
    leftover_processes: int = 0  # processes found alive after the run and killed (should be 0)


@dataclass
class RunResult:
    """A judged program: the verdict, with the run's exit status, output and timings."""

    status: Verdict
    language: str
    exit_code: int | None = None
    wall_s: float = 0.0  # compile + run
    stdout: str = ""
    stderr: str = ""
    detail: str = ""  # one line: why this verdict
    compile: StepResult | None = None
    run: StepResult | None = None
    cached: bool = False

    @property
    def passed(self) -> bool:
        return self.status is Verdict.PASSED

    def to_dict(self, with_steps: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "status": self.status.value, "language": self.language, "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 4), "stdout": self.stdout, "stderr": self.stderr,
            "detail": self.detail, "cached": self.cached,
        }
        if with_steps:
            for name in ("compile", "run"):
                step = getattr(self, name)
                if step is not None:
                    s = asdict(step)
                    s.pop("side_output", None)
                    d[name] = s
                else:
                    d[name] = None
        return d


@dataclass
class Program:
    """What is judged: a language and the files of one program (tests included), ready to build."""

    language: str
    files: dict[str, str]
    entry: str | None = None  # language-specific: Java main class, Go test functions...
    stdin: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.language, tuple(sorted(self.files.items())), self.entry, self.stdin)
