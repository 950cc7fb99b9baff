"""Start one command and watch it until it ends: capped output, a wall-clock deadline, a memory
watchdog where no cgroup caps memory, and a kill of everything it started. Knows nothing about
bubblewrap; ``jail.py`` builds the command line."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from oorl.reward.cgroups import RunCgroup
from oorl.reward.sandbox import StepResult


class Capture:
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


def tree_memory_bytes(root: int, max_pids: int = 4096) -> int:
    """Proportional set size (shared pages split between sharers) of ``root`` and its descendants,
    for the fallback watchdog; plain RSS where smaps_rollup is missing. Stops after ``max_pids``
    processes so that one poll stays short (RLIMIT_NPROC keeps real trees far smaller)."""
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


@dataclass
class Spawn:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    wall_s: float
    cpu_limit_s: int
    memory_bytes: int
    output_keep: int
    output_limit: int
    stdin: bytes = b""
    side_channel: bool = False  # a pipe whose write end replaces "{side_fd}" in argv
    uid: int | None = None  # start as this uid/gid (from root)
    side_owner: int | None = None  # give the side channel to this uid (the jail's, when it drops root)
    preexec: Callable[[], None] | None = None  # runs in the child after the uid change, before exec
    watchdog_interval_s: float | None = None  # poll the tree's memory (when no cgroup caps it)
    watchdog_max_pids: int = 4096
    signalled_as_128_plus: bool = False  # bubblewrap reports a child killed by signal N as 128+N
    rusage_report: bool = False  # a pipe whose write end replaces "{rusage_fd}": the launcher's peak RSS (KiB)


def supervise(spec: Spawn, cg: RunCgroup | None) -> StepResult:
    side_r = side_w = None
    argv = spec.argv
    if spec.side_channel:
        side_r, side_w = os.pipe()
        if spec.side_owner is not None:  # so that the child may reopen it as /proc/self/fd/N
            os.fchown(side_w, spec.side_owner, spec.side_owner)
        argv = [a.replace("{side_fd}", str(side_w)) for a in argv]
    rss_r = rss_w = None
    if spec.rusage_report:
        rss_r, rss_w = os.pipe()
        argv = [str(rss_w) if a == "{rusage_fd}" else a for a in argv]
    stdin_f = None
    if spec.stdin:
        stdin_f = tempfile.TemporaryFile()
        stdin_f.write(spec.stdin)
        stdin_f.seek(0)
    ids = {} if spec.uid is None else {"user": spec.uid, "group": spec.uid, "extra_groups": []}
    start = time.monotonic()
    try:
        p = subprocess.Popen(argv, cwd=spec.cwd, env=spec.env, stdin=stdin_f or subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                             pass_fds=tuple(fd for fd in (side_w, rss_w) if fd is not None), close_fds=True,
                             preexec_fn=spec.preexec, **ids)
    except (OSError, subprocess.SubprocessError) as e:
        for fd in (side_r, side_w, rss_r, rss_w):
            if fd is not None:
                os.close(fd)
        return StepResult(exit_code=None, sandbox_error=f"cannot start {argv[0]}: {e}")
    finally:
        if stdin_f is not None:
            stdin_f.close()
    for fd in (side_w, rss_w):
        if fd is not None:
            os.close(fd)
    out, err, side = Capture(spec.output_keep), Capture(spec.output_keep), Capture(1 << 20)
    caps = {p.stdout.fileno(): out, p.stderr.fileno(): err}
    if side_r is not None:
        caps[side_r] = side
    sel = selectors.DefaultSelector()
    for fd in caps:
        sel.register(fd, selectors.EVENT_READ)
    pidfd = os.pidfd_open(p.pid)
    sel.register(pidfd, selectors.EVENT_READ)
    open_fds, deadline = len(caps), start + spec.wall_s
    timed_out = output_exceeded = oom_watchdog = exited = False
    watched = 0  # the largest tree memory the watchdog saw
    next_watch = start + (spec.watchdog_interval_s or 0)
    try:
        while open_fds or not exited:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            wait = deadline - now
            if spec.watchdog_interval_s:
                wait = min(wait, max(0.0, next_watch - now))
            for key, _ in sel.select(timeout=wait):
                if key.fd == pidfd:
                    exited = True
                    sel.unregister(pidfd)
                    continue
                data = os.read(key.fd, 1 << 16)
                if data:
                    caps[key.fd].add(data)
                else:
                    sel.unregister(key.fd)
                    open_fds -= 1
            if out.total + err.total > spec.output_limit:
                output_exceeded = True
                break
            if spec.watchdog_interval_s and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + spec.watchdog_interval_s
                watched = max(watched, tree_memory_bytes(p.pid, spec.watchdog_max_pids))
                if watched > spec.memory_bytes:
                    oom_watchdog = True
                    break
    finally:
        if timed_out or output_exceeded or oom_watchdog or not exited:
            kill(p.pid, cg)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        for fd, cap in caps.items():  # what is left in the pipes (the writers are gone)
            _drain(fd, cap, spec.output_limit)
        sel.close()
        os.close(pidfd)
        if side_r is not None:
            os.close(side_r)
        reported_kib = _read_report(rss_r)
        p.stdout.close()
        p.stderr.close()
    leftovers = 0
    # The jail's pid namespace is torn down asynchronously (longer for a big tree on a busy machine):
    # whatever is still alive after the grace period counts as left behind (and is killed on release).
    if cg is not None and not cg.wait_empty(2.0):
        leftovers = len(cg.pids())
    wall = time.monotonic() - start  # until every process of the run is gone
    code = os.waitstatus_to_exitcode(status)
    sig = None
    if code < 0:
        sig, code = -code, None
    elif spec.signalled_as_128_plus and code > 128 and code - 128 < signal.NSIG:
        sig, code = code - 128, None
    cpu = ru.ru_utime + ru.ru_stime  # bubblewrap does not always reap the jail: prefer the cgroup's count
    if cg is not None:
        cpu = cg.cpu_seconds() or cpu
    cpu_limited = sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= spec.cpu_limit_s * 0.95)
    oom = oom_watchdog or (cg is not None and cg.oom_kills() > 0)
    # ru_maxrss of a child started by vfork/fork + exec begins at its parent's peak (this worker's):
    # the launcher reports what the run's own processes reached instead; a launcher killed before it
    # could (timeout, watchdog) leaves the watchdog's largest reading
    if cg is not None:
        peak = cg.peak_bytes()
    elif reported_kib is not None:
        peak = reported_kib * 1024
    elif spec.rusage_report and watched:
        peak = watched
    else:
        peak = ru.ru_maxrss * 1024
    return StepResult(exit_code=code, signal=sig, wall_s=wall, cpu_s=cpu, stdout=out.text(), stderr=err.text(),
                      stdout_bytes=out.total, stderr_bytes=err.total, timed_out=timed_out and not oom,
                      cpu_limited=cpu_limited and not timed_out, oom=oom, output_exceeded=output_exceeded,
                      peak_memory_mb=peak / (1 << 20), side_output=bytes(side.head), leftover_processes=leftovers)


def _read_report(fd: int | None) -> int | None:
    """The launcher's peak-RSS line (KiB), or None (no launcher report: killed, or not asked for)."""
    if fd is None:
        return None
    try:
        os.set_blocking(fd, False)
        data = os.read(fd, 64)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    try:
        return int(data.decode().strip())
    except ValueError:
        return None


def kill(pid: int, cg: RunCgroup | None) -> None:
    """SIGKILL the process group (bubblewrap: --die-with-parent takes the jail's init, and with it
    every process of the jail, down) and everything left in the cgroup."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if cg is not None:
        cg.kill_all()


def _drain(fd: int, cap: Capture, limit: int) -> None:
    os.set_blocking(fd, False)
    try:
        while cap.total <= limit:
            data = os.read(fd, 1 << 16)
            if not data:
                break
            cap.add(data)
    except (BlockingIOError, OSError):
        pass
