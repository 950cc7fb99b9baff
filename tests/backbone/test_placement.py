"""CPU thread counts of the roles (pure)."""

import os

import pytest

from oorl.config import load_config
from oorl.placement import cpu_threads, plan_bundles


@pytest.mark.parametrize("overrides, single, cores, want", [
    # one colocated rank on a 2-core laptop: learner and engine take turns, each gets both cores
    ([], True, 2, (2, 2)),
    # two colocated ranks on 2 cores: one core each (no oversubscription)
    (["learner.world_size=2"], True, 2, (1, 1)),
    # on a multi-node cluster each bundle's CPUs are its own
    (["learner.world_size=2", "learner.cpus_per_worker=7"], False, 2, (8, 8)),
    # split on a one-node machine with spare cores: each role keeps its bundle
    (["placement.mode=split", "learner.cpus_per_worker=2"], True, 16, (2, 1)),
    # split on a 2-core machine asked for 4+1 CPUs: the cores are shared in proportion
    (["placement.mode=split", "learner.cpus_per_worker=4"], True, 2, (1, 1)),
    # an explicit count wins
    (["placement.cpu_threads=3"], True, 2, (3, 3)),
])
def test_cpu_threads(overrides, single, cores, want):
    cfg = load_config(None, overrides)
    assert cpu_threads(cfg, single_node=single, cores=cores) == want


def test_colocated_bundles_hold_learner_and_engine_cpus():
    cfg = load_config(None, ["learner.world_size=2"])
    groups = plan_bundles(cfg, use_gpu=False)
    assert groups[0] == [{"CPU": 2.0}, {"CPU": 2.0}]


def test_cpu_allocator_env(monkeypatch):
    from oorl import allocator
    from oorl.errors import UserError

    assert allocator.cpu_allocator_env("system") == {}
    # setup installs tcmalloc (cluster/packages/apt.txt): auto and tcmalloc preload it by its soname,
    # before what the user preloads (a second tcmalloc is dropped)
    env = allocator.cpu_allocator_env("auto", preload="/opt/libfoo.so:/x/libtcmalloc.so.4")
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so.4 /opt/libfoo.so"
    assert int(env["TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"]) >= 1 << 40
    assert allocator.cpu_allocator_env("tcmalloc", preload="")["LD_PRELOAD"] == "libtcmalloc_minimal.so.4"
    monkeypatch.setattr(allocator, "_tcmalloc_installed", lambda: False)
    assert allocator.cpu_allocator_env("auto") == {}
    with pytest.raises(UserError, match="placement.cpu_allocator=tcmalloc: libtcmalloc_minimal.so.4 is not installed"):
        allocator.cpu_allocator_env("tcmalloc")


_REFAULTS = """
import resource, numpy as np
def step():  # a learner step's pattern: large buffers of changing sizes, allocated, touched, freed
    for i in range(40):
        n = (64 + (i * 7) % 32) << 20
        a = np.ones(n, dtype=np.uint8); b = np.ones(n // 2, dtype=np.uint8); del a, b
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_cpu_allocator_keeps_freed_pages():
    """Under the roles' allocator a step that frees and allocates large buffers again touches pages
    it already has: no page faults once warm (glibc: ~40k per such step; tcmalloc's default release
    rate: ~500, and millions in a real learner step over new shapes)."""
    import subprocess
    import sys

    from oorl import allocator

    env = allocator.cpu_allocator_env("tcmalloc", preload="")
    out = subprocess.run([sys.executable, "-c", _REFAULTS], env={**os.environ, **env}, capture_output=True,
                         text=True, check=True)
    assert int(out.stdout.split()[-1]) < 50


def test_the_allocator_env_preloads_tcmalloc():
    """The environment placement gives the CPU actors makes a process run on tcmalloc (the smoke run
    checks that its learner ranks do: tests/backbone/test_console.py)."""
    import subprocess
    import sys

    from oorl.allocator import cpu_allocator_env

    code = "from oorl.allocator import allocator_in_use; print(allocator_in_use())"
    env = {**__import__("os").environ, **cpu_allocator_env("auto")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "tcmalloc"
