"""Persistent jails: one bubblewrap jail kept alive per judging thread (and set of toolchain binds),
whose pid 1 (``oorl-zygote``, C, in ``zygote_c.py``) forks each run inside the namespaces and
mounts bubblewrap built once.

Why: building a jail (user, pid, net, ipc, uts, cgroup and mount namespaces, a dozen mounts),
tearing it down, and moving its first process into the run's cgroup (an RCU grace period, ~10 ms,
unless another process moved just before) cost more than a small Python, Bash or PHP program
itself. A persistent jail pays that once; a run costs a fork, a user and an IPC namespace, and
checking three tmpfs.

What a run gets (the same as a one-shot jail, see ``jail.py``):

- the same file system view: /usr, /etc... read-only; /job the program's files, read-write while
  compiling and read-only when run (the zygote flips the bind mount between runs, and only it can:
  runs have no capability); /work, /tmp, /dev/shm size-capped tmpfs, emptied by the zygote after
  every run, their roots' mode, extended attributes and flags put back (runs never overlap in one
  jail), so no run sees another's files; the host empties the /job directory between programs;
- its own user namespace (uid ``jail_uid``, mapped to the jail's, itself the host's ``run_as_uid``
  when the worker is root), in which it may create no further user namespace, and every capability
  dropped (bounding and ambient sets, securebits locked, no_new_privs): it can neither remount
  anything nor change the jail;
- its own IPC namespace (no SysV or POSIX IPC object outlives it) and session keyring; its user
  namespace gives it its own user keyring;
- its own session and rlimits; the jail's cgroup, whose memory and pids caps are set for each
  command (the jail's three processes, a few MB, count in it as bubblewrap does in a one-shot jail);
- no network but a loopback, the same host name, nothing of the host's environment.

Isolation from the zygote: the zygote is the jail's pid 1, so signals from inside the jail that it
has no handler for (all: it installs none) are discarded by the kernel, SIGKILL included; it is
not dumpable and holds capabilities the runs lack, so it cannot be ptraced or read through /proc;
runs do not inherit its control socket. When the command exits the zygote kills every other
process of the jail (``kill(-1)`` from pid 1: no fork escapes it) and reaps them before it answers,
so background processes die with their run as in a one-shot jail.

The host keeps the guarantees that do not depend on the zygote: the wall-clock deadline and the
output cap kill every process of the cgroup but the jail's own; leftovers are counted there; a
zygote that does not answer in time, dies, or reports that something survived or could not be
emptied is discarded (a new one starts on the next lease), and a command it failed for
infrastructure reasons runs again one-shot, so a broken zygote never decides a verdict. A jail
unused for ``persistent_jail_idle_s`` ends, so none waits between batches.

Used only where every guarantee holds: bubblewrap mode, the C helpers built (a C compiler), and a
cgroup with memory and pids caps; otherwise, and for the first program of a kind (one program alone
is cheaper one-shot), the jail runs commands one-shot. ``SandboxLimits.persistent_jail=False``
turns it off.
"""

from __future__ import annotations

import array
import errno as _errno
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from oorl.reward.cgroups import RunCgroup
from oorl.reward.process import Capture, _drain
from oorl.reward.sandbox import StepResult

log = logging.getLogger(__name__)

ZYGOTE_IN_JAIL = "/opt/oorl/.oorl-zygote"
STAGES = {1: "setsid", 2: "join the run's cgroup", 3: "make the run's namespaces", 4: "map the run's uid",
          5: "forbid user namespaces", 6: "set rlimits", 7: "set up stdio", 8: "enter the working directory",
          9: "drop capabilities", 10: "execute", 11: "remount /job", 12: "fork"}


class ZygoteError(RuntimeError):
    pass


class Zygote:
    """One persistent jail. Not thread-safe: one thread leases it at a time (``Jail.workspace``)."""

    def __init__(self, bwrap_cmd: list[str], launcher: list[str], slot: Path, key: tuple, cg: RunCgroup,
                 start_timeout_s: float = 20.0):
        self.key, self.slot, self.cg = key, slot, cg
        self._slot_flags = _inode_flags(slot)
        self.slot_written = False  # a command could write in /job (runs see it read-only)
        self._cpu_start = cg._cpu_total() or 0.0  # the jail's own CPU time: all of the cgroup's but the runs'
        self._cpu_runs = 0.0
        self._cpu_final: float | None = None
        self._caps: tuple[int, int] | None = None  # the cgroup's caps as the last run left them
        self.broken = False
        self.runs = 0
        self.pid: int | None = None
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = parent
        cmd = [*launcher, "--", *[a.replace("{ctl_fd}", str(child.fileno())) for a in bwrap_cmd]]
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(cmd, cwd="/", env={"PATH": "/usr/bin:/bin", "OORL_ZYGOTE_OWNER": str(os.getpid())},
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                                         pass_fds=(child.fileno(),), start_new_session=True, close_fds=True)
        except OSError as e:
            parent.close()
            raise ZygoteError(f"cannot start a persistent jail: {e}") from None
        finally:
            child.close()
        ready = self._recv(start_timeout_s)
        if ready != "READY":
            self._stderr.seek(0)
            err = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            self.close()
            raise ZygoteError("persistent jail did not start: " + (err[0] if err else repr(ready)))
        # the jail's own processes (launcher, bubblewrap, zygote) live in the cgroup of its runs, so
        # that a run is born there: moving a process between cgroups waits for an RCU grace period
        # (~10 ms here) whenever no other move happened in the last one
        self.infra = set(cg.pids())
        self.pid = self._find_zygote_pid()
        if self.pid is None or self.pid not in self.infra or len(self.infra) > 3:
            self.close()
            raise ZygoteError(f"persistent jail: unexpected processes in its cgroup {sorted(self.infra)}")
        self.idle_since = time.monotonic()

    # -- the process ------------------------------------------------------------------------------
    def _recv(self, timeout_s: float) -> str | None:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        if not poller.poll(max(0.0, timeout_s) * 1000):
            return None
        try:
            data = self.sock.recv(4096)
        except OSError:
            return None
        return data.decode("ascii", "replace") if data else None

    def _find_zygote_pid(self) -> int | None:
        """Host pid of the zygote (launcher -> bwrap -> zygote), for its CPU time."""
        pid = self.proc.pid
        for _ in range(2):
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                return None
            if not kids:
                return None
            pid = int(kids[0])
        return pid

    def cpu_seconds(self) -> float:
        """CPU time of the jail itself outside its runs (building it; its runs' share, forking and
        cleaning up after them, is counted in their ``cpu_s``)."""
        if self._cpu_final is not None:
            return self._cpu_final
        total = self.cg._cpu_total()
        return max(0.0, (total or 0.0) - self._cpu_start - self._cpu_runs) if total is not None else 0.0

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def close(self) -> None:
        """End the jail: the zygote exits when its control socket closes (and takes its jail with it)."""
        if self._cpu_final is None:
            self._cpu_final = self.cpu_seconds()
        self.broken = True
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self._stderr.close()

    # -- the slot: the host directory bound at /job -------------------------------------------------
    def clear_slot(self) -> bool:
        """Remove the previous program's files and, after a command that could write in /job (a
        compilation), put back what it could change on the directory itself: mode, extended
        attributes and ACLs (a default ACL would decide the next program's file modes), inode
        flags. False when something could not be put back: the jail is then discarded."""
        ok = True
        with os.scandir(self.slot) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, onerror=_force)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    ok = False
        if self.slot_written:
            try:
                os.chmod(self.slot, 0o700)
                for name in os.listxattr(self.slot):
                    os.removexattr(self.slot, name)
                ok = ok and not os.listxattr(self.slot) and _inode_flags(self.slot) == self._slot_flags
            except OSError:
                ok = False
            self.slot_written = not ok
        with os.scandir(self.slot) as left:
            return ok and next(left, None) is None

    # -- one command ------------------------------------------------------------------------------
    def kill_run(self, timeout_s: float = 2.0) -> bool:
        """SIGKILL every process of the cgroup but the jail's own, until none is left (the pids cap
        bounds what a fork bomb can add meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while True:
            pids = [p for p in self.cg.pids() if p not in self.infra]  # every hierarchy: the thorough kill
            if not pids:
                return True
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def run_processes(self, timeout_s: float = 0.0) -> list[int]:
        """The processes of the cgroup that are not the jail's own, waiting up to ``timeout_s`` for
        there to be none."""
        deadline = time.monotonic() + timeout_s
        while True:
            pids = [p for p in self.cg.member_pids() if p not in self.infra]
            if not pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.0005)

    def run(self, argv: list[str], *, cwd: str, env: dict[str, str], writable_job: bool, wall_s: float,
            rlimits: list[tuple[int, tuple[int, int]]], memory_bytes: int, max_pids: int, stdin: bytes,
            side_channel: bool, side_owner: int | None, output_keep: int, output_limit: int,
            cpu_limit_s: int) -> StepResult | None:
        """Run one command in this jail. None when the jail failed (not the program): the caller
        then runs the command one-shot."""
        cg = self.cg
        caps = (memory_bytes, max_pids + len(self.infra))
        if caps != self._caps:  # new caps (a compilation's, then a run's): set them, count from now
            self._caps = None
            if not cg.reset(*caps, strict_peak=False) or self.run_processes():
                self.broken = True  # e.g. the cap cannot be lowered under what the jail holds
                return None
            self._caps = caps
        elif not cg.rearm():  # the same caps: the counters were taken when the last run ended
            self.broken = True
            return None
        self.slot_written |= writable_job
        toks = ["RUN", "0" if writable_job else "1", cwd, "0", "1" if side_channel else "0",
                str(len(rlimits)), *[f"{r}:{s}:{h}" for r, (s, h) in rlimits],
                str(len(argv)), *[a.replace("{side_fd}", "3") for a in argv],
                str(len(env)), *[f"{k}={v}" for k, v in env.items()]]
        if any("\0" in t for t in toks):
            return StepResult(exit_code=None, sandbox_error="a command argument or environment value contains a NUL byte")
        data = b"\0".join(t.encode() for t in toks) + b"\0"
        if len(data) > 200_000:
            return None  # longer than a message: one-shot
        own: list[int] = []  # descriptors this side must close
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        own += [out_w, err_w]
        side_r = None
        try:
            if stdin:
                with tempfile.TemporaryFile() as f:
                    f.write(stdin)
                    f.seek(0)
                    in_fd = os.dup(f.fileno())
                own.append(in_fd)
            else:
                in_fd = _devnull()  # the zygote receives its own descriptor of it
            fds = [in_fd, out_w, err_w]
            if side_channel:
                side_r, side_w = os.pipe()
                own.append(side_w)
                if side_owner is not None:  # so that the run may reopen it as /proc/self/fd/3
                    os.fchown(side_w, side_owner, side_owner)
                fds.append(side_w)
            start = time.monotonic()
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        except OSError:
            for fd in own + [out_r, err_r] + ([side_r] if side_r is not None else []):
                os.close(fd)
            self.broken = True
            return None
        for fd in own:
            os.close(fd)
        self.runs += 1
        out, err, side = Capture(output_keep), Capture(output_keep), Capture(1 << 20)
        captures = {out_r: out, err_r: err}
        if side_r is not None:
            captures[side_r] = side
        open_fds = set(captures)
        deadline = start + wall_s
        reply: str | None = None
        timed_out = output_exceeded = killed = False
        sock = self.sock.fileno()
        poller = select.poll()  # not select(): a Ray worker's descriptors may pass FD_SETSIZE
        for fd in (*open_fds, sock):
            poller.register(fd, select.POLLIN)
        try:
            while reply is None or open_fds:
                now = time.monotonic()
                if not killed and now >= deadline:
                    timed_out = killed = True
                    self.kill_run(0.5)
                    deadline = now + 2.0  # for the zygote to report the end of the run
                elif killed and now >= deadline:
                    break  # the zygote did not answer: discarded below
                ready = [fd for fd, _ in poller.poll(max(0.0, deadline - now) * 1000 + 1)]
                for fd in ready:
                    if fd == sock:
                        poller.unregister(sock)
                        try:
                            msg = self.sock.recv(4096)
                        except OSError:
                            msg = b""
                        if not msg:  # the zygote died
                            self.broken = True
                            reply = ""
                        else:
                            reply = msg.decode("ascii", "replace")
                        continue
                    data = os.read(fd, 1 << 16)
                    if data:
                        captures[fd].add(data)
                    else:
                        open_fds.discard(fd)
                        poller.unregister(fd)
                if reply == "" and open_fds:  # no zygote: nothing else will close the pipes
                    self.kill_run(0.5)
                    break
                if not killed and out.total + err.total > output_limit:
                    output_exceeded = killed = True
                    self.kill_run(0.5)
                    deadline = time.monotonic() + 2.0
        finally:
            for fd, cap in captures.items():
                _drain(fd, cap, output_limit)
                os.close(fd)
        parts = (reply or "").split()
        if len(parts) != 5 or parts[0] != "EXIT":
            self.broken = True
            self.kill_run()
            if not killed:
                return None  # the jail failed, not the program: run it one-shot
            parts = ["EXIT", str(signal.SIGKILL), "0", "0", "0"]
        status, stage, err_no, clean = (int(x) for x in parts[1:])
        if not clean:
            self.broken = True  # something of the run survived or could not be removed
        # the zygote answers once it has reaped everything of the run: nothing should be left
        left = self.run_processes(2.0)
        leftovers = len(left)
        if left:
            self.broken = True
            self.kill_run()
        wall = time.monotonic() - start
        sandbox_error = None
        if stage:
            what = STAGES.get(stage, f"stage {stage}")
            detail = os.strerror(err_no) if err_no else "failed"
            sandbox_error = (f"oorl-zygote: cannot execute {argv[0]}: {detail}" if stage == 10
                             else f"oorl-zygote: cannot {what}: {detail}")
            if stage != 10:
                self.broken = True
                return None  # the jail's setup failed: one-shot
        code: int | None = os.waitstatus_to_exitcode(status)
        sig = None
        if code is not None and code < 0:
            sig, code = -code, None
        elif code is not None and 128 < code < 128 + signal.NSIG:
            sig, code = code - 128, None  # as the one-shot jail reads it (bubblewrap reports a signal N as 128+N)
        cpu, oom_kills = cg.end_of_run()  # and the next run with the same caps counts from here
        self._cpu_runs += cpu
        cpu_limited = sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit_s * 0.95)
        oom = oom_kills > 0
        peak = cg.peak_bytes()
        if self.broken:
            self._caps = None
        return StepResult(exit_code=code, signal=sig, wall_s=wall, cpu_s=cpu, stdout=out.text(), stderr=err.text(),
                          stdout_bytes=out.total, stderr_bytes=err.total, timed_out=timed_out and not oom,
                          cpu_limited=cpu_limited and not timed_out, oom=oom, output_exceeded=output_exceeded,
                          peak_memory_mb=peak / (1 << 20), sandbox_error=sandbox_error,
                          side_output=bytes(side.head), leftover_processes=leftovers)


_DEVNULL: list[int] = []


def _devnull() -> int:
    """One read-only /dev/null for the stdin of every run without input (opened once per process)."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    return _DEVNULL[0]


def _inode_flags(path: Path) -> int | None:
    """The directory's inode flags (FS_IOC_GETFLAGS: casefold, encryption...), None if unsupported."""
    import fcntl
    import struct

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        buf = fcntl.ioctl(fd, 0x80086601, struct.pack("l", 0))  # FS_IOC_GETFLAGS
        return struct.unpack("l", buf)[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def _force(func, path, exc_info) -> None:
    """rmtree's error hook: a directory the program made unreadable is made ours again."""
    parent = os.path.dirname(path)
    try:
        os.chmod(parent, 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)
    except OSError as e:
        if e.errno != _errno.ENOENT:
            raise


class ZygotePool:
    """The idle persistent jails of one ``Jail``, by key (the toolchain binds); a thread leases one,
    runs a program's commands in it, and gives it back. A jail idle for ``idle_s`` ends: between
    batches (a training step's generation) no jail waits, and none outlives the work it was for."""

    def __init__(self, make, release, idle_s: float = 0.5, keep_per_key: int = 8):
        self._make = make  # key -> Zygote (raises ZygoteError)
        self._release = release  # gives a retired jail's cgroup back
        self._free: dict[tuple, list[Zygote]] = {}
        self._all: set[Zygote] = set()
        self._seen: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._failures = 0
        self._cpu_retired = 0.0
        self._reaper: threading.Thread | None = None
        self.idle_s = idle_s
        self.keep_per_key = keep_per_key
        self.closed = False

    def lease(self, key: tuple) -> Zygote | None:
        with self._lock:
            if self.closed or self._failures >= 3:
                return None
            self._seen[key] = self._seen.get(key, 0) + 1
            if self._seen[key] < 2:
                return None  # the first program of a kind runs one-shot: a lone run is cheaper so
            free = self._free.get(key, [])
            while free:
                z = free.pop()
                if z.alive():
                    return z
                self._retire(z)
        try:
            z = self._make(key)
        except ZygoteError as e:
            with self._lock:
                self._failures += 1
                if self._failures == 3:
                    log.warning("persistent jails failed to start 3 times; running every command one-shot: %s", e)
            return None
        with self._lock:
            self._failures = 0
            if self.closed:
                self._retire(z)
                return None
            self._all.add(z)
        return z

    def give_back(self, z: Zygote) -> None:
        keep = z.alive() and z.clear_slot()
        with self._lock:
            free = self._free.setdefault(z.key, [])
            if keep and not self.closed and len(free) < self.keep_per_key:
                z.idle_since = time.monotonic()
                free.append(z)
                if self._reaper is None or not self._reaper.is_alive():
                    self._reaper = threading.Thread(target=self._reap, name="oorl-jail-reaper", daemon=True)
                    self._reaper.start()
                return
            self._retire(z)

    def _reap(self) -> None:
        """End the jails idle for ``idle_s``; the thread ends when none is left idle."""
        while True:
            with self._lock:
                if self.closed or not any(self._free.values()):
                    self._reaper = None
                    return
                now = time.monotonic()
                oldest = min(z.idle_since for zs in self._free.values() for z in zs)
                if now - oldest < self.idle_s:
                    self._wake.wait(self.idle_s - (now - oldest) + 0.01)
                    continue
                stale = [z for zs in self._free.values() for z in zs if now - z.idle_since >= self.idle_s]
                for zs in self._free.values():
                    zs[:] = [z for z in zs if z not in stale]
                for z in stale:
                    z.sock.close()  # they all start ending at once
                for z in stale:
                    self._retire(z)

    def _retire(self, z: Zygote) -> None:
        """(under the lock) close a jail and forget it."""
        z.close()
        self._cpu_retired += z.cpu_seconds()
        self._all.discard(z)
        shutil.rmtree(z.slot, ignore_errors=True)
        self._release(z.cg)

    def live(self) -> list[Zygote]:
        """The jails started and not yet retired (leased or idle)."""
        with self._lock:
            return [z for z in self._all if z.alive()]

    def cpu_seconds(self) -> float:
        """CPU time of every jail of this pool outside its runs, live or retired."""
        with self._lock:
            return self._cpu_retired + sum(z.cpu_seconds() for z in self._all)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._wake.notify_all()
            idle = [z for zs in self._free.values() for z in zs]
            self._free.clear()
            for z in idle:
                z.sock.close()  # all of them start exiting at once
            for z in idle:
                self._retire(z)
