"""Advantage estimators: one reward per sequence in, one advantage per sequence out.

Every estimator has the signature ``fn(rewards: Tensor[B], group_ids: Tensor[B], **kwargs) -> Tensor[B]``
and is registered by name with :func:`register_adv_est`; the learner picks one by the config's name
through :func:`compute_advantages`. ``group_ids`` are integers; samples answering the same prompt
share an id. Ids need be neither contiguous nor sorted.

Statistics conventions (the same in every estimator here):

* standard deviations are **population** std, ``sqrt(mean((x - mean(x))**2))`` (divide by N, not N-1),
  unless an estimator says otherwise (``grpo`` takes ``unbiased=True`` to match TRL/veRL/OpenRLHF,
  which call ``torch.std`` and therefore use N-1);
* ``eps`` is added to the std, never to the variance: ``(x - mean) / (std + eps)``;
* a group of one sample has no baseline to compare against and gets advantage 0.

Advantages are per sequence; :func:`expand_to_tokens` broadcasts them over the response tokens.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import Tensor

from oorl.errors import UserError
from oorl.registry import Registry

AdvantageFn = Callable[..., Tensor]

ADV_ESTIMATORS: Registry[AdvantageFn] = Registry("advantage estimator")


def register_adv_est(name: str) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator registering ``fn(rewards, group_ids, **kwargs) -> advantages`` under ``name``
    (the rules of :mod:`oorl.registry`)."""
    return ADV_ESTIMATORS.register(name)


def compute_advantages(name: str, rewards: Tensor, group_ids: Tensor, **kwargs) -> Tensor:
    """Advantages ``[B]`` from the estimator registered as ``name``; ``kwargs`` go to the estimator.

    Raises UserError for an unknown name or a keyword the estimator does not take (both come from the
    config), naming what is accepted.
    """
    fn = ADV_ESTIMATORS.get(name)
    try:
        inspect.signature(fn).bind(rewards, group_ids, **kwargs)
    except TypeError as exc:
        accepted = list(inspect.signature(fn).parameters)[2:]
        raise UserError(
            f"advantage estimator {name!r}: {exc}; it accepts the options {accepted or 'none'}"
        ) from None
    rewards, group_ids = _check_inputs(rewards, group_ids)
    return fn(rewards, group_ids, **kwargs)


def expand_to_tokens(advantages: Tensor, mask: Tensor) -> Tensor:
    """Per-token advantages ``[B, T]``: ``A[b, t] = advantages[b] * mask[b, t]`` (0 on padding)."""
    if advantages.dim() != 1 or advantages.shape[0] != mask.shape[0]:
        raise ValueError(f"advantages {tuple(advantages.shape)} do not match mask {tuple(mask.shape)}")
    return advantages.unsqueeze(-1) * mask.to(advantages.dtype)


# --------------------------------------------------------------------------------------------------
# Group statistics


def _check_inputs(rewards: Tensor, group_ids: Tensor) -> tuple[Tensor, Tensor]:
    if rewards.dim() != 1 or group_ids.shape != rewards.shape:
        raise ValueError(
            f"rewards {tuple(rewards.shape)} and group_ids {tuple(group_ids.shape)} must both be [B]"
        )
    if not rewards.is_floating_point():
        rewards = rewards.to(torch.float32)
    return rewards, group_ids.long()


def _group_mean_std_count(values: Tensor, group_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For each sample, the mean, population std and size of its group (each ``[B]``)."""
    _, inverse = torch.unique(group_ids, return_inverse=True)
    num_groups = int(inverse.max()) + 1 if inverse.numel() else 0
    count = torch.zeros(num_groups, dtype=values.dtype, device=values.device).index_add_(
        0, inverse, torch.ones_like(values)
    )
    total = torch.zeros_like(count).index_add_(0, inverse, values)
    mean = (total / count)[inverse]
    sq_dev = torch.zeros_like(count).index_add_(0, inverse, (values - mean) ** 2)
    std = (sq_dev / count).sqrt()[inverse]
    return mean, std, count[inverse]


def _batch_whiten(x: Tensor, eps: float) -> Tensor:
    """``(x - mean(x)) / (std(x) + eps)`` over the whole batch, population std."""
    return (x - x.mean()) / (x.std(unbiased=False) + eps)


# --------------------------------------------------------------------------------------------------
# Estimators


@register_adv_est("grpo")
def grpo_advantages(
    rewards: Tensor, group_ids: Tensor, norm_std: bool = True, eps: float = 1e-6, unbiased: bool = False
) -> Tensor:
    """GRPO (DeepSeekMath, 2024): ``A_i = (r_i - mean_g(r)) / (std_g(r) + eps)``.

    ``mean_g``/``std_g`` run over the samples of i's group. ``std_g`` is the **population** std
    (divide by n) by default; ``unbiased=True`` uses the sample std (divide by n-1), which is what
    TRL, veRL and OpenRLHF compute (``torch.std``). With ``norm_std=False`` it is ``r_i - mean_g(r)``
    (Dr. GRPO). A group whose rewards are all equal, or that has one sample, gets 0.
    """
    mean, pop_std, count = _group_mean_std_count(rewards, group_ids)
    adv = rewards - mean
    if norm_std:
        std = pop_std
        if unbiased:
            std = pop_std * (count / (count - 1).clamp(min=1)).sqrt()
        adv = adv / (std + eps)
    return torch.where(count > 1, adv, torch.zeros_like(adv))


@register_adv_est("reinforce_pp")
def reinforce_pp_advantages(rewards: Tensor, group_ids: Tensor, eps: float = 1e-6) -> Tensor:
    """REINFORCE++ with baseline: ``a_i = r_i - mean_g(r)``, then ``A = (a - mean_B(a)) / (std_B(a) + eps)``.

    The group mean removes the prompt's difficulty; the batch statistics run over all B sequences
    (each sequence counts once, not once per token) with the population std. A one-sample group has
    ``a_i = 0`` before the batch normalisation.
    """
    mean, _, _ = _group_mean_std_count(rewards, group_ids)
    return _batch_whiten(rewards - mean, eps)


@register_adv_est("reinforce_pp_nobaseline")
def reinforce_pp_nobaseline_advantages(rewards: Tensor, group_ids: Tensor, eps: float = 1e-6) -> Tensor:
    """REINFORCE++ without a group baseline: ``A = (r - mean_B(r)) / (std_B(r) + eps)``; ids unused."""
    del group_ids
    return _batch_whiten(rewards, eps)


@register_adv_est("rloo")
def rloo_advantages(rewards: Tensor, group_ids: Tensor) -> Tensor:
    """REINFORCE leave-one-out: ``A_i = r_i - mean_{j in g, j != i} r_j = n/(n-1) * (r_i - mean_g(r))``.

    Groups of one sample get 0.
    """
    mean, _, count = _group_mean_std_count(rewards, group_ids)
    adv = (rewards - mean) * count / (count - 1).clamp(min=1)
    return torch.where(count > 1, adv, torch.zeros_like(adv))
