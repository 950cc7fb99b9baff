"""Asynchronous rollouts (``trainer.async_steps: 1``, split placement) on the real loop: the engine
generates step k+1 while the learner trains on step k, the update corrects the one-step lag with
truncated importance sampling, and a resumed run trains on the very samples the interrupted one had
generated before its checkpoint (exact resume)."""

import json

import pytest

from tests.backbone.faults import kill_actor, metrics, start_oorl, steps_logged, wait_for
from tests.conftest import run_oorl


def common(model_cache):
    return ["train", "--config", "configs/smoke-cpu.yaml", f"model.cache_dir={model_cache}", "trainer.steps=4",
            "trainer.save_every=2", "seed=5", "placement.mode=split", "trainer.async_steps=1",
            "rollout.max_new_tokens=32"]


@pytest.fixture(scope="module")
def async_run(tmp_path_factory, model_cache):
    out = tmp_path_factory.mktemp("async") / "full"
    r = run_oorl(*common(model_cache), "--output-dir", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_generation_runs_one_step_ahead(async_run):
    m = metrics(async_run)
    assert [x["step"] for x in m] == [1, 2, 3, 4]
    assert m[0]["async/staleness_mean"] == 0  # the first step's samples come from the starting weights
    assert all(x["async/staleness_mean"] == 1 and x["async/staleness_max"] == 1 for x in m[1:])
    # step k+1's generation ran while step k trained
    assert sum(x["async/overlap_share"] for x in m[1:]) / 3 > 0.5, [x["async/overlap_share"] for x in m]
    # truncated importance sampling: no gap at step 1, a real one (and weights != 1) once samples lag
    assert m[0]["tis/logp_gap_mean"] < 1e-3
    assert all(x["tis/logp_gap_mean"] > 1e-3 and x["tis/weight_mean"] != 1.0 for x in m[1:])
    assert all(x["logprob_diff_max"] < 1e-3 for x in m)
    # the timeline draws step k+1's generation inside step k's training
    timeline = {row["step"]: {sp["phase"]: sp for sp in row["spans"]}
                for row in map(json.loads, (async_run / "timeline.jsonl").read_text().splitlines())}
    inside = [timeline[k + 1]["generate"]["start"] < timeline[k]["train"]["end"] for k in range(1, 4)]
    assert sum(inside) >= 2, inside


def test_async_resume_is_exact(async_run, tmp_path, model_cache):
    part = tmp_path / "part"
    r = run_oorl(*common(model_cache), "--output-dir", str(part), "trainer.stop_after=2")
    assert r.returncode == 0, r.stderr[-3000:]
    pending = json.loads((part / "checkpoints" / "step_2" / "pending_samples.json").read_text())
    assert len(pending) == 64 and all(p["weight_version"] == 1 for p in pending)  # step 3, made before update 2
    r = run_oorl(*common(model_cache), "--output-dir", str(part), "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = metrics(async_run), metrics(part)
    assert [x["step"] for x in b] == [1, 2, 3, 4]
    for x, y in zip(a, b):
        assert x["reward_mean"] == y["reward_mean"], (x["step"], x["reward_mean"], y["reward_mean"])
        assert abs(x["loss"] - y["loss"]) <= 1e-5, (x["step"], x["loss"], y["loss"])
        assert x["async/staleness_mean"] == y["async/staleness_mean"]


def test_engine_killed_during_an_asynchronous_generation(tmp_path, model_cache):
    """The engine dies while it generates step k+1 during step k's update: Ray restarts it, the weight
    sync brings it the learner's weights, and step k+1's samples are generated again with them (so
    they lag by 0 updates instead of 1); every step runs once, in order."""
    out = tmp_path / "run"
    proc = start_oorl(*common(model_cache), "--output-dir", str(out), "rollout.max_new_tokens=64",
                      log=tmp_path / "log.txt")
    try:
        wait_for(lambda: steps_logged(out) >= 2 or proc.poll() is not None, what="step 2")
        kill_actor(proc, "ray::RolloutWorker.generate_batch")
        rc = proc.wait(timeout=900)
    finally:
        proc.kill()
    log = (tmp_path / "log.txt").read_text()
    assert rc == 0, log[-4000:]
    m = metrics(out)
    assert [x["step"] for x in m] == [1, 2, 3, 4]
    assert sum(x["faults/rollout_restarts"] for x in m) == 1
    assert min(x["async/staleness_mean"] for x in m[2:]) == 0  # the redone step's samples are fresh
    assert all(x["logprob_diff_max"] < 1e-3 for x in m)
