"""Bad input to `oorl train`: one line naming the problem, exit status 2, no traceback."""

import os

import pytest

from tests.conftest import SHARED, run_oorl


@pytest.mark.parametrize("args, needle", [
    (["learner.bogus=1"], "unknown config key 'learner.bogus'"),
    (["learner.lr=abc"], "config field 'learner.lr'"),
    (["model.path=/nonexistent/model"], "model.path: '/nonexistent/model' is not a model directory"),
    (["data.train.name=null", "data.train.path=/nonexistent/train.jsonl"], "dataset file '/nonexistent/train.jsonl' does not exist"),
    (["reward.functions=[{name: no_such_reward}]"], "unknown reward function 'no_such_reward'"),
    (["rollout.max_prompt_tokens=500", "rollout.max_new_tokens=100"], "exceeds the model's context of 512 tokens"),
    (["algo.advantage_kwargs={unbiasd: true}"], "unbiasd"),
], ids=["unknown-key", "wrong-type", "model-path", "dataset-file", "reward-fn", "context", "advantage-kwarg"])
def test_bad_input_is_one_line_exit_2(args, needle, tmp_path, model_cache):
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(tmp_path / "run"),
                 f"model.cache_dir={model_cache}", *args, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("oorl: error")]) == 1


def test_missing_config_file(tmp_path):
    r = run_oorl("train", "--config", str(tmp_path / "missing.yaml"), timeout=120)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; the read-only parent is checked below")
def test_unwritable_output_dir_as_user(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(ro / "run"), timeout=120)
    assert r.returncode == 2 and "cannot be written" in r.stderr


def test_output_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(f / "run"), timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "cannot be written" in r.stderr and "Traceback" not in r.stderr


def test_unknown_eval_scorer_and_option(tmp_path, model_cache):
    ev = "data.eval={name: smoke_letters, split: eval}"
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(tmp_path / "r1"), ev,
                 "trainer.eval_scorer=no_such_scorer", timeout=300)
    assert r.returncode == 2 and "unknown eval scorer 'no_such_scorer'" in r.stderr and "Traceback" not in r.stderr
    r = run_oorl("eval", "--config", "configs/smoke-cpu.yaml", "--model", "tiny", ev, f"model.cache_dir={model_cache}",
                 "trainer.eval_scorer=prolog", "trainer.eval_scorer_kwargs={abs_tl: 1}", timeout=300)
    assert r.returncode == 2 and "eval scorer 'prolog'" in r.stderr and "abs_tl" in r.stderr


def test_data_show_and_multipl_e_is_never_training_data(tmp_path):
    r = run_oorl("data", "show", "--config", "configs/smoke-cpu.yaml", "--show", "2", timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("256 tasks") and r.stdout.count("smoke-train-") == 2
    if not (SHARED / "data" / "multipl-e").is_dir():
        pytest.skip("no MultiPL-E directory beside the project")
    r = run_oorl("data", "show", "--config", "configs/smoke-cpu.yaml", "data.train.name=null",
                 "data.train.path=../shared/data/multipl-e", "data.train.format=multipl_e", "data.train.kwargs={}",
                 timeout=120)
    assert r.returncode == 2 and "evaluation-only" in r.stderr and "Traceback" not in r.stderr


def test_data_mini_cpp_writes_problems_and_refuses_bad_counts(tmp_path):
    out = tmp_path / "mini.jsonl"
    r = run_oorl("data", "mini-cpp", "--out", str(out), "--per-family", "2", timeout=120)
    assert r.returncode == 0 and "18 problems" in r.stdout, r.stderr[-2000:]
    assert len(out.read_text().splitlines()) == 18
    r = run_oorl("data", "mini-cpp", "--out", str(out), "--per-family", "0", timeout=120)
    assert r.returncode == 2 and "--per-family 0" in r.stderr and "Traceback" not in r.stderr
