"""Per-run cgroups: a hard memory cap and a process cap for one jailed command.

cgroup v1 (memory and pids hierarchies) and v2 (a delegated subtree) are supported. The worker
creates one parent group under its own cgroup (``oorl-<pid>``) and one child per run; the jailed
command joins the child before it execs bubblewrap, so everything it starts is counted. The memory
cap charges resident memory and tmpfs pages, not address space, so the JVM, Node and Go reserving
large virtual ranges are not affected; when the group runs out the kernel OOM-kills inside it and
``oom_kills()`` reports it.

Where no cgroup can be written (an unprivileged container, a v2 hierarchy without delegation),
``CgroupRoot.detect()`` returns None and the jail falls back to rlimits and an RSS watchdog: see
``jail.py`` for what that fallback guarantees.
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_counter = itertools.count()


def _own_cgroups() -> dict[str, str]:
    """controller (or '' for v2) -> path of this process's cgroup inside its hierarchy."""
    out: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


def _mounts() -> dict[str, Path]:
    """controller (or '' for v2) -> mount point, from /proc/self/mountinfo."""
    out: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(rfields) < 3:
            continue
        fstype, mnt = rfields[0], fields[4]
        if fstype == "cgroup2":
            out.setdefault("", Path(mnt))
        elif fstype == "cgroup":
            for opt in rfields[2].split(","):
                if opt in ("memory", "pids", "cpuacct"):
                    out.setdefault(opt, Path(mnt))
    return out


def _write(path: Path | str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: Path | str) -> str:
    """A small control file in one read (the per-run counters: no text-file object per read)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


@dataclass
class RunCgroup:
    """The cgroup(s) of one run. ``procs_files`` are what the launcher writes its pid into."""

    dirs: list[Path]
    procs_files: list[Path]
    memory_dir: Path
    version: int
    cpu_dir: Path | None = None
    oom_base: int = 0  # OOM kills before this run (a pooled group is reused)
    cpu_base: float = 0.0

    def reset(self, memory_bytes: int, max_pids: int, strict_peak: bool = True) -> bool:
        """Prepare a reused, empty group for the next run; False when it cannot be reused
        (``strict_peak=False``: also when the peak cannot be reset, which then overstates it)."""
        try:
            if self.version == 1:
                # memory.limit_in_bytes may never exceed memsw's: raise memsw first, lower it last
                limit, memsw = self.memory_dir / "memory.limit_in_bytes", self.memory_dir / "memory.memsw.limit_in_bytes"
                raising = memory_bytes > int(limit.read_text())
                for f in ((memsw, limit) if raising else (limit, memsw)):
                    try:
                        _write(f, str(memory_bytes))
                    except OSError:
                        if f == limit:
                            raise
                _write(self.memory_dir / "memory.max_usage_in_bytes", "0")
                for d in self.dirs:
                    if (d / "pids.max").exists():
                        _write(d / "pids.max", str(max_pids))
            else:
                _write(self.memory_dir / "memory.max", str(memory_bytes))
                try:
                    _write(self.memory_dir / "memory.peak", "0")  # resettable since Linux 6.12
                except OSError:
                    if strict_peak:
                        raise
                _write(self.memory_dir / "pids.max", str(max_pids))
        except OSError:
            return False
        self.oom_base = self._oom_total()
        self.cpu_base = self._cpu_total() or 0.0
        return True

    def cpu_seconds(self) -> float | None:
        """CPU time used by everything that ran in the group this run (None: not accounted)."""
        total = self._cpu_total()
        return None if total is None else total - self.cpu_base

    def _cpu_total(self) -> float | None:
        try:
            if self.version == 1:
                return int(_read(self.cpu_dir / "cpuacct.usage")) / 1e9 if self.cpu_dir else None
            for line in _read(self.memory_dir / "cpu.stat").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            pass
        return None

    def wait_empty(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        return True

    def oom_kills(self) -> int:
        return self._oom_total() - self.oom_base

    def _oom_total(self) -> int:
        f = self.memory_dir / ("memory.oom_control" if self.version == 1 else "memory.events")
        try:
            for line in _read(f).splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill":
                    return int(v)
        except OSError:
            pass
        return 0

    def peak_bytes(self) -> int:
        f = self.memory_dir / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        try:
            return int(_read(f).strip())
        except (OSError, ValueError):
            return 0

    def rearm(self) -> bool:
        """Start the next run in a group whose caps are already right and which nothing left since
        the last run's end (``end_of_run``): only the peak is reset. False when it cannot be."""
        f = self.memory_dir / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        try:
            _write(f, "0")
        except OSError:  # v2 before Linux 6.12: the peak is the group's since it was made
            return self.version == 2
        return True

    def end_of_run(self) -> tuple[float, int]:
        """This run's CPU seconds and OOM kills; the counters as they are now become the next
        run's starting point."""
        cpu, oom = self._cpu_total(), self._oom_total()
        used = (cpu - self.cpu_base if cpu is not None else 0.0), oom - self.oom_base
        self.oom_base, self.cpu_base = oom, cpu or 0.0
        return used

    def member_pids(self) -> list[int]:
        """The processes of the group, from one hierarchy (enough for processes born in the group)."""
        try:
            return [int(p) for p in _read(self.procs_files[0] if self.procs_files else self.memory_dir / "cgroup.procs").split()]
        except OSError:
            return self.pids()

    def pids(self) -> list[int]:
        pids: set[int] = set()
        for d in self.dirs:
            try:
                pids.update(int(p) for p in _read(d / "cgroup.procs").split())
            except OSError:
                pass
        return sorted(pids)

    def kill_all(self, timeout_s: float = 2.0) -> bool:
        """SIGKILL every process in the group until it is empty; False if some survive."""
        if self.version == 2:
            try:
                _write(self.memory_dir / "cgroup.kill", "1")
            except OSError:
                pass
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:  # EBUSY while the last killed task is being reaped
                    if e.errno != errno.EBUSY:
                        break
                    time.sleep(0.005)


class CgroupRoot:
    """Where this process may create per-run cgroups; ``detect()`` is None when nowhere."""

    _detected: "CgroupRoot | None | bool" = False
    _lock = threading.Lock()

    def __init__(self, version: int, memory_parent: Path, pids_parent: Path | None,
                 cpu_parent: Path | None = None):
        self.version = version
        self.memory_parent = memory_parent
        self.pids_parent = pids_parent
        self.cpu_parent = cpu_parent
        self._free: list[RunCgroup] = []
        self._pool_lock = threading.Lock()

    def acquire(self, memory_bytes: int, max_pids: int, owner_uid: int | None = None) -> RunCgroup:
        """An empty group with these caps: a pooled one when possible (saves mkdir/rmdir per run).
        ``owner_uid``: the unprivileged launcher that writes its own pid into cgroup.procs."""
        while True:
            with self._pool_lock:
                cg = self._free.pop() if self._free else None
            if cg is None:
                cg = self.create(memory_bytes, max_pids)
                cg.reset(memory_bytes, max_pids)
                break
            if cg.reset(memory_bytes, max_pids):
                break
            cg.remove()
        for f in cg.procs_files:
            uid = 0 if owner_uid is None else owner_uid
            if f.stat().st_uid != uid:
                os.chown(f, uid, uid)
        return cg

    def release(self, cg: RunCgroup, keep: int = 16) -> None:
        """Back to the pool if everything in it is gone, else emptied and removed."""
        if cg.pids():
            cg.kill_all()
            cg.remove()
            return
        with self._pool_lock:
            if len(self._free) < keep:
                self._free.append(cg)
                return
        cg.remove()

    @classmethod
    def detect(cls) -> "CgroupRoot | None":
        with cls._lock:
            if cls._detected is False:
                try:
                    cls._detected = cls._probe()
                except Exception:  # any surprise in /proc or /sys means: no cgroup
                    cls._detected = None
            return cls._detected  # type: ignore[return-value]

    @classmethod
    def _probe(cls) -> "CgroupRoot | None":
        own, mounts = _own_cgroups(), _mounts()
        tag = f"oorl-{os.getpid()}"
        if "memory" in mounts and "memory" in own:  # cgroup v1
            mem = mounts["memory"] / own["memory"].lstrip("/") / tag
            mem.mkdir(exist_ok=True)
            _write(mem / "memory.limit_in_bytes", str(1 << 40))
            extra: dict[str, Path | None] = {}
            for ctrl in ("pids", "cpuacct"):
                extra[ctrl] = None
                if ctrl in mounts and ctrl in own and mounts[ctrl] != mounts["memory"]:
                    p = mounts[ctrl] / own[ctrl].lstrip("/") / tag
                    try:
                        p.mkdir(exist_ok=True)
                        extra[ctrl] = p
                    except OSError:
                        pass
            root = cls(1, mem, extra["pids"], extra["cpuacct"])
        elif "" in mounts and "" in own:  # cgroup v2: needs a delegated subtree
            base = mounts[""] / own[""].lstrip("/")
            parent = base / tag
            parent.mkdir(exist_ok=True)
            try:
                _write(base / "cgroup.subtree_control", "+memory +pids")
            except OSError:
                pass
            _write(parent / "cgroup.subtree_control", "+memory +pids")
            root = cls(2, parent, parent)
        else:
            return None
        probe = root.create(64 << 20, 16)  # prove that limits can be set and groups removed
        probe.remove()
        atexit.register(root.close)
        return root

    def close(self) -> None:
        with self._pool_lock:
            free, self._free = self._free, []
        for cg in free:
            cg.remove()
        for d in (self.memory_parent, self.pids_parent, self.cpu_parent):
            if d is not None:
                try:
                    d.rmdir()
                except OSError:
                    pass

    def create(self, memory_bytes: int, max_pids: int) -> RunCgroup:
        name = f"run-{next(_counter)}"
        if self.version == 1:
            mem = self.memory_parent / name
            mem.mkdir()
            dirs, procs = [mem], [mem / "cgroup.procs"]
            cpu = None
            try:
                if self.cpu_parent is not None:
                    cpu = self.cpu_parent / name
                    cpu.mkdir()
                    dirs.append(cpu)
                    procs.append(cpu / "cgroup.procs")
                _write(mem / "memory.limit_in_bytes", str(memory_bytes))
                try:  # no swap escape where swap accounting exists
                    _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass
                if self.pids_parent is not None:
                    p = self.pids_parent / name
                    p.mkdir()
                    dirs.append(p)
                    procs.append(p / "cgroup.procs")
                    _write(p / "pids.max", str(max_pids))
            except OSError:
                RunCgroup(dirs, procs, mem, 1).remove()
                raise
            return RunCgroup(dirs, procs, mem, 1, cpu)
        d = self.memory_parent / name
        d.mkdir()
        try:
            _write(d / "memory.max", str(memory_bytes))
            try:
                _write(d / "memory.swap.max", "0")
            except OSError:
                pass
            _write(d / "pids.max", str(max_pids))
        except OSError:
            RunCgroup([d], [], d, 2).remove()
            raise
        return RunCgroup([d], [d / "cgroup.procs"], d, 2)

    def describe(self) -> str:
        pids = "pids" if self.pids_parent is not None else "no pids controller"
        return f"cgroup v{self.version} at {self.memory_parent} (memory, {pids})"
