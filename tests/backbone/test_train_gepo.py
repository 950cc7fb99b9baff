"""GEPO in the loop, end to end on CPU with the tiny model: the driver samples IR groups every step,
shards them over the learner ranks, one update carries both losses; the held-out groups are
evaluated against the reference; GEPO alone (``algo.rl_weight=0``) moves the held-out margin."""

import json
import math
from pathlib import Path

from tests.conftest import run_oorl
from tests.data.test_ir_stream import write_groups


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def test_mixed_run_on_two_zero3_ranks(tmp_path, model_cache):
    groups = write_groups(tmp_path / "groups.jsonl", n_problems=12)
    out = tmp_path / "run"
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                 f"model.cache_dir={model_cache}", "trainer.steps=3", "trainer.save_every=0", "trainer.eval_every=3",
                 "trainer.eval_before_train=true", "algo.offpolicy=gepo", f"algo.gepo.path={groups}",
                 "algo.gepo.groups_per_step=3", "algo.gepo.micro_batch_size=2", "algo.gepo.heldout_fraction=0.25",
                 timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = metrics(out)
    assert [x["step"] for x in m] == [0, 1, 2, 3]
    base = m[0]
    assert base["eval/gepo/groups"] == 3 and base["eval/gepo/accuracy"] == 0.5  # the reference: every margin 0
    assert abs(base["eval/gepo/margin"]) < 1e-6
    for x in m[1:]:
        for key in ("gepo/loss", "gepo/reward_margin", "gepo/accuracy", "gepo/var_w", "gepo/forward_time_s",
                    "pg_loss", "reward_mean", "kl"):
            assert key in x and math.isfinite(x[key]), key
        assert x["logprob_diff_max"] < 1e-3  # the probe holds with both losses in the update
    assert m[1]["gepo/loss"] > 0 and "eval/gepo/margin" in m[3]


def test_gepo_alone_moves_the_heldout_margin_and_oorl_eval_agrees(tmp_path, model_cache):
    groups = write_groups(tmp_path / "groups.jsonl", n_problems=20)
    out = tmp_path / "run"
    common = [f"model.cache_dir={model_cache}", "algo.offpolicy=gepo", f"algo.gepo.path={groups}",
              "algo.gepo.heldout_fraction=0.3", "algo.gepo.weight=1.0"]
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out), *common,
                 "learner.world_size=1", "learner.zero_stage=2", "learner.micro_batch_size=64", "algo.rl_weight=0",
                 "learner.lr=1e-3", "trainer.steps=8", "trainer.save_every=0", "trainer.eval_every=8",
                 "trainer.eval_before_train=true", "algo.gepo.groups_per_step=4", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = metrics(out)
    assert "reward_mean" not in m[1] and "time/generate_s" not in m[1]  # no rollouts
    assert abs(m[1]["gepo/loss"] - math.log(2)) < 1e-4  # the first update starts at the reference
    assert abs(m[0]["eval/gepo/margin"]) < 1e-6 and m[0]["eval/gepo/groups"] == 6
    assert m[-1]["eval/gepo/margin"] > 0 and m[-1]["eval/gepo/accuracy"] > 0.5, m[-1]
    # oorl eval on the checkpoint: the same held-out groups, scored in-process against the reference
    ev = run_oorl("eval", "--config", "configs/smoke-cpu.yaml", "--model", str(out / "checkpoints" / "step_8"),
                  "--output-dir", str(tmp_path / "ev"), *common, timeout=600)
    assert ev.returncode == 0, ev.stdout[-3000:] + ev.stderr[-3000:]
    report = json.loads((tmp_path / "ev" / "groups.json").read_text())
    assert report["metrics"]["groups"] == 6
    assert abs(report["metrics"]["margin"] - m[-1]["eval/gepo/margin"]) < 1e-3
    assert (tmp_path / "ev" / "groups.md").exists() and "eval/gepo/accuracy" in ev.stdout
