#!/usr/bin/env python
"""OORL vs TRL's ``GRPOTrainer``: end-to-end GRPO throughput on CPU, same setting for both.

One setting, run by both systems in turn, each in its own fresh process:
SmolLM2-135M-Instruct (fp32), the built-in ``smoke_letters`` prompts in the same order, a group of
``--group-size`` completions per prompt, ``--prompts-per-step`` prompts per step, ``--max-new-tokens``,
temperature 1 / top-p 1, the registered ``letter_match`` reward (TRL's reward signature), the same
learning rate, AdamW, grad clip 1, PPO-clip 0.2 with global token-mean normalisation, KL 0, one
optimizer update per step over all ``prompts x group`` completions (micro-batches of ``--micro-batch``).

End-to-end throughput = completion tokens generated in the measured steps / wall-clock seconds of
those steps (generation + reward + training + weight sync, everything a step does); the first
``--warmup`` steps and the start-up (model loading, Ray, vLLM engine) are excluded.

* OORL: the real trainer (``oorl.trainer.Trainer`` with ``configs/bench-cpu.yaml``), on a private
  local Ray instance; tokens and phase times come from its ``metrics.jsonl``.
* TRL: ``trl.GRPOTrainer`` with ``use_vllm=False``: TRL's vLLM modes need a ``trl vllm-serve``
  server or colocated CUDA, so on CPU it generates with ``transformers.generate``.

    .venv/bin/python benchmarks/bench_grpo_vs_trl.py                  # both, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_grpo_vs_trl.py --only oorl --steps 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUIET_CORES = 0.25  # a step during which other processes took less CPU than this counts as quiet
DEFAULT_CONFIG = REPO / "configs" / "bench-cpu.yaml"


# ----------------------------------------------------------------------------------------- setting
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="measured steps (optimizer updates) per system")
    p.add_argument("--warmup", type=int, default=1, help="steps run first and not measured")
    p.add_argument("--prompts-per-step", type=int, default=4)
    p.add_argument("--group-size", type=int, default=8, help="completions per prompt (n_samples / num_generations)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--micro-batch", type=int, default=8, help="sequences per forward/backward pass (both systems)")
    p.add_argument("--lr", type=float, default=1e-6)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                   help="torch/OpenMP threads for every process of both systems")
    p.add_argument("--probe", type=int, default=0,
                   help="OORL's weight_sync.probe_size: 0 skips the per-step logprob check (TRL has none); "
                        "4 is OORL's default")
    p.add_argument("--model", default="smollm2-135m-instruct",
                   help="a model spec as in model.path: 'smollm2-135m-instruct' or a Hugging Face model directory")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="the OORL config the overrides apply to")
    p.add_argument("--only", choices=["oorl", "trl"], default=None, help="run one system only")
    p.add_argument("--work-dir", default=None, help="where runs go (default: a fresh temporary directory)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--_worker", choices=["oorl", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--_model-dir", dest="model_dir", help=argparse.SUPPRESS)
    p.add_argument("--_result", dest="result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    if (args.prompts_per_step * args.group_size) % args.micro_batch:
        p.error("--prompts-per-step x --group-size must be divisible by --micro-batch")
    return args


def prepare_model(spec: str, cache_root: Path) -> str:
    """Resolve the model spec with OORL's own resolver, then hand both systems the same clean directory.

    A converted SmolLM2 directory has no ``architectures`` in its ``config.json`` (TRL's model loader
    needs it; transformers and vLLM infer it), and one converted before the fix in ``oorl.models``
    still carries the GGUF ``quantization_config`` (transformers then attaches a GGUF quantizer that
    refuses training and saving). When either applies, both systems get a copy of the directory
    (weights symlinked) with a fixed ``config.json``; the weights are the same files.
    """
    from oorl.models import resolve_model

    src = Path(resolve_model(spec, "~/.cache/oorl/models"))
    config = json.loads((src / "config.json").read_text())
    if "quantization_config" not in config and config.get("architectures"):
        return str(src)
    config.pop("quantization_config", None)
    if not config.get("architectures"):
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        config["architectures"] = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config["model_type"]]]
    dst = cache_root / f"{src.name}-fp32"
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        link = dst / f.name
        if f.name != "config.json" and not link.exists():
            link.symlink_to(f)
    tmp = dst / "config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(dst / "config.json")
    return str(dst)


def setting_lines(a: argparse.Namespace, model_dir: str) -> list[str]:
    n = a.prompts_per_step * a.group_size
    return [
        f"model            {a.model} (fp32, CPU) -> {model_dir}",
        "prompts          oorl smoke_letters (size 256, seed 0), same order for both (OORL's sampler)",
        f"batch            {a.prompts_per_step} prompts x {a.group_size} completions = {n} per step, "
        f"max {a.max_new_tokens} new tokens, temperature 1.0, top_p 1.0",
        "reward           oorl letter_match (TRL signature), group-normalised advantages (mean/std)",
        f"update           1 AdamW step per batch ({n // a.micro_batch} micro-batches of {a.micro_batch}), "
        f"lr {a.lr:g} constant, clip 0.2, grad-clip 1.0, KL 0, token-mean loss",
        f"steps            {a.warmup} warm-up + {a.steps} measured per system; {a.threads} torch threads "
        f"(OMP_NUM_THREADS={a.threads}) in every process",
        f"OORL             {Path(a.config).name}: 1 learner rank, ZeRO 0, colocated vLLM engine, CPU weight sync, "
        f"probe_size {a.probe}",
        "TRL              GRPOTrainer, use_vllm=False (transformers.generate), loss_type dapo, beta 0",
    ]


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall, CPU seconds the whole machine spent busy, CPU seconds of this process and its descendants).

    The machine is shared: the difference tells how much CPU other processes took during a run.
    Ray's actors and vLLM's engine are descendants of the driver, so they count as ours.
    """
    import psutil

    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")  # user nice system irq softirq
    me = psutil.Process()
    own = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            own += t.user + t.system
        except psutil.Error:
            pass
    return time.perf_counter(), busy, own


def cpu_share(first: tuple, last: tuple) -> dict:
    wall = last[0] - first[0]
    cores = os.cpu_count() or 1
    own, busy = last[2] - first[2], last[1] - first[1]
    return {"own_cpu_s": own, "own_cores": own / wall, "other_cores": max(0.0, busy - own) / wall, "cores": cores}


def per_step_rows(measured, ends: dict, cpu: dict, tokens: dict, gen: dict, begin: float) -> list[dict]:
    """One row per measured step: its tokens, wall seconds (end of the previous step to its end),
    generation seconds and the cores other processes took meanwhile."""
    rows = []
    for s in measured:
        prev_end = ends.get(s - 1, begin)
        prev_cpu = cpu.get(s - 1, cpu[0])
        rows.append({"step": s, "tokens": tokens[s], "seconds": ends[s] - prev_end, "gen_s": gen[s],
                     "other_cores": cpu_share(prev_cpu, cpu[s])["other_cores"]})
    return rows


# ----------------------------------------------------------------------------------------- OORL
def run_oorl(a: argparse.Namespace, work: Path) -> dict:
    import ray

    from oorl.config import load_config
    from oorl.placement import plan_bundles
    from oorl.trainer import Trainer

    total_steps = a.warmup + a.steps
    run_dir = work / "oorl-run"
    cfg = load_config(a.config, [
        f"model.path={a.model_dir}", f"seed={a.seed}", f"output_dir={run_dir}",
        f"rollout.prompts_per_step={a.prompts_per_step}", f"rollout.n_samples={a.group_size}",
        f"rollout.max_new_tokens={a.max_new_tokens}", f"learner.lr={a.lr}",
        f"learner.micro_batch_size={a.micro_batch}", f"learner.cpus_per_worker={a.threads}",
        f"weight_sync.probe_size={a.probe}", f"trainer.steps={total_steps}", "trainer.save_every=0",
    ])
    t_start = time.perf_counter()
    # A private Ray instance: placement.connect() would join any cluster already running on this
    # machine (address="auto"), e.g. another user's run, and share its CPUs. Its own temp dir keeps
    # other drivers' address="auto" from finding this one. OMP_NUM_THREADS: without it Ray gives the
    # colocated vLLM actor (num_cpus=0.5) OMP_NUM_THREADS=1, and vLLM's in-process CPU engine then
    # generates on one thread (~185 instead of ~300 tokens/s here); exporting it is what a user
    # running `oorl train` on a small CPU box would do.
    need = sum(sum(b.get("CPU", 0) for b in g) for g in plan_bundles(cfg, use_gpu=False))
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, int(need + 0.999)), include_dashboard=False,
             _temp_dir=tempfile.mkdtemp(prefix="rb", dir="/tmp"), log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
                                       "OMP_NUM_THREADS": str(a.threads)}})

    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    cpu: dict[int, tuple] = {}

    class TimedTrainer(Trainer):
        def train_step(self, step: int) -> dict:
            starts[step] = time.perf_counter()
            if step == 1:
                cpu[0] = cpu_snapshot()
            m = super().train_step(step)
            ends[step] = time.perf_counter()
            cpu[step] = cpu_snapshot()
            return m

    trainer = TimedTrainer(cfg)
    trainer.run()
    t_total = time.perf_counter() - t_start
    ray.shutdown()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    measured = [r for r in rows if r["step"] > a.warmup]
    samples = a.prompts_per_step * a.group_size
    tokens = sum(round(r["response_len_mean"] * samples) for r in measured)
    # The measured span runs from the end of the last warm-up step to the end of the last step, so it
    # includes the driver's logging between steps (as TRL's on_step_end-to-on_step_end span does).
    wall = ends[total_steps] - (ends[a.warmup] if a.warmup else starts[1])
    phases = {}
    for key, label in (("time/generate_s", "generate (vLLM)"), ("time/reward_s", "reward"),
                       ("time/train_s", "train (fwd+bwd+AdamW)"), ("time/sync_s", "weight sync"),
                       ("time/probe_s", "logprob probe")):
        phases[label] = sum(r[key] for r in measured)
    phases["driver (batching, logging)"] = wall - sum(phases.values())
    return {
        "system": "OORL", "steps": len(measured), "tokens": tokens, "seconds": wall,
        "step_time_sum": sum(r["step_time_s"] for r in measured), "phases": phases,
        "reward_mean": sum(r["reward_mean"] for r in measured) / len(measured),
        "logprob_diff_max": max(r["logprob_diff_max"] for r in measured),
        "gen_tokens_per_s": tokens / max(phases["generate (vLLM)"], 1e-9),
        "startup_and_total_s": t_total, "run_dir": str(run_dir), "cpu": cpu_share(cpu[a.warmup], cpu[total_steps]),
        "warmup_s": ends[a.warmup] - starts[1] if a.warmup else 0.0,
        "warmup_gen_s": sum(r["time/generate_s"] for r in rows if r["step"] <= a.warmup),
        "per_step": per_step_rows([r["step"] for r in measured], ends, cpu,
                                  {r["step"]: round(r["response_len_mean"] * samples) for r in measured},
                                  {r["step"]: r["time/generate_s"] for r in measured}, starts[1]),
        "notes": f"zero_stage {cfg.learner.zero_stage}, world_size {cfg.learner.world_size}, "
                 f"colocate, weight_sync {cfg.weight_sync.backend}, probe {cfg.weight_sync.probe_size}",
    }


# ----------------------------------------------------------------------------------------- TRL
def run_trl(a: argparse.Namespace, work: Path) -> dict:
    import torch

    torch.set_num_threads(a.threads)
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from oorl.config import load_config
    from oorl.data.registry import load_tasks
    from oorl.reward.functions import resolve_reward
    from oorl.data.sampling import PromptSampler

    t_start = time.perf_counter()
    total_steps = a.warmup + a.steps
    cfg = load_config(a.config, [f"seed={a.seed}", f"rollout.prompts_per_step={a.prompts_per_step}"])
    d = cfg.data.train
    tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
    tok = AutoTokenizer.from_pretrained(a.model_dir)
    sampler = PromptSampler(len(tasks), a.prompts_per_step, a.seed)
    # Text prompts, templated exactly as OORL encodes them (oorl.data.sampling.encode_prompt): TRL then
    # passes completions to the reward as plain strings, which letter_match expects.
    rows = []
    for step in range(1, total_steps + 1):
        for i in sampler.indices(step):
            text = tok.apply_chat_template(tasks[i]["prompt"], add_generation_prompt=True, tokenize=False)
            rows.append({"prompt": text, "answer": tasks[i]["answer"]})
    dataset = Dataset.from_list(rows)
    reward_fn = resolve_reward(cfg.reward.functions[0].name)

    samples = a.prompts_per_step * a.group_size
    args = GRPOConfig(
        output_dir=str(work / "trl-run"), report_to="none", save_strategy="no", logging_steps=1,
        max_steps=total_steps, seed=a.seed, use_cpu=True, bf16=False, fp16=False,
        model_init_kwargs={"dtype": "float32"}, gradient_checkpointing=False,
        per_device_train_batch_size=a.micro_batch, gradient_accumulation_steps=samples // a.micro_batch,
        num_generations=a.group_size, max_completion_length=a.max_new_tokens,
        temperature=1.0, top_p=1.0, top_k=0, use_vllm=False, shuffle_dataset=False,
        beta=0.0, num_iterations=1, epsilon=0.2, loss_type="dapo", scale_rewards="group",
        learning_rate=a.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0, optim="adamw_torch",
        dataloader_num_workers=0, dataloader_pin_memory=False, log_completions=False, disable_tqdm=True,
    )
    assert args.generation_batch_size == samples and args.steps_per_generation == args.gradient_accumulation_steps

    per_step: dict[int, dict] = {}

    def bucket() -> dict:
        return per_step.setdefault(trainer.state.global_step + 1, {"tokens": 0, "gen": 0.0, "reward": 0.0})

    class TimedGRPO(GRPOTrainer):
        def _generate_single_turn(self, *args, **kwargs):
            t0 = time.perf_counter()
            completion_ids, logprobs = super()._generate_single_turn(*args, **kwargs)
            b = bucket()
            b["gen"] += time.perf_counter() - t0
            b["tokens"] += sum(len(c) for c in completion_ids)
            return completion_ids, logprobs

        def _calculate_rewards(self, *args, **kwargs):
            t0 = time.perf_counter()
            out = super()._calculate_rewards(*args, **kwargs)
            bucket()["reward"] += time.perf_counter() - t0
            return out

    ends: dict[int, float] = {}
    cpu: dict[int, tuple] = {}
    logged: dict[int, dict] = {}  # TRL's own per-step logs (logging_steps=1)

    class Timing(TrainerCallback):
        def on_train_begin(self, args_, state, control, **kw):
            cpu[0] = cpu_snapshot()

        def on_step_end(self, args_, state, control, **kw):
            ends[state.global_step] = time.perf_counter()
            cpu[state.global_step] = cpu_snapshot()

        def on_log(self, args_, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                logged[state.global_step] = dict(logs)

    trainer = TimedGRPO(model=a.model_dir, reward_funcs=[reward_fn], args=args, train_dataset=dataset,
                        processing_class=tok, callbacks=[Timing()])
    t_begin = time.perf_counter()
    trainer.train()
    t_total = time.perf_counter() - t_start
    measured = range(a.warmup + 1, total_steps + 1)
    tokens = sum(per_step[s]["tokens"] for s in measured)
    wall = ends[total_steps] - (ends[a.warmup] if a.warmup else t_begin)
    logged_tokens = sum(round(logged[s]["completions/mean_length"] * samples) for s in measured if s in logged)
    gen = sum(per_step[s]["gen"] for s in measured)
    reward = sum(per_step[s]["reward"] for s in measured)
    phases = {"generate (HF generate)": gen, "reward": reward,
              "train (fwd+bwd+AdamW) + rest": wall - gen - reward}
    return {
        "system": "TRL", "steps": len(measured), "tokens": tokens, "seconds": wall,
        "step_time_sum": sum(logged[s].get("step_time", 0.0) for s in measured if s in logged),
        "phases": phases, "logged_tokens": logged_tokens,
        "reward_mean": sum(logged[s].get("reward", 0.0) for s in measured if s in logged) / len(measured),
        "gen_tokens_per_s": tokens / max(gen, 1e-9), "startup_and_total_s": t_total,
        "cpu": cpu_share(cpu[a.warmup], cpu[total_steps]),
        "warmup_s": ends[a.warmup] - t_begin if a.warmup else 0.0,
        "warmup_gen_s": sum(per_step[s]["gen"] for s in range(1, a.warmup + 1)),
        "per_step": per_step_rows(list(measured), ends, cpu, {s: per_step[s]["tokens"] for s in measured},
                                  {s: per_step[s]["gen"] for s in measured}, t_begin),
        "notes": "use_vllm=False (transformers.generate), no gradient checkpointing, fp32",
    }


# ----------------------------------------------------------------------------------------- report
def print_report(results: dict[str, dict]) -> dict:
    """Print the tables; return the summary (ratios)."""
    from rich.console import Console
    from rich.table import Table

    con = Console(width=120)
    summary: dict = {}
    table = Table(title="GRPO end-to-end throughput (completion tokens / s, training included)")
    for col in ("system", "steps", "completion tokens", "seconds", "tokens/s", "s/step", "gen tokens/s", "reward",
                "own cores", "others' cores"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for r in results.values():
        table.add_row(r["system"], str(r["steps"]), str(r["tokens"]), f"{r['seconds']:.1f}",
                      f"{r['tokens'] / r['seconds']:.1f}", f"{r['seconds'] / r['steps']:.1f}",
                      f"{r['gen_tokens_per_s']:.0f}", f"{r['reward_mean']:.3f}",
                      f"{r['cpu']['own_cores']:.2f}", f"{r['cpu']['other_cores']:.2f}")
    con.print(table)
    con.print("own / others' cores: average CPU cores taken by the benchmarked system and by all other processes "
              f"on this {os.cpu_count()}-core machine during the measured steps; others above ~{QUIET_CORES} "
              "make the figure noisy (the machine is shared)")
    if "oorl" in results and "trl" in results:
        o, t = results["oorl"], results["trl"]
        summary["ratio"] = (o["tokens"] / o["seconds"]) / (t["tokens"] / t["seconds"])
        con.print(f"[bold]ratio OORL/TRL = {summary['ratio']:.2f}x[/bold] end-to-end completion tokens/s")
    quiet = {}
    for key, r in results.items():
        steps = r["per_step"]
        cells = "  ".join(f"{x['seconds']:.0f}s/{x['tokens']}({x['other_cores']:.1f})" for x in steps)
        con.print(f"{r['system']} per step, seconds/tokens(others' cores): {cells}")
        calm = [x for x in steps if x["other_cores"] < QUIET_CORES]
        if calm:
            quiet[key] = sum(x["tokens"] for x in calm) / sum(x["seconds"] for x in calm)
            con.print(f"  {len(calm)} quiet step(s) (others < {QUIET_CORES} cores): {quiet[key]:.1f} tokens/s")
    if "oorl" in quiet and "trl" in quiet:
        summary["quiet_ratio"] = quiet["oorl"] / quiet["trl"]
        con.print(f"ratio OORL/TRL over quiet steps only = {summary['quiet_ratio']:.2f}x")
    for r in results.values():
        pt = Table(title=f"{r['system']}: where the measured {r['seconds']:.1f} s went ({r['notes']})")
        pt.add_column("phase")
        pt.add_column("seconds", justify="right")
        pt.add_column("share", justify="right")
        pt.add_column("s/step", justify="right")
        for name, sec in r["phases"].items():
            pt.add_row(name, f"{sec:.1f}", f"{100 * sec / r['seconds']:.0f}%", f"{sec / r['steps']:.2f}")
        con.print(pt)
        extra = (f"start-up + all steps: {r['startup_and_total_s']:.0f} s; warm-up: {r['warmup_s']:.0f} s "
                 f"({r['warmup_gen_s']:.0f} s generating)")
        if "logged_tokens" in r:
            extra += f"; TRL's own completions/mean_length gives {r['logged_tokens']} tokens"
        if r.get("logprob_diff_max"):
            extra += f"; probe |logp_vllm - logp_learner| max {r['logprob_diff_max']:.1e}"
        con.print(f"  {extra}")
    return summary


def main() -> None:
    a = parse_args()
    if a.work_dir:
        work = Path(a.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-grpo-"))
    if a._worker:
        result = (run_oorl if a._worker == "oorl" else run_trl)(a, work)
        Path(a.result).write_text(json.dumps(result))
        return

    model_dir = prepare_model(a.model, Path("~/.cache/oorl/bench").expanduser())
    print("GRPO benchmark: OORL vs TRL GRPOTrainer, one shared setting")
    for line in setting_lines(a, model_dir):
        print("  " + line)
    print(f"  work dir         {work}", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), TOKENIZERS_PARALLELISM="false",
               TRANSFORMERS_VERBOSITY="error", RAY_DEDUP_LOGS="0")
    results: dict[str, dict] = {}
    for system in ("oorl", "trl"):
        if a.only and a.only != system:
            continue
        out = work / f"{system}-result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:], "--_worker", system,
               "--_model-dir", model_dir, "--_result", str(out), "--work-dir", str(work)]
        log = work / f"{system}.log"
        print(f"running {system} ... (log: {log})", flush=True)
        t0 = time.perf_counter()
        with log.open("w") as fh:
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(REPO)).returncode
        if rc != 0 or not out.exists():
            print(f"{system} failed (exit {rc}); last lines of {log}:")
            print("\n".join(log.read_text(errors="replace").splitlines()[-25:]))
            sys.exit(1)
        results[system] = json.loads(out.read_text())
        print(f"  {system} done in {time.perf_counter() - t0:.0f} s", flush=True)
    summary = print_report(results)
    if a.json:
        Path(a.json).write_text(json.dumps({"setting": setting_lines(a, model_dir), "results": results,
                                            "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
