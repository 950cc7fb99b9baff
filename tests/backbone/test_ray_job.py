"""`oorl train` submitted with `ray job submit` to a cluster started with `ray start --head` (loopback)."""

import json

import pytest

from tests.backbone.clusters import Cluster


@pytest.fixture()
def ray_cluster():
    cluster = Cluster(head_cpus=6)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_train_as_a_ray_job(ray_cluster, tmp_path, model_cache):
    out = tmp_path / "run"
    ray_cluster.wait_for_jobs()
    r = ray_cluster.submit("oorl", "train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                           f"model.cache_dir={model_cache}", "trainer.steps=3", "trainer.save_every=0")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "succeeded" in (r.stdout + r.stderr).lower()
    # the driver joined the running cluster instead of starting its own
    assert "joined the" in r.stdout + r.stderr or "Connected to Ray cluster" in r.stdout + r.stderr
    steps = [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (out / "checkpoints" / "step_3" / "config.json").exists()
    # the job's log holds OORL's lines; each actor's vLLM/Ray/DeepSpeed output is in its file in logs/
    import re

    text = r.stdout + r.stderr
    assert not re.search(r"(INFO|WARNING) \d\d-\d\d [\d:]+ \[[\w.]+\.py:\d+\]", text), text[-3000:]  # vLLM's format
    assert "Failed to load weights" not in text
    names = {p.name.split("-")[0] for p in (out / "logs").glob("*.log")}
    assert {"LearnerWorker", "RolloutWorker", "RewardWorker"} <= names, names
