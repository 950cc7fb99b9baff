"""Turning rollouts into padded training tensors, and splitting them across ranks (pure, tested)."""

from __future__ import annotations

import torch


def build_batch(prompt_ids: list[list[int]], response_ids: list[list[int]], advantages: list[float],
                pad_id: int, keep: list[bool] | None = None,
                behavior_logp: list[list[float]] | None = None) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``/``attention_mask``; ``loss_mask`` marks the response tokens.

    ``loss_mask[b, t]`` is 1 when token ``t`` of row ``b`` is a response token, i.e. it is predicted
    from position ``t - 1``; ``logp[:, t-1]`` pairs with ``loss_mask[:, t]``. ``row_mask[b]`` is 0 for
    a row left out of the loss (``keep[b]`` false: a sample that could not be judged); the row keeps
    its tokens, so micro-batches keep their shape and their shared prompt (see :func:`train_mask`).
    ``behavior_logp`` (the rollout engine's logprob of each response token, for truncated importance
    sampling) becomes ``behavior_logp[b, t-1]`` aligned with the learner's logprobs, NaN where unknown.
    """
    rows = [p + r for p, r in zip(prompt_ids, response_ids)]
    length = max(len(r) for r in rows)
    n = len(rows)
    input_ids = torch.full((n, length), pad_id, dtype=torch.long)
    attention = torch.zeros((n, length), dtype=torch.long)
    loss_mask = torch.zeros((n, length), dtype=torch.float32)
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        row = p + r
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention[i, : len(row)] = 1
        loss_mask[i, len(p): len(row)] = 1.0
    out = {}
    if behavior_logp is not None:
        beh = torch.full((n, max(length - 1, 1)), float("nan"))
        for i, (p, lps) in enumerate(zip(prompt_ids, behavior_logp)):
            k = min(len(lps), len(response_ids[i]))
            if k and p:
                beh[i, len(p) - 1: len(p) - 1 + k] = torch.tensor(lps[:k], dtype=torch.float32)
        out["behavior_logp"] = beh
    return out | {
        "input_ids": input_ids,
        "attention_mask": attention,
        "loss_mask": loss_mask,
        "advantages": torch.tensor(advantages, dtype=torch.float32),
        "row_mask": torch.tensor([1.0] * n if keep is None else [float(k) for k in keep], dtype=torch.float32),
    }


def train_mask(mb: dict[str, torch.Tensor]) -> torch.Tensor:
    """The tokens the loss counts, aligned with the logprobs (``[B, T-1]``): response tokens of the
    rows kept in the loss."""
    mask = mb["loss_mask"][:, 1:]
    return mask * mb["row_mask"].unsqueeze(1) if "row_mask" in mb else mask


def shard(batch: dict[str, torch.Tensor], world_size: int) -> list[dict[str, torch.Tensor]]:
    """Split along the first dimension into ``world_size`` equal contiguous shards."""
    n = next(iter(batch.values())).shape[0]
    if n % world_size:
        raise ValueError(f"batch of {n} rows does not split into {world_size} equal shards")
    k = n // world_size
    return [{key: v[r * k:(r + 1) * k] for key, v in batch.items()} for r in range(world_size)]


def micro_batches(batch: dict[str, torch.Tensor], size: int) -> list[dict[str, torch.Tensor]]:
    """Consecutive micro-batches of ``size`` rows, each trimmed to its own longest row."""
    n = batch["input_ids"].shape[0]
    out = []
    for s in range(0, n, size):
        mb = {k: v[s:s + size] for k, v in batch.items()}
        width = int(mb["attention_mask"].sum(1).max())
        out.append({k: (v[:, :width] if v.dim() == 2 else v) for k, v in mb.items()})
    return out


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """log p(input_ids[:, t] | < t) for t >= 1, shape [B, T-1], in float32."""
    return gather_logprobs(logits[:, :-1], input_ids[:, 1:])


def gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[..., target] in float32; ``logits`` [B, N, V], ``targets`` [B, N]."""
    logits = logits.float()
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
