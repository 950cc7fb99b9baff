"""Policy losses and the token-normalisation rules that turn per-token losses into one scalar.

A loss is computed in two stages:

1. a per-token loss ``[B, T]`` (e.g. :func:`ppo_clip_loss`), exactly 0 where ``mask`` is 0;
2. :func:`aggregate` reduces it to a scalar under one of three modes.

``mask`` is binary everywhere in this package: 1/True on response tokens, 0/False on prompt and padding.

Normalisation rules
-------------------
One optimizer step consumes M micro-batches on each of W data-parallel ranks. Let ``l[i,t]`` be the
per-token loss, ``|o_i|`` the number of response tokens of sequence i, and over the *whole step*
(all micro-batches of all ranks) ``N_tok = sum_i |o_i|`` and ``N_seq`` = number of sequences with at
least one response token. The step's loss ``L`` is

====================  =======================================  =========================================
mode                  L                                        weighting
====================  =======================================  =========================================
token_mean            sum_i sum_t l[i,t] / N_tok               every token equal (DAPO); default
seq_mean_token_mean   sum_i (sum_t l[i,t] / |o_i|) / N_seq     every sequence equal (original GRPO)
seq_mean_token_sum    sum_i sum_t l[i,t] / N_seq               Dr. GRPO, up to a constant: Dr. GRPO
                                                               divides by N_seq * L_max, i.e. this
                                                               loss times 1/L_max (fold it into the lr)
====================  =======================================  =========================================

``aggregate`` on one micro-batch returns that micro-batch's *share* of L: its own numerator divided by
the *global* denominator (``global_tokens`` = N_tok, ``num_sequences`` = N_seq). Therefore the **sum** of
the scalars of every micro-batch on every rank is exactly L, however the tokens are spread over
micro-batches and ranks. Without the global counts the local ones are used, which is exact only for
one micro-batch on one rank.

Computing the global counts: for each micro-batch ``local_counts(mask)`` gives (tokens, sequences); sum
them over the rank's micro-batches, then ``all_reduce(SUM)`` over the data-parallel group, once per
step before the first forward.

Scaling for DeepSpeed
---------------------
``engine.backward(loss)`` divides ``loss`` by ``gradient_accumulation_steps`` (``scale_wrt_gas=True``,
the default; DeepSpeed 0.19 ``engine.py``), and the gradient reduction *averages* over the
``dp_world_size`` ranks. The applied gradient is thus ``grad(sum of micro-batch losses) / (W * GAS)``.
To apply ``grad(L)``, the caller backwards ``loss * dp_loss_scale(W, GAS)``. If it calls
``engine.backward(loss, scale_wrt_gas=False)`` (recommended when the number of micro-batches varies,
e.g. token-budget batching), it uses ``dp_loss_scale(W)``. Log the *unscaled* scalars: their sum over
micro-batches, all-reduced with SUM over ranks, is L. The GEPO loss (``oorl.algo.gepo``) follows the
same rule with ``global_groups``, so ``w_rl * L_onpolicy + w_gepo * L_gepo`` takes one scale.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from oorl.errors import UserError

AGGREGATION_MODES = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum")


def masked_sum(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """``sum(x * mask)`` over ``dim`` (all dims if None).

    Masked entries may hold inf/NaN without reaching the value or ``x.grad``; a NaN produced *upstream*
    of ``x`` at a masked position still poisons the upstream gradient (0 * NaN), so loss functions
    sanitise their inputs at the source, as :func:`ppo_clip_loss` does with the log-ratio.
    """
    kept = torch.where(mask.bool(), x, torch.zeros_like(x))
    return kept.sum() if dim is None else kept.sum(dim)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """``sum(x * mask) / sum(mask)`` over ``dim``; 0 where the mask is empty (instead of NaN)."""
    count = mask.bool().sum() if dim is None else mask.bool().sum(dim)
    return masked_sum(x, mask, dim) / count.clamp(min=1).to(x.dtype)


def local_counts(mask: Tensor) -> tuple[Tensor, Tensor]:
    """(response tokens, sequences with >= 1 response token) of one micro-batch, as int64 0-d tensors.

    Sum these over a rank's micro-batches and all-reduce (SUM) to get ``global_tokens`` and
    ``num_sequences`` for :func:`aggregate`.
    """
    m = mask.bool()
    return m.sum().to(torch.int64), m.any(dim=-1).sum().to(torch.int64)


def dp_loss_scale(dp_world_size: int, gradient_accumulation_steps: int = 1) -> float:
    """Factor to multiply an :func:`aggregate` scalar by before ``engine.backward``: ``W * GAS``.

    DeepSpeed averages gradients over ``dp_world_size`` ranks and (with ``scale_wrt_gas=True``) divides
    the loss by ``gradient_accumulation_steps``; this undoes both so the applied gradient is that of
    the sum of the micro-batch scalars, i.e. of the global normalised loss. Pass
    ``gradient_accumulation_steps=1`` when calling ``engine.backward(loss, scale_wrt_gas=False)``.
    """
    if dp_world_size < 1 or gradient_accumulation_steps < 1:
        raise ValueError(f"dp_world_size={dp_world_size} and gradient_accumulation_steps="
                         f"{gradient_accumulation_steps} must be >= 1")
    return float(dp_world_size * gradient_accumulation_steps)


def _denominator(value: float | Tensor | None, local: Tensor, like: Tensor) -> Tensor:
    """The global count if given, else the local one; as a float tensor >= 1 (an empty batch sums to 0)."""
    count = local if value is None else torch.as_tensor(value, device=like.device)
    return count.to(like.dtype).clamp(min=1)


def aggregate(
    per_token: Tensor,
    mask: Tensor,
    mode: str = "token_mean",
    global_tokens: float | Tensor | None = None,
    num_sequences: int | Tensor | None = None,
) -> Tensor:
    """Reduce a per-token loss ``[B, T]`` to this micro-batch's share of the step loss (module docstring).

    * ``token_mean``:          ``sum_{i,t} l[i,t] / global_tokens``
    * ``seq_mean_token_mean``: ``sum_i (sum_t l[i,t] / |o_i|) / num_sequences``
    * ``seq_mean_token_sum``:  ``sum_{i,t} l[i,t] / num_sequences``

    ``token_mean`` reads only ``global_tokens``, the ``seq_*`` modes only ``num_sequences``; a missing
    count defaults to this micro-batch's own (:func:`local_counts`). The result's dtype is at least
    float32. Unknown mode: UserError.
    """
    if mode not in AGGREGATION_MODES:
        raise UserError(f"unknown loss aggregation mode {mode!r}; choose one of {', '.join(AGGREGATION_MODES)}")
    per_token = per_token.to(torch.promote_types(per_token.dtype, torch.float32))
    tokens, sequences = local_counts(mask)
    if mode == "token_mean":
        return masked_sum(per_token, mask) / _denominator(global_tokens, tokens, per_token)
    seq_sums = masked_sum(per_token, mask, dim=-1)
    if mode == "seq_mean_token_mean":
        seq_sums = seq_sums / mask.bool().sum(-1).clamp(min=1).to(per_token.dtype)
    return seq_sums.sum() / _denominator(num_sequences, sequences, per_token)


def truncated_is_weight(old_logp: Tensor, behavior_logp: Tensor, mask: Tensor, cap: float) -> tuple[Tensor, dict[str, float]]:
    """Truncated importance sampling (TIS) for tokens sampled by another policy than the one the
    update's ratio starts from: the rollout engine's (an older version when rollouts run one step
    ahead, or the same weights under other kernels).

    ``weight = min(exp(old_logp - behavior_logp), cap)`` per token, detached, 1 where ``behavior_logp``
    is NaN (unknown) or ``mask`` is 0; the caller multiplies the per-token policy loss by it (as veRL's
    ``tis_imp_ratio_cap`` and OpenRLHF's vLLM importance sampling do). Stats: the weight's mean, the
    share of tokens at the cap, and the mean ``|old_logp - behavior_logp|`` (how far the policies are).
    """
    m = mask.bool() & ~torch.isnan(behavior_logp)
    with torch.no_grad():
        gap = torch.where(m, old_logp.detach() - behavior_logp, torch.zeros_like(old_logp))
        weight = torch.where(m, gap.clamp(max=math.log(cap)).exp(), torch.ones_like(gap))
        stats = {"tis/weight_mean": float(masked_mean(weight, m)),
                 "tis/capped_frac": float(masked_mean((gap >= math.log(cap)).float(), m)),
                 "tis/logp_gap_mean": float(masked_mean(gap.abs(), m))}
    return weight, stats


def ppo_clip_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate, per token, with asymmetric bounds (DAPO's clip-higher when high > low).

    ``ratio = exp(logp - old_logp)``;
    ``loss = -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A)``, 0 where mask is 0.

    So with A > 0 the ratio is capped at ``1 + clip_high`` (no gradient beyond it) and with A < 0 it is
    floored at ``1 - clip_low``; on the other side the unclipped term is the minimum and keeps its
    gradient. ``advantages`` is ``[B, T]`` or per sequence ``[B]``. Returns ``(per_token [B, T], stats)``
    with detached 0-d tensors (no host sync): ``clipfrac`` (fraction of response tokens where the clipped
    term is active), ``clipfrac_high`` (A > 0, ratio > 1 + clip_high), ``clipfrac_low`` (A < 0,
    ratio < 1 - clip_low), ``ratio_mean``, and ``approx_kl`` = mean of ``(ratio - 1) - log ratio``
    (Schulman's k3 estimate of KL(old || new)).
    """
    m = mask.bool()
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1).expand_as(logp)
    log_ratio = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_low, 1.0 + clip_high) * advantages
    per_token = torch.where(m, -torch.minimum(unclipped, clipped), torch.zeros_like(unclipped))
    with torch.no_grad():
        stats = {
            "clipfrac": masked_mean((clipped < unclipped).float(), m),
            "clipfrac_high": masked_mean(((advantages > 0) & (ratio > 1.0 + clip_high)).float(), m),
            "clipfrac_low": masked_mean(((advantages < 0) & (ratio < 1.0 - clip_low)).float(), m),
            "ratio_mean": masked_mean(ratio, m),
            "approx_kl": masked_mean(ratio - 1.0 - log_ratio, m),
        }
    return per_token, stats
