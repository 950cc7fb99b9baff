"""Two Ray nodes on this machine (a head and a worker joined with ``ray start --address``, each with
resources of its own), and ``oorl train`` submitted as a Ray job: the learner ranks, the engine and
the reward workers land on both nodes, as the config's placement strategies ask. The worker node
runs in a mount namespace of its own where one directory is private to it: a run whose output
directory is there is refused at start with one line naming the path (each learner node must see
the driver's files)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.backbone.clusters import Cluster


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("the private directory of the worker node needs root and unshare(1)")
    private = tmp_path_factory.mktemp("private")
    # 2 learner ranks colocated with an engine ask for 2 bundles of 2 CPUs, packed: they do not fit
    # on one 3-CPU node, so one rank lands on each; the 2 reward workers (SPREAD) take the CPU left
    # on each node.
    cluster = Cluster(head_cpus=3, head_resources='{"head_node": 1}')
    try:
        cluster.add_node(3, '{"worker_node": 1}', wrap=["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                                         f'mount -t tmpfs tmpfs "{private}" && exec "$0" "$@"'])
        cluster.wait_for_jobs()
        yield cluster, private
    finally:
        cluster.stop()


def test_roles_land_on_both_nodes(two_nodes, tmp_path, model_cache):
    cluster, _ = two_nodes
    out = tmp_path / "run"
    r = cluster.submit("oorl", "train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                       f"model.cache_dir={model_cache}", "trainer.steps=2", "reward.num_workers=2")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    layout = json.loads((out / "placement.json").read_text())
    assert len(layout["nodes"]) == 2
    assert len(set(layout["learner"])) == 2, layout  # one learner rank on each node (ZeRO-3 across them)
    assert len(set(layout["reward"])) == 2, layout   # reward workers spread
    assert set(layout["rollout"]) <= set(layout["learner"])  # the engine shares a rank's bundle (colocate)
    steps = [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    assert (out / "checkpoints" / "step_2" / "config.json").exists()


def test_an_output_dir_one_node_cannot_see_is_refused(two_nodes, model_cache):
    cluster, private = two_nodes
    out = Path(private) / "run"
    r = cluster.submit("oorl", "train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                       f"model.cache_dir={model_cache}", "trainer.steps=2", "reward.num_workers=2")
    text = r.stdout + r.stderr
    assert r.returncode != 0, text[-3000:]
    # one error line (`ray job submit` repeats the log's tail in its failure message: dedupe)
    errors = sorted({ln for ln in text.splitlines() if ln.startswith("oorl: error:")})
    assert len(errors) == 1, text[-3000:]
    assert "learner rank" in errors[0] and str(out) in errors[0] and "every node sees" in errors[0]
    assert "Traceback" not in text
