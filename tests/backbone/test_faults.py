"""Dead workers on the real loop (CPU, private Ray cluster): ``kill -9`` on a reward worker while it
scores and on a rollout engine while it generates (the run goes on and gives the very numbers of an
undisturbed run), then on a learner rank while it trains (the run stops at once with a one-line
error, the last checkpoint is intact and ``--resume`` continues exactly). The three deaths share one
run (each end-to-end run costs a Ray, vLLM and DeepSpeed start-up)."""

import json
import time

import pytest

from tests.backbone.faults import kill_actor, metrics, start_oorl, steps_logged, wait_for
from tests.conftest import ROOT, run_oorl

SLOW = "reward.functions=[{name: 'tests.backbone.slow_reward:slow_letter_match', kwargs: {delay_s: 1.0}}]"


def common(model_cache):
    return ["train", "--config", "configs/smoke-cpu.yaml", f"model.cache_dir={model_cache}", "trainer.steps=4",
            "trainer.save_every=2", "seed=7", "rollout.num_engines=2", "reward.num_workers=2",
            "rollout.max_new_tokens=48", "trainer.log_samples=64", SLOW]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, model_cache):
    out = tmp_path_factory.mktemp("faults") / "reference"
    r = run_oorl(*common(model_cache), "--output-dir", str(out), env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def same_steps(a: list[dict], b: list[dict]) -> None:
    assert [x["step"] for x in b] == [x["step"] for x in a[:len(b)]], ([x["step"] for x in a], [x["step"] for x in b])
    for x, y in zip(a, b):
        assert x["reward_mean"] == y["reward_mean"], (x["step"], x["reward_mean"], y["reward_mean"])
        assert abs(x["loss"] - y["loss"]) <= 1e-5, (x["step"], x["loss"], y["loss"])


def test_groups_stay_on_one_engine_and_one_reward_worker(reference):
    """Every GRPO group reaches one engine and one reward worker (vLLM's prefix cache and the judge's
    dedup see whole groups), and both engines and both workers get work."""
    samples = [json.loads(ln) for ln in (reference / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 * 64
    for step in range(1, 5):
        rows = [s for s in samples if s["step"] == step]
        by_group = {}
        for s in rows:
            by_group.setdefault(s["group"], set()).add((s["engine"], s["reward_worker"]))
        assert len(by_group) == 8 and all(len(v) == 1 for v in by_group.values()), by_group
        assert {s["engine"] for s in rows} == {0, 1} and {s["reward_worker"] for s in rows} == {0, 1}
    assert all(m["faults/rollout_restarts"] == 0 and m["faults/reward_restarts"] == 0 for m in metrics(reference))


def test_dead_engine_reward_worker_and_learner(reference, tmp_path, model_cache):
    """One run, three deaths. Step 2: an engine killed while it generates and a reward worker killed
    while it scores; the run goes on with the very numbers of the undisturbed reference (nothing lost,
    nothing generated or scored twice, same seeds). Step 3: a learner rank killed while it trains; the
    run stops within a minute with one line naming the rank and the last checkpoint, which is intact;
    ``--resume`` then finishes with the reference's numbers."""
    out = tmp_path / "run"
    proc = start_oorl(*common(model_cache), "--output-dir", str(out), log=tmp_path / "log.txt")
    try:
        wait_for(lambda: steps_logged(out) >= 1 or proc.poll() is not None, what="step 1")
        kill_actor(proc, "ray::RolloutWorker.generate_batch")
        kill_actor(proc, "ray::RewardWorker.score")  # mid-batch: it sleeps 1 s before scoring
        wait_for(lambda: (out / "checkpoints" / "step_2").exists() or proc.poll() is not None, what="step_2")
        kill_actor(proc, "ray::LearnerWorker.train_step")
        killed = time.monotonic()
        rc = proc.wait(timeout=120)
        stopped_in = time.monotonic() - killed
    finally:
        proc.kill()
    log = (tmp_path / "log.txt").read_text()
    assert rc == 1, log[-4000:]
    m = metrics(out)
    same_steps(metrics(reference), m)
    assert [x["step"] for x in m] == [1, 2]
    assert sum(x["faults/rollout_restarts"] for x in m) == 1, [x["faults/rollout_restarts"] for x in m]
    assert sum(x["faults/reward_restarts"] for x in m) == 1, [x["faults/reward_restarts"] for x in m]
    assert all(x["logprob_diff_max"] < 1e-3 for x in m)
    assert stopped_in < 60, stopped_in
    errors = [ln for ln in log.splitlines() if ln.startswith("oorl: training stopped:")]
    assert len(errors) == 1 and "learner rank" in errors[0] and "died during train_step" in errors[0], log[-3000:]
    assert "step_2" in errors[0] and "--resume" in errors[0]
    assert "Traceback" not in log
    ckpts = out / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["step_2"]  # renamed when complete: intact, nothing else
    partial = ckpts / ".step_4.partial"  # what a run killed while saving step 4 leaves behind
    partial.mkdir()
    (partial / "trainer_state.json").write_text('{"step": 4, "seed": 7}')
    r = run_oorl(*common(model_cache), "--output-dir", str(out), "--resume", env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "resumed from" in r.stdout and "(step 2)" in r.stdout
    assert sorted(p.name for p in ckpts.iterdir()) == ["step_2", "step_4"]
    assert [x["step"] for x in metrics(out)] == [1, 2, 3, 4]
    same_steps(metrics(reference), metrics(out))
