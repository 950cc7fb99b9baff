"""The backbone's shared end-to-end run: ``configs/smoke-cpu.yaml`` as a user runs it (50 steps,
ZeRO-3 on two ranks), once per session. Its reward is ``letter_match`` behind a wrapper that also
speaks from inside the reward actor (tests/backbone/loud_reward.py), so the console test reads the
same run the learning and checkpoint tests do (each end-to-end run costs a Ray, vLLM and DeepSpeed
start-up). Ray's disk monitor is told the disk is full (a 1% threshold), as on a CI machine whose /tmp is
over 95% full: its raylet then repeats an error every 10 s, which the console must show once."""

import pytest

from tests.conftest import ROOT, run_oorl


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, model_cache):
    out = tmp_path_factory.mktemp("smoke") / "run"
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                 f"model.cache_dir={model_cache}",
                 "reward.functions=[{name: 'tests.backbone.loud_reward:loud_letter_match', weight: 1.0}]",
                 env={"PYTHONPATH": str(ROOT), "RAY_local_fs_capacity_threshold": "0.01"}, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r
