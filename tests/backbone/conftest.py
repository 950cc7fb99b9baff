"""The backbone's shared end-to-end run: ``configs/smoke-cpu.yaml`` as a user runs it (50 steps,
ZeRO-3 on two ranks), once per session. Its reward is ``letter_match`` behind a wrapper that also
speaks from inside the reward actor (tests/backbone/loud_reward.py), so the console test reads the
same run the learning and checkpoint tests do (each end-to-end run costs a Ray, vLLM and DeepSpeed
start-up)."""

import pytest

from tests.conftest import ROOT, run_oorl


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, model_cache):
    out = tmp_path_factory.mktemp("smoke") / "run"
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(out),
                 f"model.cache_dir={model_cache}",
                 "reward.functions=[{name: 'tests.backbone.loud_reward:loud_letter_match', weight: 1.0}]",
                 env={"PYTHONPATH": str(ROOT)}, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r
