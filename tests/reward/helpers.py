"""Helpers shared by the reward-worker tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

from oorl.reward.sandbox import SandboxLimits

HUMANEVAL_X = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "humaneval-x"


def short_limits(**kw) -> SandboxLimits:
    """Short limits so hostile programs end quickly: 2 s of CPU, 4 s of wall clock (slack for a
    loaded machine), 256 MiB."""
    base = dict(wall_s=4.0, cpu_s=2.0, memory_mb=256, compile_memory_mb=1024, max_file_mb=16, tmpfs_mb=64,
                output_limit_kb=1024, max_processes=64, threads=2, cache_entries=0,
                # OORL_TEST_CGROUP=off runs everything on the no-cgroup fallback (rlimits + watchdog)
                cgroup=os.environ.get("OORL_TEST_CGROUP", "auto"))
    base.update(kw)
    return SandboxLimits(**base)


def jail_processes(grace_s: float = 1.0) -> list[int]:
    """Processes left by this test process's jails: in its per-run cgroups, or bubblewrap processes
    tagged with it (the no-cgroup fallback). A jail's namespaces are torn down asynchronously, so
    look again for up to ``grace_s``. There should be none between runs."""
    deadline = time.monotonic() + grace_s
    while True:
        found = _jail_processes()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _jail_processes() -> list[int]:
    tag, owner = f"/oorl-{os.getpid()}/", f"OORL_JAIL_OWNER={os.getpid()}\0".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if tag in Path(f"/proc/{pid}/cgroup").read_text() or owner in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found
