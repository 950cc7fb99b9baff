"""Run one command in the jail and collect a ``StepResult``.

The jail (``mode="bwrap"``) is bubblewrap with every namespace unshared (user, pid, net, ipc, uts,
cgroup; no network but a loopback), no further user namespaces, a new session, and this view:

    /usr, /bin, /lib...      the system, read-only          /etc   a whitelist, read-only
    /job                     the program's files: read-write while compiling, read-only when run
    /work, /tmp, /dev/shm    fresh size-capped tmpfs (the only writable places in a run; cwd, HOME)
    /proc, /dev              the jail's own; toolchains outside /usr and prepared caches under /opt/oorl

Nothing else of the host exists inside: no home directory, no project, no other run. The
environment is cleared. Inside, ``prlimit`` sets RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE,
RLIMIT_NPROC (counted per jail, since each jail has its own user namespace) and no core dumps.
The command joins its own cgroup (memory cap, pids cap) before bubblewrap starts. A wall-clock
deadline SIGKILLs bubblewrap, whose namespace init takes every process of the jail with it; the
cgroup is then emptied as well. stdout and stderr are read concurrently, kept head+tail and the run
is killed past ``output_limit_kb``.

Without a writable cgroup the fallback guarantees: RLIMIT_AS for the languages that tolerate it
(C++, Rust, Python, PHP, Bash, Prolog), a watchdog over the jail's process tree (proportional set size) (polled every
``watchdog_interval_s``, so a fast allocator can overshoot by what it allocates in one period),
tmpfs sizes for files, RLIMIT_NPROC for processes.

``mode="unsandboxed"`` runs the same command directly with the same rlimits, cgroup and deadline,
but with the host's file system and network: only for trusted code.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from oorl.errors import UserError
from oorl.reward.cgroups import CgroupRoot, RunCgroup
from oorl.reward.sandbox import SandboxLimits, StepResult

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

    def path(self, host: str | Path) -> str:
        host = str(host)
        for src, dest in self.binds:
            if host == src or host.startswith(src.rstrip("/") + "/"):
                return dest + host[len(src):]
        return host


class _Capture:
    """Keeps the first and last ``keep`` bytes of a stream and counts the rest."""

    def __init__(self, keep: int):
        self.keep, self.head, self.tail, self.total = keep, bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.keep:
                del self.tail[: len(self.tail) - self.keep]

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        skipped = self.total - len(self.head) - len(self.tail)
        mid = f"\n[... {skipped} bytes not kept ...]\n" if skipped > 0 else ""
        return head + mid + self.tail.decode("utf-8", "replace")


def _tree_memory_bytes(root: int, max_pids: int = 4096) -> int:
    """Proportional set size (shared pages split between sharers) of ``root`` and its descendants,
    for the fallback watchdog; plain RSS where smaps_rollup is missing. Stops after ``max_pids``
    processes so that a poll stays short (RLIMIT_NPROC keeps real trees far smaller)."""
    total, todo, seen = 0, [root], set()
    while todo and len(seen) < max_pids:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except FileNotFoundError:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def _accessible(path: Path, uid: int) -> bool:
    """Whether ``uid`` (not root, no supplementary groups, gid == uid) can reach and read ``path``."""
    def ok(st, bits: int) -> bool:
        if st.st_uid == uid:
            return st.st_mode & (bits << 6) == bits << 6
        if st.st_gid == uid:
            return st.st_mode & (bits << 3) == bits << 3
        return st.st_mode & bits == bits
    try:
        path = Path(os.path.realpath(path))
        for d in reversed(path.parents):
            if not ok(d.stat(), 0o1):
                return False
        st = path.stat()
        return ok(st, 0o5 if path.is_dir() else 0o4)
    except OSError:
        return False


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
        self._mirrors: dict[str, str] = {}
        self._mirror_lock = threading.Lock()
        if self.drop_uid is not None:
            cache = limits.cache_path()
            cache.mkdir(parents=True, exist_ok=True)
            for d in (cache, cache.parent):  # made by us: open them to run_as_uid (read-only)
                if d.stat().st_uid == os.geteuid():
                    d.chmod(d.stat().st_mode | 0o755)
            if not _accessible(cache, self.drop_uid):
                raise UserError(f"reward.sandbox.cache_dir {cache} is not readable by run_as_uid {self.drop_uid}: "
                                "choose a directory outside a private home (default /var/cache/oorl/sandbox)")
            work = limits.work_path()
            work.mkdir(parents=True, exist_ok=True)
            if not _accessible(work, self.drop_uid):
                raise UserError(f"reward.sandbox.work_root {work} cannot be reached by run_as_uid {self.drop_uid}: "
                                "use a directory every user can traverse (default: the system temp dir)")
        self._system = self._system_args() if limits.mode == "bwrap" else []

    # -- the static part of the bubblewrap command line ------------------------------------------
    def _system_args(self) -> list[str]:
        a = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
             "--uid", str(self.limits.jail_uid), "--gid", str(self.limits.jail_uid), "--hostname", "jail",
             "--ro-bind", "/usr", "/usr"]
        for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = Path("/") / d
            if p.is_symlink():
                a += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                a += ["--ro-bind", str(p), str(p)]
        a += ["--ro-bind", str(self._etc_view()), "/etc"]
        return a + ["--proc", "/proc", "--dev", "/dev"]

    def _etc_view(self) -> Path:
        """A copy of the whitelisted /etc entries plus a passwd/group naming only the jail's user.

        One read-only bind is much cheaper for bubblewrap than one per entry. The copy is keyed by
        a fingerprint of the entries, so a change in /etc (a new package) makes a new one."""
        import hashlib

        uid = self.limits.jail_uid
        names = sorted({n for n in self.limits.etc_allow
                        if n and "/" not in n and n not in (".", "..", "passwd", "group")
                        and os.path.lexists(f"/etc/{n}")})
        h = hashlib.sha256(f"{uid}|{names}".encode())
        for n in names:
            for root, dirs, files in os.walk(f"/etc/{n}") if os.path.isdir(f"/etc/{n}") else [("/etc", [], [n])]:
                for f in sorted(dirs + files):
                    st = os.lstat(os.path.join(root, f))
                    h.update(f"{root}/{f}:{st.st_mtime_ns}:{st.st_size}".encode())
        dest = self.limits.cache_path() / f"etc-{h.hexdigest()[:16]}"
        if dest.is_dir():
            return dest
        tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for n in names:
            src = Path("/etc") / n
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, tmp / n, symlinks=True, ignore_dangling_symlinks=True)
            else:
                shutil.copy2(src, tmp / n, follow_symlinks=False)
        (tmp / "passwd").write_text(f"jail:x:{uid}:{uid}:jail:{JAIL_WORK}:/usr/sbin/nologin\n")
        (tmp / "group").write_text(f"jail:x:{uid}:\n")
        for p in [tmp, *tmp.rglob("*")]:  # readable whatever the umask, never writable
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o444)
        try:
            tmp.rename(dest)
        except OSError:  # another worker made it first
            shutil.rmtree(tmp, ignore_errors=True)
        return dest

    def view(self, job_dir: Path, binds: list[tuple[str, str]] | None = None) -> View:
        if self.limits.mode == "unsandboxed":
            return View(job=str(job_dir), work=str(job_dir / ".work"))
        binds = list(binds or [])
        return View(job=JAIL_JOB, work=JAIL_WORK, binds=binds, sources={h: self.accessible(h) for h, _ in binds})

    def accessible(self, host: str) -> str:
        """``host`` itself, or a hard-linked mirror of it under the cache dir when the unprivileged
        run_as_uid cannot reach it (a toolchain in /root, for instance)."""
        if self.drop_uid is None or not os.path.exists(host) or _accessible(Path(host), self.drop_uid):
            return host
        with self._mirror_lock:
            if host not in self._mirrors:
                self._mirrors[host] = self._mirror(host)
            return self._mirrors[host]

    def _mirror(self, host: str) -> str:
        import hashlib
        import subprocess

        st = os.stat(host)
        key = hashlib.sha256(f"{host}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()[:16]
        dest = self.limits.cache_path() / "mirrors" / key
        if dest.exists():
            return str(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{key}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        out = subprocess.run(["cp", "-al", host, str(tmp)], capture_output=True, text=True)
        if out.returncode != 0:  # another file system: copy
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(host, tmp, symlinks=True)
        for p in [tmp, *tmp.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o555)
        try:
            tmp.rename(dest)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(dest)

    def hand_over(self, job_dir: Path) -> None:
        """Give a freshly written work directory to the uid the jail runs as."""
        if self.drop_uid is None:
            return
        for root, dirs, files in os.walk(job_dir):
            os.chown(root, self.drop_uid, self.drop_uid)
            for f in files:
                os.chown(os.path.join(root, f), self.drop_uid, self.drop_uid)

    # -- running ---------------------------------------------------------------------------------
    def run(self, argv: list[str], *, view: View, job_dir: Path, writable_job: bool, wall_s: float,
            cpu_s: float, memory_mb: int, env: dict[str, str] | None = None, stdin: bytes = b"",
            side_channel: bool = False, address_space_ok: bool = False) -> StepResult:
        lim = self.limits
        cpu = max(1, int(cpu_s + 0.999))
        inner = [self.prlimit, f"--cpu={cpu}:{cpu + 1}", f"--fsize={lim.max_file_mb << 20}",
                 f"--nofile={lim.max_open_files}", f"--nproc={lim.max_processes}", "--core=0"]
        if self.cgroups is None and address_space_ok:
            inner.append(f"--as={(memory_mb + 64) << 20}")
        inner += ["--", *argv]
        full_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": view.work, "TMPDIR": "/tmp",
                    "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **(env or {})}
        if lim.mode == "unsandboxed":
            work = Path(view.work)
            work.mkdir(exist_ok=True)
            full_env["TMPDIR"] = str(work)
            cmd, cwd = inner, str(work if not writable_job else job_dir)
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
            cmd += ["--", *inner]
            cwd, full_env = "/", {"PATH": "/usr/bin:/bin"}

        cg: RunCgroup | None = None
        if self.cgroups is not None:
            try:
                cg = self.cgroups.create(memory_mb << 20, lim.max_processes + 8)
            except OSError as e:
                return StepResult(exit_code=None, sandbox_error=f"cannot create cgroup: {e}")
            if self.drop_uid is not None:
                for f in cg.procs_files:
                    os.chown(f, self.drop_uid, self.drop_uid)
            join = 'p=$$; n=$1; shift; while [ "$n" -gt 0 ]; do echo $p >"$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
            cmd = ["/bin/sh", "-c", join, "sh", str(len(cg.procs_files)), *map(str, cg.procs_files), *cmd]
        try:
            return self._spawn_and_wait(cmd, cwd, full_env, stdin, side_channel, wall_s, cpu, memory_mb, cg)
        finally:
            if cg is not None:
                cg.kill_all()
                cg.remove()

    def _spawn_and_wait(self, cmd, cwd, env, stdin, side_channel, wall_s, cpu_limit, memory_mb, cg) -> StepResult:
        import subprocess
        import tempfile

        lim = self.limits
        keep = lim.output_keep_kb << 10
        limit = lim.output_limit_kb << 10
        side_r = side_w = None
        pass_fds: tuple[int, ...] = ()
        if side_channel:
            side_r, side_w = os.pipe()
            if self.drop_uid is not None:  # so that the jail may reopen it as /proc/self/fd/N
                os.fchown(side_w, self.drop_uid, self.drop_uid)
            pass_fds = (side_w,)
            cmd = [a.replace("{side_fd}", str(side_w)) for a in cmd]
        stdin_f = tempfile.TemporaryFile() if stdin else None
        if stdin_f is not None:
            stdin_f.write(stdin)
            stdin_f.seek(0)
        start = time.monotonic()
        try:
            ids = {} if self.drop_uid is None else {"user": self.drop_uid, "group": self.drop_uid, "extra_groups": []}
            p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=stdin_f or subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                 pass_fds=pass_fds, close_fds=True, **ids)
        except OSError as e:
            for fd in (side_r, side_w):
                if fd is not None:
                    os.close(fd)
            return StepResult(exit_code=None, sandbox_error=f"cannot start {cmd[0]}: {e}")
        finally:
            if stdin_f is not None:
                stdin_f.close()
        if side_w is not None:
            os.close(side_w)
        caps = {p.stdout.fileno(): _Capture(keep), p.stderr.fileno(): _Capture(keep)}
        side = _Capture(1 << 20)
        sel = selectors.DefaultSelector()
        for fd in caps:
            sel.register(fd, selectors.EVENT_READ)
        if side_r is not None:
            sel.register(side_r, selectors.EVENT_READ)
        pidfd = os.pidfd_open(p.pid)
        sel.register(pidfd, selectors.EVENT_READ)
        open_fds = len(caps) + (side_r is not None)
        deadline = start + wall_s
        timed_out = output_exceeded = oom_watchdog = exited = False
        watchdog = cg is None
        next_watch = start + lim.watchdog_interval_s
        try:
            while open_fds or not exited:
                now = time.monotonic()
                if now >= deadline:
                    timed_out = True
                    break
                wait = deadline - now
                if watchdog:
                    wait = min(wait, max(0.0, next_watch - now))
                for key, _ in sel.select(timeout=wait):
                    fd = key.fd
                    if fd == pidfd:
                        exited = True
                        sel.unregister(pidfd)
                        continue
                    data = os.read(fd, 1 << 16)
                    if not data:
                        sel.unregister(fd)
                        open_fds -= 1
                        continue
                    if fd == side_r:
                        side.add(data)
                    else:
                        caps[fd].add(data)
                if sum(c.total for c in caps.values()) > limit:
                    output_exceeded = True
                    break
                if watchdog and time.monotonic() >= next_watch:
                    next_watch = time.monotonic() + lim.watchdog_interval_s
                    if _tree_memory_bytes(p.pid, 4 * lim.max_processes) > (memory_mb << 20):
                        oom_watchdog = True
                        break
        finally:
            if timed_out or output_exceeded or oom_watchdog or not exited:
                self._kill(p.pid, cg)
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = 0
            wall = time.monotonic() - start
            # drain what is left in the pipes (the writers are dead now)
            for fd, cap in caps.items():
                _drain(fd, cap, limit)
            if side_r is not None:
                _drain(side_r, side, 1 << 20)
                os.close(side_r)
            sel.close()
            os.close(pidfd)
            p.stdout.close()
            p.stderr.close()
        leftovers = 0
        if cg is not None and not cg.wait_empty(0.2):  # the jail's namespaces are torn down asynchronously
            leftovers = len(cg.pids())
        code = os.waitstatus_to_exitcode(status)
        sig = None
        if code < 0:
            sig, code = -code, None
        elif lim.mode == "bwrap" and code > 128 and code - 128 < signal.NSIG:
            sig, code = code - 128, None  # bubblewrap reports a signalled child as 128+signal
        cpu = ru.ru_utime + ru.ru_stime  # bubblewrap does not always reap the jail: prefer the cgroup's count
        if cg is not None:
            cpu = cg.cpu_seconds() or cpu
        cpu_limited = sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit * 0.95)
        oom = oom_watchdog or (cg is not None and cg.oom_kills() > 0)
        peak = cg.peak_bytes() if cg is not None else ru.ru_maxrss * 1024
        out_cap, err_cap = list(caps.values())
        res = StepResult(exit_code=code, signal=sig, wall_s=wall, cpu_s=cpu, stdout=out_cap.text(),
                         stderr=err_cap.text(), stdout_bytes=out_cap.total, stderr_bytes=err_cap.total,
                         timed_out=timed_out and not oom, cpu_limited=cpu_limited and not timed_out, oom=oom,
                         output_exceeded=output_exceeded, peak_memory_mb=peak / (1 << 20),
                         side_output=bytes(side.head), leftover_processes=leftovers)
        if lim.mode == "bwrap" and code in (1, 125, 126, 127) and _is_bwrap_failure(res.stderr, code):
            res.sandbox_error = res.stderr.strip().splitlines()[0] if res.stderr.strip() else "jail setup failed"
        return res

    def _kill(self, pid: int, cg: RunCgroup | None) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)  # bubblewrap; --die-with-parent takes the jail's init down
        except (ProcessLookupError, PermissionError):
            pass
        if cg is not None:
            cg.kill_all()


def _drain(fd: int, cap: _Capture, limit: int) -> None:
    os.set_blocking(fd, False)
    try:
        while cap.total <= limit:
            data = os.read(fd, 1 << 16)
            if not data:
                break
            cap.add(data)
    except (BlockingIOError, OSError):
        pass


def _is_bwrap_failure(stderr: str, code: int) -> bool:
    if code == 125:  # the cgroup join in the launcher failed
        return True
    first = stderr.lstrip().splitlines()[0] if stderr.strip() else ""
    return first.startswith("bwrap: ") or first.startswith("prlimit: failed to execute")
