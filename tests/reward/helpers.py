"""Helpers shared by the reward-worker tests."""

from __future__ import annotations

import os
from pathlib import Path

from oorl.reward.sandbox import SandboxLimits

HUMANEVAL_X = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "humaneval-x"


def short_limits(**kw) -> SandboxLimits:
    """Short limits so hostile programs end quickly: 2 s of CPU, 4 s of wall clock (slack for a
    loaded machine), 256 MiB."""
    base = dict(wall_s=4.0, cpu_s=2.0, memory_mb=256, compile_memory_mb=1024, max_file_mb=16, tmpfs_mb=64,
                output_limit_kb=1024, max_processes=64, threads=2, cache_entries=0)
    base.update(kw)
    return SandboxLimits(**base)


def jail_processes() -> list[int]:
    """Processes still in this test process's per-run cgroups (there should be none between runs)."""
    tag = f"/oorl-{os.getpid()}/"
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if tag in Path(f"/proc/{pid}/cgroup").read_text():
                found.append(int(pid))
        except OSError:
            pass
    return found
