"""Run one command in the jail and collect a ``StepResult``.

The jail (``mode="bwrap"``) is bubblewrap with every namespace unshared (user, pid, net, ipc, uts,
cgroup; no network but a loopback), no further user namespaces, a new session, and this view:

    /usr, /bin, /lib...      the system, read-only          /etc   a whitelist, read-only
    /job                     the program's files: read-write while compiling, read-only when run
    /work, /tmp, /dev/shm    fresh size-capped tmpfs (the only writable places in a run; cwd, HOME)
    /proc, /dev              the jail's own; toolchains outside /usr and prepared caches under /opt/oorl
    everything else          read-only and empty

Nothing else of the host exists inside: no home directory, no project, no other run. The
environment is cleared. Between fork and exec the launcher joins a per-run cgroup (memory cap,
pids cap) and sets RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE and no core dumps; as root it first
becomes ``run_as_uid``, so nothing in the jail is root on the host. Where no pids cgroup exists,
``prlimit`` inside the jail sets RLIMIT_NPROC, which then counts per jail (each jail has its own
user namespace). A wall-clock deadline SIGKILLs bubblewrap, whose namespace init takes every
process of the jail with it; the cgroup is then emptied as well. stdout and stderr are read
concurrently, kept head+tail, and the run is killed past ``output_limit_kb``.

Without a writable cgroup the fallback guarantees: RLIMIT_AS for the languages that tolerate it
(C++, Rust, Python, PHP, Bash, Prolog), a watchdog over the jail's processes (proportional set
size, polled every ``watchdog_interval_s``: a fast allocator can overshoot by what it allocates in
one period), tmpfs sizes for files, RLIMIT_NPROC for processes.

Persistent jails (``zygote.py``, on by default where a cgroup caps memory and processes and a C
compiler built the helpers): the jail above is built once per judging thread and kept while
programs come; its pid 1 forks each command with the same view, limits and uid, in a user and IPC
namespace and a session of its own, and empties /work, /tmp and /dev/shm after it. Programs get
their work directory through ``Jail.workspace`` (the slot bound at /job of a leased persistent
jail, or a fresh directory); a command whose persistent jail fails for its own reasons runs again
one-shot, so the verdict never depends on it.

``mode="unsandboxed"`` runs the same command directly with the same rlimits, cgroup and deadline,
but with the host's file system and network, as the worker's own user: only for trusted code.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import tempfile
import threading
import warnings
import weakref
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from oorl.errors import UserError
from oorl.reward import jail_fs
from oorl.reward.cgroups import CgroupRoot
from oorl.reward.launcher import build_c, build_launcher
from oorl.reward.process import Spawn, supervise
from oorl.reward.sandbox import SandboxLimits, StepResult
from oorl.reward.zygote import ZYGOTE_IN_JAIL, Zygote, ZygoteError, ZygotePool

log = logging.getLogger(__name__)

JAIL_JOB, JAIL_WORK, JAIL_OPT = "/job", "/work", "/opt/oorl"
_warned_unsandboxed = False


@dataclass
class View:
    """Paths as the jailed command sees them; ``path()`` maps a host path bound into the jail."""

    job: str
    work: str
    binds: list[tuple[str, str]] = field(default_factory=list)  # (host, jail) read-only
    sources: dict[str, str] = field(default_factory=dict)  # host -> what is really mounted (a mirror)
    zygote: Zygote | None = field(default=None, repr=False, compare=False)  # the persistent jail job is bound in

    def path(self, host: str | Path) -> str:
        host = str(host)
        for src, dest in self.binds:
            if host == src or host.startswith(src.rstrip("/") + "/"):
                return dest + host[len(src):]
        return host


class Jail:
    """Runs commands under the configured limits. One per worker; thread-safe."""

    def __init__(self, limits: SandboxLimits):
        global _warned_unsandboxed
        self.limits = limits
        self.bwrap = shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
        if limits.mode == "bwrap" and not self.bwrap:
            raise UserError("bubblewrap (bwrap) is not installed, so model-written code cannot be jailed: "
                            "install it (`apt-get install bubblewrap`, see cluster/packages/apt.txt) or, for "
                            "trusted code only, set reward.sandbox.mode=unsandboxed")
        if limits.mode == "unsandboxed" and not _warned_unsandboxed:
            _warned_unsandboxed = True
            msg = ("reward.sandbox.mode=unsandboxed: model-written code runs directly on this machine with "
                   "its files and network. Use it only for trusted code.")
            warnings.warn(msg, stacklevel=2)
            log.warning("!" * 20 + " UNSANDBOXED " + "!" * 20 + " %s", msg)
        self.cgroups: CgroupRoot | None = None
        if limits.cgroup != "off":
            self.cgroups = CgroupRoot.detect()
            if self.cgroups is None and limits.cgroup == "require":
                raise UserError("reward.sandbox.cgroup=require but no cgroup can be created here "
                                "(read-only /sys/fs/cgroup or no delegated v2 subtree): run as root or in a "
                                "delegated cgroup, or set reward.sandbox.cgroup=auto to use the rlimit fallback")
        # as root, jailed commands start as an unprivileged host uid: RLIMIT_NPROC does not apply to root
        self.drop_uid = limits.run_as_uid if (os.geteuid() == 0 and limits.mode == "bwrap") else None
        cache = limits.cache_path()
        if self.drop_uid is not None:
            cache.mkdir(parents=True, exist_ok=True)
            jail_fs.open_to(cache, self.drop_uid)
            if not jail_fs.accessible(cache, self.drop_uid):
                raise UserError(f"reward.sandbox.cache_dir {cache} is not readable by run_as_uid {self.drop_uid}: "
                                "choose a directory outside a private home (default /var/cache/oorl/sandbox)")
            work = limits.work_path()
            work.mkdir(parents=True, exist_ok=True)
            if not jail_fs.accessible(work, self.drop_uid):
                raise UserError(f"reward.sandbox.work_root {work} cannot be reached by run_as_uid {self.drop_uid}: "
                                "use a directory every user can traverse (default: the system temp dir)")
        self.mirrors = jail_fs.Mirrors(cache, self.drop_uid)
        self.launcher = None
        if limits.launcher:
            cache.mkdir(parents=True, exist_ok=True)
            self.launcher = build_launcher(cache)
        self._system = self._system_args() if limits.mode == "bwrap" else []
        self.counts: Counter[str] = Counter()  # commands run: persistent, one_shot, persistent_failed
        self._counts_lock = threading.Lock()
        self.zygotes: ZygotePool | None = None
        self._zygote_exe = None
        if self._persistent_possible():
            self._zygote_exe = build_c(cache, "oorl-zygote", _zygote_source())
            if self._zygote_exe:
                self.zygotes = ZygotePool(self._make_zygote, self.cgroups.release, idle_s=limits.persistent_jail_idle_s)
                weakref.finalize(self, self.zygotes.close)

    def _has_pids_cap(self) -> bool:
        return self.cgroups is not None and (self.cgroups.version == 2 or self.cgroups.pids_parent is not None)

    def _persistent_possible(self) -> bool:
        """Persistent jails keep every guarantee only with bubblewrap, the C helpers and a cgroup that
        caps memory and processes per run."""
        return (self.limits.persistent_jail and self.limits.mode == "bwrap" and self.launcher is not None
                and self._has_pids_cap())

    def _system_args(self, persistent: bool = False) -> list[str]:
        """The part of the bubblewrap command line that is the same for every run. A persistent jail's
        pid 1 is the zygote, uid 0 with every capability in the jail's user namespace (it makes a user
        namespace per run, with uid ``jail_uid`` and none of them, see ``zygote.py``)."""
        if persistent:
            who = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--uid", "0",
                   "--gid", "0", "--cap-add", "ALL", "--as-pid-1"]
        else:
            who = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                   "--uid", str(self.limits.jail_uid), "--gid", str(self.limits.jail_uid)]
        a = [*who, "--hostname", "jail", "--ro-bind", "/usr", "/usr"]
        for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = Path("/") / d
            if p.is_symlink():
                a += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                a += ["--ro-bind", str(p), str(p)]
        lim = self.limits
        etc = jail_fs.etc_view(lim.cache_path(), lim.etc_allow, lim.jail_uid, JAIL_WORK)
        return a + ["--ro-bind", str(etc), "/etc", "--proc", "/proc", "--dev", "/dev"]

    def view(self, job_dir: Path, binds: list[tuple[str, str]] | None = None) -> View:
        if self.limits.mode == "unsandboxed":
            return View(job=str(job_dir), work=str(job_dir / ".work"))
        binds = list(binds or [])
        return View(job=JAIL_JOB, work=JAIL_WORK, binds=binds, sources={h: self.mirrors.source_for(h) for h, _ in binds})

    def hand_over(self, job_dir: Path) -> None:
        jail_fs.hand_over(job_dir, self.drop_uid)

    # -- persistent jails ---------------------------------------------------------------------------
    @contextmanager
    def workspace(self, binds: list[tuple[str, str]] | None = None, prefix: str = "oorl-job-") -> Iterator[tuple[Path, View]]:
        """A work directory for one program and the view its commands see: the slot of a leased
        persistent jail (its commands then run there), or a fresh directory (one-shot). Emptied or
        removed afterwards."""
        binds = list(binds or [])
        z = None
        if self.zygotes is not None:
            z = self.zygotes.lease(self._zygote_key(binds))
        if z is None:
            root = self.limits.work_path()
            root.mkdir(parents=True, exist_ok=True)
            job_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
            try:
                yield job_dir, self.view(job_dir, binds)
            finally:
                shutil.rmtree(job_dir, ignore_errors=True)
            return
        try:
            view = self.view(z.slot, binds)
            view.zygote = z
            yield z.slot, view
        finally:
            self.zygotes.give_back(z)

    def _zygote_key(self, binds: list[tuple[str, str]]) -> tuple:
        return tuple((self.mirrors.source_for(h), d) for h, d in binds)

    def _make_zygote(self, key: tuple) -> Zygote:
        lim = self.limits
        root = lim.work_path()
        root.mkdir(parents=True, exist_ok=True)
        slot = Path(tempfile.mkdtemp(prefix="oorl-jail-", dir=root))
        try:
            jail_fs.hand_over(slot, self.drop_uid)
            size = str(lim.tmpfs_mb << 20)
            cmd = [self.bwrap, *self._system_args(persistent=True)]
            for src, dest in key:
                cmd += ["--ro-bind", src, dest]
            cmd += ["--bind", str(slot), JAIL_JOB, "--ro-bind", self._zygote_exe, ZYGOTE_IN_JAIL]
            for d in (JAIL_WORK, "/tmp", "/dev/shm"):
                cmd += ["--size", size, "--tmpfs", d]
            cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/", "--clearenv", "--",
                    ZYGOTE_IN_JAIL, "{ctl_fd}", str(lim.jail_uid), JAIL_JOB, JAIL_WORK, "/tmp", "/dev/shm"]
            # the jail's processes live in the cgroup of its runs (reset per run, see zygote.py)
            cg = self.cgroups.acquire(lim.compile_memory_mb << 20, lim.max_processes + 8, self.drop_uid)
            launcher = [self.launcher, "-r", f"{resource.RLIMIT_CORE}:0:0"]
            for f in cg.procs_files:
                launcher += ["-c", str(f)]
            if self.drop_uid is not None:
                launcher += ["-u", str(self.drop_uid)]
            try:
                return Zygote(cmd, launcher, slot, key, cg)
            except BaseException:
                self.cgroups.release(cg)
                raise
        except (ZygoteError, OSError) as e:
            shutil.rmtree(slot, ignore_errors=True)
            raise ZygoteError(str(e)) from None

    def overhead_cpu_s(self) -> float:
        """CPU time of the persistent jails' own processes, which no run's cgroup counts."""
        return self.zygotes.cpu_seconds() if self.zygotes is not None else 0.0

    def close(self) -> None:
        if self.zygotes is not None:
            self.zygotes.close()

    def _count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] += 1

    def run(self, argv: list[str], *, view: View, job_dir: Path, writable_job: bool, wall_s: float,
            cpu_s: float, memory_mb: int, env: dict[str, str] | None = None, stdin: bytes = b"",
            side_channel: bool = False, address_space_ok: bool = False) -> StepResult:
        """Run ``argv`` (paths as ``view`` shows them; "{side_fd}" names the side channel's fd)."""
        lim = self.limits
        cpu = max(1, int(cpu_s + 0.999))
        rlimits = [(resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, (lim.max_file_mb << 20,) * 2),
                   (resource.RLIMIT_NOFILE, (lim.max_open_files,) * 2), (resource.RLIMIT_CORE, (0, 0))]
        if self.cgroups is None and address_space_ok:
            rlimits.append((resource.RLIMIT_AS, ((memory_mb + 64) << 20,) * 2))
        full_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": view.work, "TMPDIR": "/tmp",
                    "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **(env or {})}
        z = view.zygote
        if z is not None and lim.mode == "bwrap" and z.alive():
            res = z.run(argv, cwd=JAIL_JOB if writable_job else JAIL_WORK, env=full_env, writable_job=writable_job,
                        wall_s=wall_s, rlimits=rlimits, memory_bytes=memory_mb << 20, max_pids=lim.max_processes + 5,
                        stdin=stdin, side_channel=side_channel, side_owner=self.drop_uid,
                        output_keep=lim.output_keep_kb << 10, output_limit=lim.output_limit_kb << 10, cpu_limit_s=cpu)
            if res is not None:
                self._count("persistent")
                return res
            self._count("persistent_failed")  # the jail failed, not the program: one-shot below
        self._count("one_shot")
        if not self._has_pids_cap() and lim.mode == "bwrap":  # inside: counted per user namespace, i.e. per jail
            argv = [self.prlimit, f"--nproc={lim.max_processes}", "--", *argv]
        if lim.mode == "unsandboxed":
            work = Path(view.work)
            work.mkdir(exist_ok=True)
            full_env["TMPDIR"] = str(work)
            cmd, cwd = argv, str(job_dir if writable_job else work)
        else:
            size = str(lim.tmpfs_mb << 20)
            cmd = [self.bwrap, *self._system]
            for src, dest in view.binds:
                cmd += ["--ro-bind", view.sources.get(src, src), dest]
            cmd += ["--bind" if writable_job else "--ro-bind", str(job_dir), JAIL_JOB]
            for d in (JAIL_WORK, "/tmp", "/dev/shm"):
                cmd += ["--size", size, "--tmpfs", d]
            cmd += ["--remount-ro", "/dev", "--remount-ro", "/"]  # not recursive: the tmpfs above stay writable
            cmd += ["--chdir", JAIL_JOB if writable_job else JAIL_WORK, "--clearenv"]
            for k, v in full_env.items():
                cmd += ["--setenv", k, v]
            cmd += ["--", *argv]
            # bubblewrap's own processes carry their owner (the jailed program's environment is cleared)
            cwd, full_env = "/", {"PATH": "/usr/bin:/bin", "OORL_JAIL_OWNER": str(os.getpid())}
        cg = None
        if self.cgroups is not None:
            try:
                cg = self.cgroups.acquire(memory_mb << 20, lim.max_processes + 8, self.drop_uid)
            except OSError as e:
                return StepResult(exit_code=None, sandbox_error=f"cannot create a cgroup: {e}")
        procs = [str(f) for f in cg.procs_files] if cg is not None else []
        uid, preexec = self.drop_uid, _launcher(procs, rlimits)
        if self.launcher:  # the same in C: lets Python vfork
            pre = [self.launcher]
            for f in procs:
                pre += ["-c", f]
            for res, (soft, hard) in rlimits:
                pre += ["-r", f"{res}:{soft}:{hard}"]
            if self.drop_uid is not None:
                pre += ["-u", str(self.drop_uid)]
            pre += ["-m", "{rusage_fd}"]
            cmd, uid, preexec = [*pre, "--", *cmd], None, None
        spec = Spawn(argv=cmd, cwd=cwd, env=full_env, wall_s=wall_s, cpu_limit_s=cpu, memory_bytes=memory_mb << 20,
                     output_keep=lim.output_keep_kb << 10, output_limit=lim.output_limit_kb << 10, stdin=stdin,
                     side_channel=side_channel, uid=uid, side_owner=self.drop_uid, preexec=preexec,
                     watchdog_interval_s=None if cg is not None else lim.watchdog_interval_s,
                     watchdog_max_pids=4 * lim.max_processes, signalled_as_128_plus=lim.mode == "bwrap",
                     rusage_report=bool(self.launcher))
        try:
            res = supervise(spec, cg)
        finally:
            if cg is not None:
                self.cgroups.release(cg)
        if lim.mode == "bwrap" and res.exit_code in (1, 125, 126, 127) and _is_jail_failure(res.stderr):
            res.sandbox_error = res.stderr.strip().splitlines()[0] if res.stderr.strip() else "jail setup failed"
        return res


def _launcher(procs_files: list[str], rlimits: list[tuple[int, tuple[int, int]]]):
    """Runs in the forked child before exec (after the uid change): join the cgroup, set rlimits.
    Only system calls, no imports, no locks: safe although the worker has threads."""
    write, open_, close, setrlimit, getpid = os.write, os.open, os.close, resource.setrlimit, os.getpid

    def launch() -> None:
        pid = str(getpid()).encode()
        for path in procs_files:
            fd = open_(path, os.O_WRONLY)
            try:
                write(fd, pid)
            finally:
                close(fd)
        for res, lim in rlimits:
            setrlimit(res, lim)

    return launch


def _zygote_source() -> str:
    from oorl.reward.zygote_c import SOURCE

    return SOURCE


def _is_jail_failure(stderr: str) -> bool:
    first = stderr.lstrip().splitlines()[0] if stderr.strip() else ""
    return first.startswith(("bwrap: ", "prlimit: failed to execute", "oorl-launch: "))
