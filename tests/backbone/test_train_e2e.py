"""The real loop on CPU: Ray actors, vLLM rollouts, DeepSpeed ZeRO-3 over 2 ranks, weight sync, probe."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_oorl


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def test_smoke_learns_with_zero3_on_two_ranks(smoke_run):
    out, r = smoke_run
    m = metrics(out)
    cfg = (out / "config.yaml").read_text()
    assert "world_size: 2" in cfg and "zero_stage: 3" in cfg
    assert [x["step"] for x in m] == list(range(1, len(m) + 1)) and len(m) >= 30
    first = sum(x["reward_mean"] for x in m[:5]) / 5
    last = sum(x["reward_mean"] for x in m[-5:]) / 5
    assert last > first + 0.05 and last > 2 * first, (first, last)
    tol = 1e-3
    assert all(x["logprob_diff_max"] < tol for x in m)
    for key in ("step", "reward_mean", "reward_std", "loss", "kl", "logprob_diff_max", "response_len_mean",
                "gen_tokens_per_s", "step_time_s", "time/generate_s", "time/reward_s", "time/train_s", "time/sync_s"):
        assert key in m[0], key
    assert "done: run directory" in r.stdout
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    samples = [json.loads(ln) for ln in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 * len(m) and samples[-1]["step"] == len(m)
    assert {"task_id", "prompt", "completion", "reward", "advantage", "rewards"} <= set(samples[0])
    assert set(samples[0]["rewards"]) == {"tests.backbone.loud_reward:loud_letter_match"}  # letter_match, wrapped
    assert samples[0]["reward"] == pytest.approx(sum(samples[0]["rewards"].values()))  # weights are 1


def test_checkpoint_loads_in_transformers_and_vllm(smoke_run):
    out, _ = smoke_run
    ckpts = sorted((out / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    last = ckpts[-1]
    assert (last / "trainer_state.json").exists() and (last / "deepspeed").is_dir()
    import subprocess
    import sys

    code = f"""
import os
os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"; os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
if __name__ == "__main__":
    m = AutoModelForCausalLM.from_pretrained({str(last)!r})
    tok = AutoTokenizer.from_pretrained({str(last)!r})
    ids = [1, 5, 6, 7]
    with torch.no_grad():
        hf = torch.log_softmax(m(torch.tensor([ids])).logits[0, :-1], -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    llm = LLM(model={str(last)!r}, dtype="float32", enforce_eager=True, max_model_len=128)
    o = llm.generate([TokensPrompt(prompt_token_ids=ids)], SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)[0]
    v = [o.prompt_logprobs[t][ids[t]].logprob for t in range(1, len(ids))]
    print("MAXDIFF", max(abs(a - b) for a, b in zip(v, hf.tolist())))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    diff = float(r.stdout.split("MAXDIFF")[1].split()[0])
    assert diff < 1e-3


def test_logprob_mismatch_stops_the_run(tmp_path, model_cache):
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "--output-dir", str(tmp_path / "run"),
                 f"model.cache_dir={model_cache}", "trainer.steps=2", "weight_sync.logprob_tolerance=1e-12")
    assert r.returncode == 1
    assert "logprobs differ from the learner's" in r.stderr and "Traceback" not in r.stderr


def test_eval_command_on_a_checkpoint(smoke_run, tmp_path):
    out, _ = smoke_run
    last = max((out / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    r = run_oorl("eval", "--config", "configs/smoke-cpu.yaml", "--model", str(last), "--samples", "2",
                 "--output-dir", str(tmp_path / "ev"), "data.eval={name: smoke_letters, split: eval, kwargs: {size: 16}}",
                 "reward.sandbox.wall_s=7", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["tasks"] == 16 and report["samples"] == 2
    assert 0.0 <= report["metrics"]["reward_mean"] <= 1.0 and report["scorer"] == "reward"
    assert report["sandbox"]["wall_s"] == 7  # the judge that scored it has the config's jail limits
    assert (tmp_path / "ev" / "eval.md").exists()


def test_eval_command_prolog_scorer(tmp_path, model_cache):
    """The Prolog recipe's eval path end to end (tiny model: the numbers are near zero, the report is real)."""
    r = run_oorl("eval", "--config", "configs/prolog-grpo-cpu.yaml", "--model", "tiny", "--samples", "2",
                 "--output-dir", str(tmp_path / "ev"), f"model.cache_dir={model_cache}",
                 "data.eval.kwargs.n=6", "rollout.max_prompt_tokens=400", "rollout.max_new_tokens=16", "rollout.cpu_kv_cache_gib=1", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    text = json.dumps(report)
    for key in ("accuracy", "any_of_k", "all_of_k", "pass@", "failures"):
        assert key in text, key
    assert (tmp_path / "ev" / "eval.md").read_text().count("|") > 10
    assert len((tmp_path / "ev" / "eval_samples.jsonl").read_text().splitlines()) == 12


def test_prolog_recipe_trains_end_to_end(tmp_path, model_cache):
    """The Prolog GRPO config's training path (tiny model, 2 steps): the jailed Prolog rewards, the eval
    before training and on schedule, samples.jsonl and the curves."""
    out = tmp_path / "run"
    r = run_oorl("train", "--config", "configs/prolog-grpo-cpu.yaml", "--output-dir", str(out),
                 f"model.cache_dir={model_cache}", "model.path=tiny", "trainer.steps=2", "trainer.eval_every=2",
                 "trainer.eval_before_train=true", "trainer.eval_limit=4", "trainer.save_every=0",
                 "rollout.prompts_per_step=2", "rollout.max_prompt_tokens=400", "rollout.max_new_tokens=16",
                 # the config's bf16; the tiny model's bf16 probe gaps are ~0.004
                 "rollout.cpu_kv_cache_gib=1", "weight_sync.logprob_tolerance=0.02", "placement.ray_address=local",
                 timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = metrics(out)
    assert [x["step"] for x in m] == [0, 1, 2]
    assert "eval/accuracy" in m[0] and "reward_mean" not in m[0]  # the starting model's eval
    assert "eval/accuracy" in m[2] and "eval/accuracy" not in m[1]
    for name in ("prolog_correctness", "prolog_tags", "prolog_strict_format", "prolog_soft_format"):
        assert f"reward/{name}" in m[1], name
    assert all(-1.0 <= x["reward/prolog_correctness"] <= 2.0 for x in m[1:])  # a mean of -1s and 2s
    samples = [json.loads(ln) for ln in (out / "samples.jsonl").read_text().splitlines()]
    assert {s["step"] for s in samples} == {1, 2}
    assert all(s["rewards"]["prolog_correctness"] in (-1.0, 2.0) for s in samples)
    assert (out / "training_curves.png").stat().st_size > 10_000
