"""`oorl train` submitted with `ray job submit` to a cluster started with `ray start --head` (loopback)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def sh(*args, env, timeout=300, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


@pytest.fixture()
def ray_cluster(tmp_path):
    env = dict(os.environ, RAY_AUTH_MODE="token", PATH=f"{BIN}:{os.environ['PATH']}", RAY_TMPDIR=str(tmp_path / "ray"))
    env.pop("RAY_ADDRESS", None)
    (tmp_path / "ray").mkdir()
    sh(BIN / "ray", "get-auth-token", "--generate", env=env)
    port = 8265 + (os.getpid() % 500)
    sh(BIN / "ray", "start", "--head", "--num-cpus", "6", "--dashboard-host", "127.0.0.1",
       "--dashboard-port", str(port), "--temp-dir", str(tmp_path / "ray"), "--disable-usage-stats", env=env, timeout=180)
    try:
        yield env, f"http://127.0.0.1:{port}"
    finally:
        sh(BIN / "ray", "stop", "--force", env=env, check=False)


def test_train_as_a_ray_job(ray_cluster, tmp_path, model_cache):
    env, address = ray_cluster
    out = tmp_path / "run"
    for _ in range(30):  # the job API comes up a little after `ray start` returns
        if sh(BIN / "ray", "job", "list", "--address", address, env=env, check=False).returncode == 0:
            break
        time.sleep(2)
    r = sh(BIN / "ray", "job", "submit", "--address", address, "--working-dir", ".", "--",
           "oorl", "train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
           f"model.cache_dir={model_cache}", "trainer.steps=3", "trainer.save_every=0",
           env=env, timeout=900, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "succeeded" in (r.stdout + r.stderr).lower()
    # the driver joined the running cluster instead of starting its own
    assert "Connecting to existing Ray cluster" in r.stdout + r.stderr or "Connected to Ray cluster" in r.stdout + r.stderr
    steps = [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (out / "checkpoints" / "step_3" / "config.json").exists()
