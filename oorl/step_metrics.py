"""What the driver computes from a step's samples and timings (pure functions, tested directly):
advantages from the judged samples, the infra-error check, the step's sample metrics and records,
phase timings with their wall-clock spans, and the asynchronous overlap figure."""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch

from oorl.algo.advantages import compute_advantages
from oorl.errors import TrainingError
from oorl.types import Sample


def assign_advantages(samples: list[Sample], estimator: str, kwargs: dict) -> None:
    """Advantages from the judged samples only. A sample that could not be judged (the jail failed)
    is left out of its group's statistics and of the loss (advantage 0, masked), and its group is
    kept: dropping the group would also throw away the answers that were judged, and a group's
    baseline from its other samples is still an unbiased one."""
    judged = [s for s in samples if s.ok]
    if not judged:
        return
    rewards = torch.tensor([s.reward for s in judged], dtype=torch.float32)
    groups = torch.tensor([s.group for s in judged], dtype=torch.long)
    for s, a in zip(judged, compute_advantages(estimator, rewards, groups, **kwargs).tolist()):
        s.advantage = a


def check_infra(step: int, samples: list[Sample], limit: float) -> int:
    """The number of samples that could not be judged; over ``limit`` (a share) the run stops."""
    bad = [s for s in samples if not s.ok]
    if len(bad) > limit * len(samples):
        raise TrainingError(
            f"step {step}: {len(bad)} of {len(samples)} samples could not be judged (> reward.max_infra_error_share="
            f"{limit}); first: {bad[0].detail}; check the reward workers with `oorl doctor`")
    return len(bad)


def overlap_metrics(generate: tuple[float, float], train: tuple[float, float] | None) -> dict:
    """How much of an asynchronous generation (its engines' start and end, Unix seconds) ran while the
    learner trained the step before (``train``'s span): seconds, and the share of the generation."""
    if train is None:
        return {"async/overlap_s": 0.0, "async/overlap_share": 0.0}
    overlap = max(0.0, min(generate[1], train[1]) - max(generate[0], train[0]))
    return {"async/overlap_s": overlap, "async/overlap_share": overlap / max(generate[1] - generate[0], 1e-9)}


@contextmanager
def timed(phases: dict, name: str):
    """``time/{name}_s`` in ``phases``, and the phase's wall-clock span in ``phases["spans"]``
    (``[name, start, end]``, Unix seconds) for the run's timeline."""
    t0, w0 = time.perf_counter(), time.time()
    yield
    phases[f"time/{name}_s"] = time.perf_counter() - t0
    phases.setdefault("spans", []).append([name, w0, w0 + phases[f"time/{name}_s"]])


def sample_metrics(samples: list[Sample], gen_s: float) -> dict:
    """Rewards, advantages and lengths of a step's samples (judged ones for the rewards)."""
    if not samples:  # off-policy only
        return {}
    judged = [s for s in samples if s.ok] or samples
    rewards = torch.tensor([s.reward for s in judged])
    lens = [len(s.response_ids) for s in samples]
    m = {"reward_mean": float(rewards.mean()), "reward_std": float(rewards.std(unbiased=False)),
         "adv_abs_mean": sum(abs(s.advantage) for s in judged) / len(judged),
         "response_len_mean": sum(lens) / len(lens)}
    if gen_s > 0:  # 0: generated before the checkpoint a run resumed from
        m["gen_tokens_per_s"] = sum(lens) / gen_s
    for name in judged[0].rewards:
        vals = [s.rewards[name] for s in judged if s.ok]
        m[f"reward/{name}"] = sum(vals) / len(vals) if vals else float("nan")
    return m


def sample_records(step: int, samples: list[Sample], tasks, k: int) -> list[dict]:
    """``trainer.log_samples`` completions of this step, spread over its prompts, for samples.jsonl."""
    k = min(k, len(samples))
    out = []
    for j in range(k):
        s = samples[j * len(samples) // k]
        task = tasks[s.task]
        prompt = task.get("prompt")
        if isinstance(prompt, list):  # chat messages: the last user turn is the question
            prompt = next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")
        out.append({"step": step, "task_id": task.get("id"), "group": s.group, "engine": s.engine,
                    "reward_worker": s.reward_worker, "prompt": prompt, "completion": s.text, "reward": s.reward,
                    "advantage": s.advantage, "status": s.status.value, "rewards": s.rewards})
    return out
