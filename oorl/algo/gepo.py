"""GEPO, Group Equivalent Preference Optimisation (OORL paper, 2025).

A group is a source program x, a set Y_w of n functionally equivalent LLVM IRs and a set Y_l of m
inequivalent ones. With the implicit reward of a response

    r(y) = beta * (log pi(y|x) - log pi_ref(y|x)),    log-probs SUMMED over the response tokens,

the loss of one group is

    L = -log sigmoid( mean_{Y_w} r - mean_{Y_l} r ) + lam * Var_{Y_w}(r)

where ``Var`` is the **population** variance ``mean_{Y_w} (r - mean_{Y_w} r)**2`` (divide by n, so a
group with one winner has variance 0). The first term is a DPO-style preference of the equivalent set
over the inequivalent one; the second pulls the equivalent programs' rewards together.

Groups are padded to ``[G, n_max]`` / ``[G, m_max]``; ``w_mask`` / ``l_mask`` mark the real entries so
groups may have different n and m (padding may hold anything, even NaN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from oorl.algo.losses import masked_sum


def sequence_logps(token_logp: Tensor, mask: Tensor) -> Tensor:
    """``log pi(y|x) = sum_t token_logp[b, t] * mask[b, t]``, shape ``[B]``."""
    return masked_sum(token_logp, mask, dim=-1)


def _masked_rewards(policy: Tensor, ref: Tensor, mask: Tensor | None, beta: float, side: str):
    """``beta * (policy - ref)`` with padding set to 0, the bool mask, and the count per group."""
    if policy.shape != ref.shape or policy.dim() != 2:
        raise ValueError(f"{side}: policy {tuple(policy.shape)} and ref {tuple(ref.shape)} must both be [G, k]")
    m = torch.ones_like(policy, dtype=torch.bool) if mask is None else mask.bool()
    if m.shape != policy.shape:
        raise ValueError(f"{side}: mask {tuple(m.shape)} does not match log-probs {tuple(policy.shape)}")
    count = m.sum(-1)
    if bool((count == 0).any()):
        raise ValueError(f"GEPO: every group needs at least one {side} response; group(s) "
                         f"{torch.nonzero(count == 0).flatten().tolist()} have none")
    rewards = beta * torch.where(m, policy - ref, torch.zeros_like(policy))
    return rewards, m, count.to(rewards.dtype)


def gepo_loss(
    policy_logp_w: Tensor,
    ref_logp_w: Tensor,
    policy_logp_l: Tensor,
    ref_logp_l: Tensor,
    beta: float,
    lam: float = 1.0,
    w_mask: Tensor | None = None,
    l_mask: Tensor | None = None,
    global_groups: float | Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """GEPO loss over G groups (module docstring); inputs are sequence log-probs ``[G, n]`` / ``[G, m]``.

    Returns ``(loss, stats)``. ``loss = sum_g L_g / G`` — or ``/ global_groups`` when given, the number
    of groups in the whole optimizer step over all micro-batches and data-parallel ranks, so that it
    follows the same summing/scaling rule as ``oorl.algo.losses.aggregate`` (see there). Stats are
    detached 0-d tensors averaged over this call's groups: ``reward_margin`` (mean_w r - mean_l r),
    ``reward_w_mean``, ``reward_l_mean``, ``var_w``, ``pref_loss`` (the -log sigmoid term) and
    ``accuracy`` (fraction of groups with margin > 0). A group with no winner or no loser: ValueError.
    """
    r_w, mw, n = _masked_rewards(policy_logp_w, ref_logp_w, w_mask, beta, "winner (equivalent)")
    r_l, _, m = _masked_rewards(policy_logp_l, ref_logp_l, l_mask, beta, "loser (inequivalent)")
    if r_w.shape[0] != r_l.shape[0]:
        raise ValueError(f"winners have {r_w.shape[0]} groups but losers {r_l.shape[0]}")
    mean_w = r_w.sum(-1) / n
    mean_l = r_l.sum(-1) / m
    var_w = masked_sum((r_w - mean_w.unsqueeze(-1)).square(), mw, dim=-1) / n
    margin = mean_w - mean_l
    pref = -F.logsigmoid(margin)
    per_group = pref + lam * var_w
    denom = per_group.new_tensor(per_group.shape[0]) if global_groups is None else torch.as_tensor(
        global_groups, dtype=per_group.dtype, device=per_group.device)
    loss = per_group.sum() / denom.clamp(min=1)
    with torch.no_grad():
        stats = {
            "reward_margin": margin.mean(),
            "reward_w_mean": mean_w.mean(),
            "reward_l_mean": mean_l.mean(),
            "var_w": var_w.mean(),
            "pref_loss": pref.mean(),
            "accuracy": (margin > 0).to(margin.dtype).mean(),
        }
    return loss, stats
