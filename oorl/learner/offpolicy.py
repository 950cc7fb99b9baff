"""Off-policy losses that the learner adds to the on-policy loss (a registry: GEPO, DPO).

An off-policy batch is this rank's share of a static dataset, sent by the driver with the rollout
batch. Each loss returns ``(weighted term, stats)``; the term is normalised so that DeepSpeed's
averaging over ranks and micro-batches (undone by the learner's W x GAS scale) gives the global mean.
"""

from __future__ import annotations

from typing import Callable

import torch

from oorl.registry import Registry

OFFPOLICY_LOSSES: Registry[Callable] = Registry("off-policy loss")


def register_offpolicy(name: str):
    return OFFPOLICY_LOSSES.register(name)


def offpolicy_loss(name: str, worker, batch: dict) -> tuple[torch.Tensor, dict]:
    return OFFPOLICY_LOSSES.get(name)(worker, batch)


def _sequence_logps(worker, model, prompts: list[list[int]], responses: list[list[int]], grad: bool) -> torch.Tensor:
    from oorl.algo.gepo import sequence_logps
    from oorl.learner.batch import build_batch, micro_batches

    batch = build_batch(prompts, responses, [0.0] * len(prompts), pad_id=0)
    out = []
    for mb in micro_batches(batch, worker.cfg.learner.micro_batch_size):
        with torch.set_grad_enabled(grad):
            lp = worker._logprobs(model, mb)
        out.append(sequence_logps(lp, mb["loss_mask"][:, 1:].to(lp.device)))
    return torch.cat(out)


def group_logps(worker, batch: dict) -> tuple[torch.Tensor, ...]:
    """The sequence log-probs of an off-policy group batch ``{"prompts": [x_g], "winners": [[y..]],
    "losers": [[y..]]}`` (token ids) under the policy (with gradients) and the reference policy:
    ``(pol_w, ref_w, w_mask, pol_l, ref_l, l_mask)``, padded to ``[G, n_max]`` / ``[G, m_max]`` (NaN
    padding, masks mark the real entries) — the layout of ``oorl.algo.gepo`` and ``oorl.algo.dpo``."""
    prompts, winners, losers = batch["prompts"], batch["winners"], batch["losers"]

    def side(groups):
        width = max(len(g) for g in groups)
        xs = [x for x, ys in zip(prompts, groups) for _ in ys]
        ys = [y for g in groups for y in g]
        pol = _sequence_logps(worker, worker.engine, xs, ys, grad=True)
        ref = _sequence_logps(worker, worker.ref, xs, ys, grad=False)
        P = pol.new_full((len(groups), width), float("nan"))
        R = ref.new_full((len(groups), width), float("nan"))
        mask = torch.zeros(len(groups), width, dtype=torch.bool, device=pol.device)
        k = 0
        for g, ys_g in enumerate(groups):
            for j in range(len(ys_g)):
                P[g, j], R[g, j], mask[g, j] = pol[k], ref[k], True
                k += 1
        return P, R, mask

    return (*side(winners), *side(losers))


@register_offpolicy("gepo")
def gepo(worker, batch: dict) -> tuple[torch.Tensor, dict]:
    """GEPO over groups ``{"prompts": [x_g], "winners": [[y..]], "losers": [[y..]]}`` (token ids).

    r(y) = beta (log pi(y|x) - log pi_ref(y|x)) summed over y's tokens;
    L = -log sigmoid(mean_w r - mean_l r) + lam Var_w(r), averaged over all groups of all ranks.
    """
    from oorl.algo.gepo import gepo_loss

    gc = worker.cfg.algo.gepo
    if worker.ref is None:
        raise RuntimeError("GEPO needs the reference policy (algo.gepo.enabled loads it)")
    pw, rw, mw, pl, rl, ml = group_logps(worker, batch)
    loss, stats = gepo_loss(pw, rw, pl, rl, beta=gc.beta, lam=gc.lam, w_mask=mw, l_mask=ml,
                            global_groups=len(batch["prompts"]) * worker.world_size)
    return gc.weight * loss, {f"gepo/{k}": float(v) for k, v in stats.items()} | {"gepo/loss": float(loss.detach())}


@register_offpolicy("dpo")
def dpo(worker, batch: dict) -> tuple[torch.Tensor, dict]:
    """DPO over the winner-loser pairs of the same groups (the batch layout of ``gepo``).

    L_g = mean over the group's pairs of -log sigmoid(r(w) - r(l)), averaged over all groups of all
    ranks. Settings: ``algo.dpo`` (``beta``, ``weight``, ``max_pairs``, ``seed``) when the config has
    that section, else ``algo.gepo``'s ``beta`` and ``weight`` with every pair, so an ablation changes
    only the loss's name.
    """
    from oorl.algo.dpo import dpo_loss, sample_pair_mask

    dc = getattr(worker.cfg.algo, "dpo", None) or worker.cfg.algo.gepo
    if worker.ref is None:
        raise RuntimeError("DPO needs the reference policy (it is loaded with the off-policy loss)")
    pw, rw, mw, pl, rl, ml = group_logps(worker, batch)
    max_pairs = getattr(dc, "max_pairs", None)
    pairs = sample_pair_mask(mw, ml, max_pairs, seed=int(getattr(dc, "seed", 0) or 0)) if max_pairs else None
    loss, stats = dpo_loss(pw, rw, pl, rl, beta=dc.beta, w_mask=mw, l_mask=ml, pair_mask=pairs,
                           global_groups=len(batch["prompts"]) * worker.world_size)
    return dc.weight * loss, {f"dpo/{k}": float(v) for k, v in stats.items()} | {"dpo/loss": float(loss.detach())}
