"""The memory allocator of the CPU roles (``placement.cpu_allocator``).

On CPU, glibc's malloc hands every freed block over its mmap threshold (at most 32 MiB) back to the
kernel, and a learner step frees and allocates hundreds of them (logits, activations, gradients):
each one's pages fault in again at first touch. tcmalloc keeps them for the next allocation; with
it the bench learner step takes 3.4 s instead of 4.6 s (benchmarks/README.md). It has to be
preloaded before the process starts, so placement puts it in the actors' environment.

tcmalloc itself hands free spans back to the kernel a little at a time (``TCMALLOC_RELEASE_RATE``,
default 1). A step over batches of a new shape (every GRPO step: the lengths change) then faults its
activations in again: 0.6-0.8 million page faults and 2.7-3.8 s of kernel time per 5-7 s learner step
(SmolLM2, 2 threads, bench batch with changing completion lengths). A role's heap peaks at the same
size every step, so it is kept: release rate 0 (then 5.1-5.8 s per step, ~0.1 s of kernel time).
"""

from __future__ import annotations

import os

from oorl.errors import UserError

TCMALLOC = "libtcmalloc_minimal.so.4"


def cpu_allocator_env(choice: str, preload: str | None = None) -> dict[str, str]:
    """Environment that gives a CPU process the allocator ``choice`` (``placement.cpu_allocator``).

    tcmalloc is preloaded by its soname, so each node finds its own copy; its report of each
    allocation over 1 GiB is silenced. ``preload``: the LD_PRELOAD already set (default: this
    process's), kept after tcmalloc.
    """
    if choice == "system":
        return {}
    if not _tcmalloc_installed():
        if choice == "tcmalloc":
            raise UserError(f"placement.cpu_allocator=tcmalloc: {TCMALLOC} is not installed "
                            "(Debian/Ubuntu: apt-get install libtcmalloc-minimal4), or set it to system")
        return {}
    if preload is None:
        preload = os.environ.get("LD_PRELOAD", "")
    libs = [TCMALLOC] + [p for p in preload.replace(":", " ").split() if "tcmalloc" not in p]
    return {"LD_PRELOAD": " ".join(libs), "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(1 << 40),
            "TCMALLOC_RELEASE_RATE": "0"}


def allocator_in_use() -> str:
    """``tcmalloc`` when this process runs on tcmalloc, else ``system``."""
    try:
        with open("/proc/self/maps") as maps:
            return "tcmalloc" if any("libtcmalloc" in line for line in maps) else "system"
    except OSError:
        return "system"


def _tcmalloc_installed() -> bool:
    import ctypes.util

    return ctypes.util.find_library("tcmalloc_minimal") is not None
