#!/usr/bin/env python
"""OORL vs TRL's ``GRPOTrainer``: end-to-end GRPO throughput on CPU, same setting, each at its best.

One setting, run by both systems in turn, each in its own fresh process:
SmolLM2-135M-Instruct, the built-in ``smoke_letters`` prompts in the same order, a group of
``--group-size`` completions per prompt, ``--prompts-per-step`` prompts per step, ``--max-new-tokens``,
temperature 1 / top-p 1, the registered ``letter_match`` reward (TRL's reward signature), the same
learning rate, AdamW, grad clip 1, PPO-clip 0.2 with global token-mean normalisation, KL 0, one
optimizer update per step over all ``prompts x group`` completions (micro-batches of ``--micro-batch``).

Precision and options are each system's fastest here (measured; ``--oorl-dtype``, ``--trl-dtype``,
``--oorl-async``, ``--trl-vllm``, ``--micro-batch`` change them): both keep fp32 master weights and
Adam state. Every process of both systems runs on the same allocator (``--allocator``: tcmalloc,
preloaded, when it is installed; OORL's ``placement.cpu_allocator`` default): it speeds up both.

* OORL: the real trainer (``oorl.trainer.Trainer`` with ``configs/bench-cpu.yaml``), on a private
  local Ray instance; tokens and phase times come from its ``metrics.jsonl``. ``model.dtype``
  bfloat16 by default (bf16 autocast over the fp32 learner, bf16 vLLM engine and weight sync).
* TRL: ``trl.GRPOTrainer``, ``bf16=True`` by default (bf16 autocast over fp32 weights, the
  Trainer's mixed precision), generating with ``transformers.generate`` (``use_vllm=False``), or
  with vLLM colocated in its process with ``--trl-vllm``.

End-to-end throughput = completion tokens generated in the measured steps / wall-clock seconds of
those steps (generation + reward + training + weight sync, everything a step does); the first
``--warmup`` steps and the start-up (model loading, Ray, vLLM engine) are excluded.

Roofline (``--roofline``, on by default): OORL's step time over the sum of its phases' floors, the
floors measured in a third process (``run_floors``): generation at the standalone vLLM rate, training
FLOPs at the measured matmul peak, reward and weight sync as measured.

    .venv/bin/python benchmarks/bench_grpo_vs_trl.py --json out.json   # both + floors, ~15 min on 2 cores
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

from oorl.allocator import cpu_allocator_env

REPO = Path(__file__).resolve().parents[1]
QUIET_CORES = 0.25  # a step during which other processes took less CPU than this counts as quiet
DEFAULT_CONFIG = REPO / "configs" / "bench-cpu.yaml"


# ----------------------------------------------------------------------------------------- setting
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="measured steps (optimizer updates) per system")
    p.add_argument("--warmup", type=int, default=2,
                   help="steps run first and not measured (both systems): the first compiles; in the second "
                        "OORL's learner heap still grows to its peak (~0.3 M first-touch page faults, ~3 s of "
                        "kernel time on a 2-core VM)")
    p.add_argument("--prompts-per-step", type=int, default=4)
    p.add_argument("--group-size", type=int, default=8, help="completions per prompt (n_samples / num_generations)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--micro-batch", type=int, default=32,
                   help="sequences per forward/backward pass (both systems; one micro-batch per update is the "
                        "fastest for both here)")
    p.add_argument("--allocator", choices=["auto", "tcmalloc", "system"], default="auto",
                   help="memory allocator of every process of both systems (auto: tcmalloc where installed)")
    p.add_argument("--lr", type=float, default=1e-6)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                   help="torch/OpenMP threads for every process of both systems")
    p.add_argument("--probe", type=int, default=0,
                   help="OORL's weight_sync.probe_size: 0 skips the per-step logprob check (TRL has none); "
                        "4 is OORL's default")
    p.add_argument("--model", default="smollm2-135m-instruct",
                   help="a model spec as in model.path: 'smollm2-135m-instruct' or a Hugging Face model directory")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="the OORL config the overrides apply to")
    p.add_argument("--oorl-dtype", choices=["float32", "bfloat16"], default="bfloat16",
                   help="OORL's model.dtype (learner compute, vLLM engine, weight sync; fp32 master weights)")
    p.add_argument("--oorl-bf16-mode", choices=["master", "autocast"], default="autocast",
                   help="OORL's learner.bf16_mode: DeepSpeed's bf16 mode or bf16 autocast over the fp32 module")
    p.add_argument("--oorl-async", action="store_true",
                   help="OORL with split placement and trainer.async_steps=1 (one core per role)")
    p.add_argument("--trl-dtype", choices=["float32", "bfloat16"], default="bfloat16",
                   help="TRL's precision: bfloat16 = GRPOConfig(bf16=True), fp32 weights under bf16 autocast")
    p.add_argument("--trl-compile", action=argparse.BooleanOptionalAction, default=False,
                   help="TRL with the Trainer's torch_compile=True (torch.compile of the model, used by its "
                        "training forward and by generate)")
    p.add_argument("--trl-vllm", action="store_true",
                   help="TRL generating with vLLM colocated in its process (use_vllm=True, vllm_mode='colocate')")
    p.add_argument("--roofline", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the floors of OORL's phases (standalone vLLM, learner FLOPs at the matmul peak)")
    p.add_argument("--only", choices=["oorl", "trl"], default=None, help="run one system only")
    p.add_argument("--work-dir", default=None, help="where runs go (default: a fresh temporary directory)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--_worker", choices=["oorl", "trl", "floors"], help=argparse.SUPPRESS)
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


def allocator_name(a: argparse.Namespace) -> str:
    """The allocator every process runs on: ``--allocator``, auto resolved as OORL resolves it."""
    if a.allocator != "auto":
        return a.allocator
    return "tcmalloc" if cpu_allocator_env("auto") else "system"


def setting_lines(a: argparse.Namespace, model_dir: str) -> list[str]:
    n = a.prompts_per_step * a.group_size
    return [
        f"model            {a.model} (CPU) -> {model_dir}",
        "prompts          oorl smoke_letters (size 256, seed 0), same order for both (OORL's sampler)",
        f"batch            {a.prompts_per_step} prompts x {a.group_size} completions = {n} per step, "
        f"max {a.max_new_tokens} new tokens, temperature 1.0, top_p 1.0",
        "reward           oorl letter_match (TRL signature), group-normalised advantages (mean/std)",
        f"update           1 AdamW step per batch ({n // a.micro_batch} micro-batches of {a.micro_batch}), "
        f"lr {a.lr:g} constant, clip 0.2, grad-clip 1.0, KL 0, token-mean loss",
        f"steps            {a.warmup} warm-up + {a.steps} measured per system; {a.threads} torch threads "
        f"(OMP_NUM_THREADS={a.threads}) in every process",
        f"allocator        {allocator_name(a)} in every process of both systems",
        f"OORL             {Path(a.config).name}: {a.oorl_dtype}"
        + (f" ({a.oorl_bf16_mode})" if a.oorl_dtype == "bfloat16" else "") + " (fp32 master weights and Adam state), 1 learner "
        f"rank, ZeRO 0, " + ("split placement, one core each, asynchronous rollouts (one step ahead, TIS)"
                             if a.oorl_async else "colocated vLLM engine") + f", CPU weight sync, probe_size {a.probe}",
        "TRL              GRPOTrainer, " + ("use_vllm=True, vllm_mode=colocate" if a.trl_vllm else
                                              "use_vllm=False (transformers.generate)") + ", loss_type dapo, beta 0, "
        + ("bf16=True (fp32 weights and Adam state, bf16 autocast)" if a.trl_dtype == "bfloat16" else "fp32")
        + (", torch_compile=True" if a.trl_compile else ""),
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
        f"placement.cpu_allocator={allocator_name(a)}", "weight_sync.logprob_tolerance=auto",
        f"weight_sync.probe_size={a.probe}", f"trainer.steps={total_steps}", "trainer.save_every=0",
        f"model.dtype={a.oorl_dtype}", f"learner.bf16_mode={a.oorl_bf16_mode}",
        *(["placement.mode=split", "trainer.async_steps=1", "learner.cpus_per_worker=1"] if a.oorl_async else []),
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
    gen_key = "time/wait_generate_s" if a.oorl_async else "time/generate_s"
    for key, label in ((gen_key, "generate (vLLM)" + (", waited for" if a.oorl_async else "")), ("time/reward_s", "reward"),
                       ("time/train_s", "train (fwd+bwd+AdamW)"), ("time/sync_s", "weight sync"),
                       ("time/probe_s", "logprob probe")):
        phases[label] = sum(r[key] for r in measured)
    phases["driver (batching, logging)"] = wall - sum(phases.values())
    return {
        "system": "OORL", "steps": len(measured), "tokens": tokens, "seconds": wall,
        "step_time_sum": sum(r["step_time_s"] for r in measured), "phases": phases,
        "reward_mean": sum(r["reward_mean"] for r in measured) / len(measured),
        "logprob_diff_max": max(r["logprob_diff_max"] for r in measured),
        "gen_tokens_per_s": tokens / max(sum(r["time/generate_s"] for r in measured), 1e-9),
        "mean": {k: sum(r.get(k, 0.0) for r in measured) / len(measured)
                 for k in ("time/generate_s", "time/reward_s", "time/train_s", "time/sync_s", "time/probe_s")},
        "startup_and_total_s": t_total, "run_dir": str(run_dir), "cpu": cpu_share(cpu[a.warmup], cpu[total_steps]),
        "warmup_s": ends[a.warmup] - starts[1] if a.warmup else 0.0,
        "warmup_gen_s": sum(r["time/generate_s"] for r in rows if r["step"] <= a.warmup),
        "per_step": per_step_rows([r["step"] for r in measured], ends, cpu,
                                  {r["step"]: round(r["response_len_mean"] * samples) for r in measured},
                                  {r["step"]: r["time/generate_s"] for r in measured}, starts[1]),
        "notes": f"{cfg.model.dtype}{' ' + cfg.learner.bf16_mode if cfg.model.dtype == 'bfloat16' else ''}, zero_stage {cfg.learner.zero_stage}, world_size {cfg.learner.world_size}, "
                 f"{cfg.placement.mode}{', async' if cfg.trainer.async_steps else ''}, weight_sync "
                 f"{cfg.weight_sync.backend}, probe {cfg.weight_sync.probe_size}",
    }


# ----------------------------------------------------------------------------------------- TRL
def trl_generation_kwargs(a: argparse.Namespace, cfg) -> dict:
    if not a.trl_vllm:
        return {"use_vllm": False}
    # vLLM in TRL's own process, as OORL's CPU engine runs: KV cache size from OORL's setting
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(cfg.rollout.cpu_kv_cache_gib))
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    return {"use_vllm": True, "vllm_mode": "colocate", "vllm_enable_sleep_mode": False,
            "vllm_max_model_length": cfg.rollout.max_prompt_tokens + a.max_new_tokens}


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
        max_steps=total_steps, seed=a.seed, use_cpu=True, bf16=a.trl_dtype == "bfloat16", fp16=False,
        torch_compile=a.trl_compile,
        model_init_kwargs={"dtype": "float32"}, gradient_checkpointing=False,
        per_device_train_batch_size=a.micro_batch, gradient_accumulation_steps=samples // a.micro_batch,
        num_generations=a.group_size, max_completion_length=a.max_new_tokens,
        temperature=1.0, top_p=1.0, top_k=0, shuffle_dataset=False, **trl_generation_kwargs(a, cfg),
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
    phases = {"generate (vLLM)" if a.trl_vllm else "generate (HF generate)": gen, "reward": reward,
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
        "notes": ("use_vllm=True colocate" if a.trl_vllm else "use_vllm=False (transformers.generate)")
                 + ", no gradient checkpointing, "
                 + ("bf16=True (bf16 autocast, fp32 weights)" if a.trl_dtype == "bfloat16" else "fp32")
                 + (", torch_compile=True" if a.trl_compile else ""),
    }


# ----------------------------------------------------------------------------------------- floors
def run_floors(a: argparse.Namespace, work: Path) -> dict:
    """The floors of OORL's phases on this machine, measured in this process (no Ray, nothing else running):

    * generation: OORL's own engine class (``RolloutWorker``, same engine arguments and dtype) called
      directly on the measured steps' prompts and seeds, after one warm-up batch: completion tokens / s;
    * training: the FLOPs of one learner step on one of those batches (``FlopCounterMode`` around OORL's
      ``LearnerWorker.train_step``: matmuls and attention, forward and backward), per completion token,
      and the fastest ``a @ b`` at the learner's matmul shapes in the same dtype and thread count
      (``bench_learner.matmul_peak``). Elementwise work, the optimizer and copies count as zero here,
      so this floor is below anything reachable.
    Reward and weight sync have no separate floor: their measured times are used as they are.
    """
    import socket

    import torch

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_learner
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoTokenizer

    from oorl.config import load_config
    from oorl.data.registry import load_tasks
    from oorl.data.sampling import PromptSampler, encode_prompt, sample_seed
    from oorl.learner.batch import build_batch
    from oorl.weight_sync import resolve_backend

    torch.set_num_threads(a.threads)
    cfg = load_config(a.config, [f"model.path={a.model_dir}", f"seed={a.seed}", f"model.dtype={a.oorl_dtype}",
                                 f"rollout.prompts_per_step={a.prompts_per_step}", f"rollout.n_samples={a.group_size}",
                                 f"rollout.max_new_tokens={a.max_new_tokens}", f"learner.micro_batch_size={a.micro_batch}",
                                 f"trainer.steps={a.warmup + a.steps}", "weight_sync.probe_size=0",
                                 f"learner.bf16_mode={a.oorl_bf16_mode}"])
    d, rc = cfg.data.train, cfg.rollout
    tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
    tok = AutoTokenizer.from_pretrained(a.model_dir)
    ids = [encode_prompt(tok, t["prompt"], rc.max_prompt_tokens) for t in tasks]
    sampler = PromptSampler(len(tasks), rc.prompts_per_step, cfg.seed)

    def step_batch(step: int) -> tuple[list, list]:
        prompts, seeds = [], []
        for g, t in enumerate(sampler.indices(step)):
            for j in range(rc.n_samples):
                prompts.append(ids[t])
                seeds.append(sample_seed(cfg.seed, step, g * rc.n_samples + j))
        return prompts, seeds

    # the matmul peak first, in a process nothing else has touched yet (vLLM's CPU worker may pin threads)
    from transformers import AutoConfig

    shapes = bench_learner.learner_matmul_shapes(AutoConfig.from_pretrained(a.model_dir), a.micro_batch * a.max_new_tokens)
    dtype = torch.bfloat16 if a.oorl_dtype == "bfloat16" else torch.float32
    peak = bench_learner.matmul_peak(shapes, dtype, reps=5)
    affinity = sorted(os.sched_getaffinity(0))

    from oorl.rollout.worker import RolloutWorker

    engine = RolloutWorker(a.model_dir, rc.model_dump(), cfg.model.dtype, cfg.seed,
                           resolve_backend(cfg.weight_sync.backend, "colocate", False), False,
                           rc.max_prompt_tokens + rc.max_new_tokens)
    # token logprobs as the trainer asks for them (only with truncated importance sampling)
    engine.generate(*step_batch(max(a.warmup, 1)), rc.max_new_tokens, rc.temperature, rc.top_p,
                    logprobs=cfg.use_tis)  # warm-up
    gen_s, gen_tokens, batches = 0.0, 0, []
    for step in range(a.warmup + 1, a.warmup + a.steps + 1):
        prompts, seeds = step_batch(step)
        out = engine.generate(prompts, seeds, rc.max_new_tokens, rc.temperature, rc.top_p, logprobs=cfg.use_tis)
        gen_s += out["time_s"]
        responses = [r["token_ids"] or [tok.eos_token_id] for r in out["rows"]]
        gen_tokens += sum(len(r["token_ids"]) for r in out["rows"])
        batches.append((prompts, responses))
    del engine
    import gc

    gc.collect()

    from oorl.learner.worker import LearnerWorker

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    learner = LearnerWorker(cfg.model_dump(), a.model_dir, 0, 1, "127.0.0.1", port, use_gpu=False,
                            num_threads=a.threads)
    prompts, responses = batches[0]
    g = torch.Generator().manual_seed(0)
    batch = build_batch(prompts, responses, torch.randn(len(prompts), generator=g).tolist(), pad_id=tok.pad_token_id or 0)
    bench_learner.count_cpu_attention()
    learner.train_step(batch)  # warm-up, outside the count
    # eager under the counter: compiling (learner.compile) inside a dispatch mode leaves a graph that
    # runs ~10% slower afterwards; the FLOPs are the same
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as fc:
        learner.train_step(batch)
    flops = fc.get_total_flops()
    step_tokens = sum(len(r) for r in responses)
    return {"vllm_tokens_per_s": gen_tokens / gen_s, "vllm_gen_s": gen_s, "vllm_tokens": gen_tokens,
            "train_flops_per_token": flops / step_tokens, "train_flops_step": flops, "train_step_tokens": step_tokens,
            "matmul_peak_gflops": max(peak.values()), "matmul_gflops_by_shape": peak, "dtype": a.oorl_dtype,
            "threads": a.threads, "cpus": affinity, "cpus_after_vllm": sorted(os.sched_getaffinity(0)),
            "loadavg": os.getloadavg()}


def roofline(o: dict, f: dict) -> dict:
    """OORL's mean step time over the sum of its phases' floors (see ``run_floors``)."""
    tokens = o["tokens"] / o["steps"]
    floors = {"generate": tokens / f["vllm_tokens_per_s"],
              "train": f["train_flops_per_token"] * tokens / (f["matmul_peak_gflops"] * 1e9),
              "reward": o["mean"]["time/reward_s"],
              "sync + probe": o["mean"]["time/sync_s"] + o["mean"]["time/probe_s"]}
    measured = {"generate": o["mean"]["time/generate_s"], "train": o["mean"]["time/train_s"],
                "reward": o["mean"]["time/reward_s"], "sync + probe": floors["sync + probe"]}
    step = o["seconds"] / o["steps"]
    return {"step_s": step, "floors_s": floors, "measured_s": measured, "floor_sum_s": sum(floors.values()),
            "ratio": step / sum(floors.values())}


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


def print_roofline(r: dict, f: dict) -> None:
    print(f"roofline: OORL {r['step_s']:.2f} s/step over the sum of its phases' floors {r['floor_sum_s']:.2f} s "
          f"= {r['ratio']:.2f} (goal <= 1.3)")
    print(f"  floors: standalone vLLM {f['vllm_tokens_per_s']:.0f} completion tokens/s ({f['dtype']}); learner "
          f"{f['train_flops_per_token'] / 1e9:.2f} GFLOP per completion token at the {f['matmul_peak_gflops']:.0f} "
          f"GFLOP/s matmul peak ({f['threads']} threads); reward and sync as measured")
    for k, floor in r["floors_s"].items():
        m = r["measured_s"][k]
        print(f"  {k:13s} measured {m:6.2f} s/step   floor {floor:6.2f} s/step   ({m / max(floor, 1e-9):.1f}x)")


def main() -> None:
    a = parse_args()
    if a.work_dir:
        work = Path(a.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-grpo-"))
    if a._worker:
        result = {"oorl": run_oorl, "trl": run_trl, "floors": run_floors}[a._worker](a, work)
        Path(a.result).write_text(json.dumps(result))
        return

    model_dir = prepare_model(a.model, Path("~/.cache/oorl/bench").expanduser())
    print("GRPO benchmark: OORL vs TRL GRPOTrainer, one shared setting")
    for line in setting_lines(a, model_dir):
        print("  " + line)
    print(f"  work dir         {work}", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), TOKENIZERS_PARALLELISM="false",
               TRANSFORMERS_VERBOSITY="error", RAY_DEDUP_LOGS="0", **cpu_allocator_env(allocator_name(a)))
    results: dict[str, dict] = {}
    systems = [a.only] if a.only else ["oorl", "trl"]
    if a.roofline and "oorl" in systems:
        systems.insert(1, "floors")  # OORL's floors, right after its run
    for system in systems:
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
    floors = results.pop("floors", None)
    summary = print_report(results)
    if floors and "oorl" in results:
        summary["roofline"] = roofline(results["oorl"], floors)
        print_roofline(summary["roofline"], floors)
    if a.json:
        Path(a.json).write_text(json.dumps({"setting": setting_lines(a, model_dir), "results": results,
                                            "floors": floors, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
