"""Evaluation: sample k completions per eval task and score them, standalone or during training.

``prolog`` scoring checks answers in the jailed Prolog executor (accuracy of the first sample with a
Wilson interval, any-of-k, all-of-k, unbiased pass@k, failures by kind); ``reward`` scoring reports
the mean of the configured reward functions (for tasks without an answer checker).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Callable

from oorl.config import Config
from oorl.data.registry import Task, load_tasks
from oorl.errors import UserError

# generate(prompt_ids, seeds, max_new_tokens, temperature, top_p) -> list of rows {"text", "token_ids"}
GenerateFn = Callable[..., list[dict]]


def eval_tasks(cfg: Config) -> list[Task]:
    d = cfg.data.eval
    if d is None:
        raise UserError("no data.eval section in the config: add one (e.g. the heldout split) to evaluate")
    tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
    return tasks[: cfg.trainer.eval_limit] if cfg.trainer.eval_limit else tasks


def sample(generate: GenerateFn, tokenizer, cfg: Config, tasks: list[Task], k: int) -> list[list[str]]:
    from oorl.trainer import encode_prompt, sample_seed

    prompts = [encode_prompt(tokenizer, t["prompt"], cfg.rollout.max_prompt_tokens) for t in tasks]
    flat = [p for p in prompts for _ in range(k)]
    seeds = [sample_seed(cfg.seed, -1, i) for i in range(len(flat))]
    rows = generate(flat, seeds, cfg.rollout.max_new_tokens, cfg.trainer.eval_temperature, cfg.rollout.top_p)
    texts = [r["text"] for r in rows]
    return [texts[i * k:(i + 1) * k] for i in range(len(tasks))]


def score(cfg: Config, tasks: list[Task], completions: list[list[str]]) -> tuple[dict, object]:
    """Flat ``eval/...`` metrics, and the detailed result (for reports)."""
    if cfg.trainer.eval_scorer == "prolog":
        from oorl.eval_metrics import metrics_for_log, score_completions

        kwargs = next((f.kwargs for f in cfg.reward.functions if f.name == "prolog_correctness"), {})
        check = {k: v for k, v in kwargs.items() if k in ("abs_tol", "rel_tol", "accept_expressions")}
        result = score_completions(tasks, completions, **check)
        return metrics_for_log(result), result
    from oorl.reward.functions import resolve_reward

    flat_tasks = [t for t, cs in zip(tasks, completions) for _ in cs]
    flat = [c for cs in completions for c in cs]
    cols = sorted({k for t in tasks for k in t if k not in ("id", "prompt")})
    columns = {c: [t.get(c) for t in flat_tasks] for c in cols}
    prompts = [json.dumps(t["prompt"]) for t in flat_tasks]
    total = [0.0] * len(flat)
    metrics = {}
    for spec in cfg.reward.functions:
        fn = functools.partial(resolve_reward(spec.name), **spec.kwargs)
        vals = fn(prompts, flat, **columns)
        metrics[f"eval/reward/{spec.name}"] = sum(vals) / len(vals)
        total = [a + spec.weight * v for a, v in zip(total, vals)]
    metrics["eval/reward_mean"] = sum(total) / len(total)
    return metrics, {"metrics": metrics, "tasks": len(tasks), "samples_per_task": len(completions[0])}


def run_eval(cfg: Config, model: str, samples: int, out_dir: Path) -> tuple[dict, list[Path]]:
    """``oorl eval``: one in-process vLLM engine on ``model`` (a model directory or a checkpoint)."""
    import torch
    from transformers import AutoTokenizer

    from oorl.models import check_context, resolve_model
    from oorl.rollout.worker import RolloutWorker

    model_dir = resolve_model(model, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
    check_context(model_dir, cfg.rollout.max_prompt_tokens, cfg.rollout.max_new_tokens)
    tasks = eval_tasks(cfg)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    use_gpu = torch.cuda.is_available()
    engine = RolloutWorker(model_dir, cfg.rollout.model_dump(), cfg.model.dtype, cfg.seed, "oorl_cpu" if not use_gpu else "nccl",
                           use_gpu, cfg.rollout.max_prompt_tokens + cfg.rollout.max_new_tokens)

    def generate(prompts, seeds, max_new, temperature, top_p):
        return engine.generate(prompts, seeds, max_new, temperature, top_p)["rows"]

    completions = sample(generate, tokenizer, cfg, tasks, samples)
    metrics, result = score(cfg, tasks, completions)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {"model": str(model), "model_dir": model_dir, "samples": samples, "tasks": len(tasks)}
    if cfg.trainer.eval_scorer == "prolog":
        from oorl.eval_metrics import write_report

        paths = list(write_report(result, out_dir, name="eval", extra=extra))
    else:
        p = out_dir / "eval.json"
        p.write_text(json.dumps({**extra, **metrics}, indent=2))
        md = out_dir / "eval.md"
        md.write_text("| metric | value |\n|---|---|\n" + "".join(f"| {k} | {v:.4f} |\n" for k, v in metrics.items()))
        paths = [p, md]
    return metrics, paths
