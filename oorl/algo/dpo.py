"""DPO (Rafailov et al., 2023) over IR groups: the pairwise baseline of GEPO (``oorl/algo/gepo.py``).

A group (a source program x, winners Y_w, losers Y_l) gives the winner-loser pairs Y_w x Y_l. With the
implicit reward ``r(y) = beta * (log pi(y|x) - log pi_ref(y|x))`` (log-probs summed over y's tokens),

    L_g = mean over the group's pairs (w, l) of  -log sigmoid( r(w) - r(l) )

— every pair by default, or the pairs ``pair_mask`` keeps (``sample_pair_mask``: a seeded subset of at
most k pairs per group). Each group weighs the same whatever its number of pairs, like one GEPO group.

Inputs use GEPO's layout: sequence log-probs padded to ``[G, n_max]`` / ``[G, m_max]`` with ``w_mask`` /
``l_mask`` marking the real entries (padding may hold anything, even NaN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from oorl.algo.gepo import _masked_rewards


def sample_pair_mask(w_mask: Tensor, l_mask: Tensor, max_pairs: int | None, seed: int = 0) -> Tensor:
    """``[G, n, m]`` bool: every real (winner, loser) pair, or at most ``max_pairs`` of them per group
    drawn uniformly without replacement with a ``torch.Generator`` seeded by ``seed``."""
    pairs = w_mask.bool().unsqueeze(-1) & l_mask.bool().unsqueeze(-2)
    if max_pairs is None:
        return pairs
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1, got {max_pairs}")
    gen = torch.Generator().manual_seed(seed)
    out = torch.zeros_like(pairs)
    flat, keep = pairs.flatten(1).cpu(), out.flatten(1)
    for g in range(flat.shape[0]):
        idx = torch.nonzero(flat[g]).flatten()
        if len(idx) > max_pairs:
            idx = idx[torch.randperm(len(idx), generator=gen)[:max_pairs]]
        keep[g, idx.to(keep.device)] = True
    return keep.view_as(pairs)


def dpo_loss(
    policy_logp_w: Tensor,
    ref_logp_w: Tensor,
    policy_logp_l: Tensor,
    ref_logp_l: Tensor,
    beta: float,
    w_mask: Tensor | None = None,
    l_mask: Tensor | None = None,
    pair_mask: Tensor | None = None,
    global_groups: float | Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """DPO over G groups' winner-loser pairs (module docstring); inputs ``[G, n]`` / ``[G, m]``.

    Returns ``(loss, stats)``: ``loss = sum_g L_g / G``, or ``/ global_groups`` (the groups of the whole
    optimizer step over micro-batches and ranks, as in ``gepo_loss``). Stats, detached and averaged over
    this call's groups (each group's value the mean over its pairs): ``reward_margin`` (r(w) - r(l)),
    ``accuracy`` (fraction of pairs with margin > 0), ``reward_w_mean``, ``reward_l_mean``, ``pairs``
    (pairs per group). A group with no winner, no loser or no pair left: ValueError.
    """
    r_w, mw, n = _masked_rewards(policy_logp_w, ref_logp_w, w_mask, beta, "winner (equivalent)")
    r_l, ml, m = _masked_rewards(policy_logp_l, ref_logp_l, l_mask, beta, "loser (inequivalent)")
    if r_w.shape[0] != r_l.shape[0]:
        raise ValueError(f"winners have {r_w.shape[0]} groups but losers {r_l.shape[0]}")
    valid = mw.unsqueeze(-1) & ml.unsqueeze(-2)
    pm = valid if pair_mask is None else pair_mask.to(valid.device).bool() & valid
    if pm.shape != valid.shape:
        raise ValueError(f"pair_mask {tuple(pm.shape)} must be [G, n, m] = {tuple(valid.shape)}")
    count = pm.flatten(1).sum(-1)
    if bool((count == 0).any()):
        raise ValueError(f"DPO: group(s) {torch.nonzero(count == 0).flatten().tolist()} have no winner-loser pair")
    margin = r_w.unsqueeze(-1) - r_l.unsqueeze(-2)  # [G, n, m]
    margin = torch.where(pm, margin, torch.zeros_like(margin))
    cnt = count.to(margin.dtype)
    per_pair = -F.logsigmoid(margin)
    per_group = torch.where(pm, per_pair, torch.zeros_like(per_pair)).flatten(1).sum(-1) / cnt
    denom = per_group.new_tensor(per_group.shape[0]) if global_groups is None else torch.as_tensor(
        global_groups, dtype=per_group.dtype, device=per_group.device)
    loss = per_group.sum() / denom.clamp(min=1)
    with torch.no_grad():
        stats = {
            "reward_margin": (margin.flatten(1).sum(-1) / cnt).mean(),
            "accuracy": (((margin > 0) & pm).flatten(1).sum(-1).to(cnt.dtype) / cnt).mean(),
            "reward_w_mean": (r_w.sum(-1) / n).mean(),
            "reward_l_mean": (r_l.sum(-1) / m).mean(),
            "pairs": cnt.mean(),
        }
    return loss, stats
