"""Evaluation: sample k completions per eval task on the rollout group and judge them on the reward
pool with the configured scorer, standalone (``oorl eval``) or during training.

Judging runs on the reward workers (their jail configuration, ``reward.sandbox``), the summary in
the driver. ``oorl eval`` runs one in-process engine and a local pool of one in-process reward
worker: the same classes, the same jail configuration.
"""

from __future__ import annotations

from pathlib import Path

from oorl.config import Config
from oorl.data.registry import Task, load_tasks
from oorl.data.sampling import encode_prompt, sample_seed
from oorl.errors import UserError
from oorl.eval.report import EvalResult, write_report
from oorl.eval.scorers import Scorer, make_scorer
from oorl.types import Sample

# options of the prolog scorer that the prolog_correctness reward also takes: eval checks answers
# the way training rewards them unless trainer.eval_scorer_kwargs says otherwise
_PROLOG_CHECK = ("abs_tol", "rel_tol", "accept_expressions")


def eval_tasks(cfg: Config) -> list[Task]:
    d = cfg.data.eval
    if d is None:
        raise UserError("no data.eval section in the config: add one (e.g. the heldout split) to evaluate")
    tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
    return tasks[: cfg.trainer.eval_limit] if cfg.trainer.eval_limit else tasks


def eval_scorer(cfg: Config) -> Scorer:
    options = dict(cfg.trainer.eval_scorer_kwargs)
    if cfg.trainer.eval_scorer == "prolog" and not options:
        kwargs = next((f.kwargs for f in cfg.reward.functions if f.name == "prolog_correctness"), {})
        options = {k: v for k, v in kwargs.items() if k in _PROLOG_CHECK}
    return make_scorer(cfg.trainer.eval_scorer, **options)


def sample_completions(rollouts, tokenizer, cfg: Config, tasks: list[Task], k: int) -> list[list[str]]:
    """``k`` completions per task at ``trainer.eval_temperature``, seeded (step -1): the same
    completions for the same weights, whatever the number of engines."""
    samples = []
    for i, t in enumerate(tasks):
        ids = encode_prompt(tokenizer, t["prompt"], cfg.rollout.max_prompt_tokens)
        samples += [Sample(ids, group=i, task=i, seed=sample_seed(cfg.seed, -1, i * k + j)) for j in range(k)]
    rollouts.generate(samples, cfg.rollout.max_new_tokens, cfg.trainer.eval_temperature, cfg.rollout.top_p)
    return [[s.text for s in samples[i * k:(i + 1) * k]] for i in range(len(tasks))]


def evaluate(cfg: Config, tasks: list[Task], scorer: Scorer, rollouts, pool, tokenizer, k: int) -> EvalResult:
    completions = sample_completions(rollouts, tokenizer, cfg, tasks, k)
    outcomes = pool.evaluate(scorer, tasks, completions)
    return EvalResult.build(scorer, tasks, completions, outcomes)


def run_eval(cfg: Config, model: str, samples: int, out_dir: Path) -> tuple[dict, list[Path]]:
    """``oorl eval``: the config's eval tasks on one in-process vLLM engine on ``model`` (a model
    directory or a checkpoint), and, when ``algo.gepo.path`` is set, its held-out IR groups scored in
    this process against the reference policy (``model.path``)."""
    from transformers import AutoTokenizer

    from oorl.models import resolve_model

    if cfg.data.eval is None and not cfg.algo.gepo.path:
        raise UserError("nothing to evaluate: the config has neither a data.eval section nor algo.gepo.path")
    scorer = eval_scorer(cfg) if cfg.data.eval is not None else None  # bad names fail before the engine starts
    model_dir = resolve_model(model, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    metrics, paths = {}, []
    if scorer is not None:
        metrics, paths = _run_task_eval(cfg, model, model_dir, scorer, tokenizer, samples, out_dir)
    if cfg.algo.gepo.path:
        m, p = _run_group_eval(cfg, model, model_dir, tokenizer, out_dir)
        metrics, paths = {**metrics, **m}, paths + p
    return metrics, paths


def _run_task_eval(cfg, model, model_dir, scorer, tokenizer, samples, out_dir):
    import torch

    from oorl.eval.metrics import metrics_for_log
    from oorl.models import check_context
    from oorl.reward.pool import RewardPool
    from oorl.rollout.group import RolloutGroup
    from oorl.rollout.worker import RolloutWorker

    pool = RewardPool.local(cfg.reward.model_dump())
    check_context(model_dir, cfg.rollout.max_prompt_tokens, cfg.rollout.max_new_tokens)
    tasks = eval_tasks(cfg)
    use_gpu = torch.cuda.is_available()
    engine = RolloutWorker(model_dir, cfg.rollout.model_dump(), cfg.model.dtype, cfg.seed, "oorl_cpu" if not use_gpu else "nccl",
                           use_gpu, cfg.rollout.max_prompt_tokens + cfg.rollout.max_new_tokens)
    result = evaluate(cfg, tasks, scorer, RolloutGroup([engine], logprobs=False), pool, tokenizer, samples)
    extra = {"model": str(model), "model_dir": model_dir, "samples": samples, "tasks": len(tasks),
             "scorer": cfg.trainer.eval_scorer, "sandbox": pool.sandbox_limits()[0]}
    paths = list(write_report(result, out_dir, name="eval", extra=extra))
    return metrics_for_log(result.metrics), paths


def _run_group_eval(cfg, model, model_dir, tokenizer, out_dir):
    from oorl.data.ir_groups.stream import GroupStream
    from oorl.eval import groups as group_eval
    from oorl.models import resolve_model

    stream = GroupStream(cfg.algo.gepo, tokenizer, cfg.seed)
    if not stream.heldout:
        raise UserError(f"algo.gepo.path {cfg.algo.gepo.path}: no held-out group to evaluate "
                        f"(algo.gepo.heldout_fraction={cfg.algo.gepo.heldout_fraction})")
    ref_dir = resolve_model(cfg.model.path, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
    per_group = group_eval.local_group_margins(cfg, model_dir, ref_dir, tokenizer, stream)
    for g, tg in zip(per_group, stream.heldout):
        g["id"] = tg.id
    m = group_eval.group_metrics(per_group)
    extra = {"model": str(model), "reference": ref_dir, "groups_file": cfg.algo.gepo.path, "beta": cfg.algo.gepo.beta}
    return group_eval.metrics_for_log(m), group_eval.write_group_report(m, per_group, out_dir, extra)
