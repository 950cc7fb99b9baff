"""`oorl train` submitted with `ray job submit` to a cluster started with `ray start --head` (loopback)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def ray_cluster():
    # a short temp dir: Ray's unix socket paths must stay under 108 bytes
    tmp = tempfile.mkdtemp(prefix="oorlray")
    env = dict(os.environ, RAY_AUTH_MODE="token", PATH=f"{BIN}:{os.environ['PATH']}", RAY_TMPDIR=tmp)
    env.pop("RAY_ADDRESS", None)
    sh(BIN / "ray", "get-auth-token", "--generate", env=env)
    port = _free_port()
    sh(BIN / "ray", "start", "--head", "--port", str(_free_port()), "--num-cpus", "6", "--dashboard-host", "127.0.0.1",
       "--dashboard-port", str(port), "--temp-dir", tmp, "--disable-usage-stats", env=env, timeout=180)
    try:
        yield env, f"http://127.0.0.1:{port}"
    finally:
        _stop_cluster(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_cluster(tmp: str) -> None:
    """Stop only this test's cluster (`ray stop` would stop every Ray cluster on the machine)."""
    import psutil

    procs = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(tmp in a for a in p.info["cmdline"] or []):
                procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    for p in procs:
        for c in p.children(recursive=True) + [p]:
            try:
                c.kill()
            except psutil.NoSuchProcess:
                pass
    psutil.wait_procs(procs, timeout=30)


def test_train_as_a_ray_job(ray_cluster, tmp_path, model_cache):
    env, address = ray_cluster
    out = tmp_path / "run"
    for _ in range(30):  # the job API comes up a little after `ray start` returns
        if sh(BIN / "ray", "job", "list", "--address", address, env=env, check=False).returncode == 0:
            break
        time.sleep(2)
    for _ in range(60):  # the head's job agent can lag behind the job API ("No available agent")
        r = sh(BIN / "ray", "job", "submit", "--address", address, "--working-dir", ".", "--",
               "oorl", "train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
               f"model.cache_dir={model_cache}", "trainer.steps=3", "trainer.save_every=0",
               env=env, timeout=900, check=False)
        if r.returncode == 0 or "No available agent" not in r.stdout + r.stderr:
            break
        time.sleep(3)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "succeeded" in (r.stdout + r.stderr).lower()
    # the driver joined the running cluster instead of starting its own
    assert "Connecting to existing Ray cluster" in r.stdout + r.stderr or "Connected to Ray cluster" in r.stdout + r.stderr
    steps = [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (out / "checkpoints" / "step_3" / "config.json").exists()
