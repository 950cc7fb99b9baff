"""Off-policy losses that the learner adds to the on-policy loss (a registry: GEPO, DPO), run in
memory bounded by ``algo.gepo.micro_batch_size`` responses whatever the group size.

An off-policy batch is this rank's share of the step's IR groups, tokenised by the driver
(``oorl.data.ir_groups.stream``): ``{"groups": [{"prompt": ids, "winners": [ids..], "losers": [ids..]}],
"global_groups": G, "passes": K}``. A group's loss couples all its responses (the means and the
variance of GEPO), so a plain forward would hold every response's activations at once. Instead
(a gradient cache):

1. the sequence log-probs of every response, without gradients, chunk by chunk (the reference
   policy's once per step: it does not change);
2. the loss on those numbers as leaves, and its gradient ``c_i = dL / d log pi(y_i|x)``;
3. per chunk, ``engine.backward(sum_i c_i log pi(y_i|x))`` with gradients: its gradient is exactly
   ``dL/dtheta``, one chunk's activations at a time.

Every rank runs the same number ``K`` of chunk passes (ZeRO-2 reduces gradients in each backward,
ZeRO-3 gathers parameters in each forward: the ranks must agree); a rank with fewer chunks repeats
its first one, with zero coefficients in the backward. A loss is
``fn(algo_cfg, pol_w, ref_w, w_mask, pol_l, ref_l, l_mask, global_groups) -> (weighted loss, stats)``
on ``[G, n]`` / ``[G, m]`` sequence log-probs; it is normalised by ``global_groups`` (all ranks), the
rule of ``oorl.algo.losses``, so the learner's W x GAS scale gives the global mean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from oorl.registry import Registry

OFFPOLICY_LOSSES: Registry[Callable] = Registry("off-policy loss")


def register_offpolicy(name: str):
    return OFFPOLICY_LOSSES.register(name)


# ---------------------------------------------------------------------------------------- layout
@dataclass
class GroupRows:
    """A rank's groups flattened into rows (one per response) and chunked for the forward passes."""
    prompts: list[list[int]]
    responses: list[list[int]]
    group: list[int]  # row -> group index
    side: list[int]  # row -> 0 winner, 1 loser
    slot: list[int]  # row -> position within its side of its group
    n_groups: int
    chunks: list[list[int]] = field(default_factory=list)  # row indices, each within one group
    real: int = 0  # chunks[real:] repeat chunks[0] so that every rank runs as many passes (ZeRO)

    @classmethod
    def of(cls, groups: list[dict], chunk: int) -> "GroupRows":
        rows = cls([], [], [], [], [], len(groups))
        for g, grp in enumerate(groups):
            start = len(rows.prompts)
            for side, key in ((0, "winners"), (1, "losers")):
                for j, y in enumerate(grp[key]):
                    rows.prompts.append(grp["prompt"])
                    rows.responses.append(y)
                    rows.group.append(g)
                    rows.side.append(side)
                    rows.slot.append(j)
            idx = list(range(start, len(rows.prompts)))  # a chunk never mixes groups: one shared prompt
            rows.chunks.extend(idx[s:s + chunk] for s in range(0, len(idx), chunk))
        rows.real = len(rows.chunks)
        return rows

    def pad_to(self, passes: int, padding: bool = False) -> "GroupRows":
        """Repeat the first chunk until there are ``passes`` chunks (the most any rank has). A
        ``padding`` rank (no group of its own, a copy to keep the passes in step) has no real chunk."""
        if passes < self.real:
            raise ValueError(f"{self.real} chunks on this rank but only {passes} passes planned")
        first = self.chunks[0]
        self.real = 0 if padding else self.real
        self.chunks = self.chunks[: self.real] + [first] * (passes - self.real)
        return self

    def width(self, side: int) -> int:
        return max((s + 1 for s, d in zip(self.slot, self.side) if d == side), default=1)

    def layout(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Row values ``[R]`` -> ``(W [G, n], w_mask, L [G, m], l_mask)``, differentiable in ``values``."""
        out = []
        for side in (0, 1):
            rows = [r for r, d in enumerate(self.side) if d == side]
            flat = torch.tensor([self.group[r] * self.width(side) + self.slot[r] for r in rows], dtype=torch.long)
            size = self.n_groups * self.width(side)
            dense = values.new_zeros(size).index_put((flat.to(values.device),), values[rows])
            mask = torch.zeros(size, dtype=torch.bool, device=values.device)
            mask[flat.to(values.device)] = True
            out += [dense.view(self.n_groups, -1), mask.view(self.n_groups, -1)]
        return out[0], out[1], out[2], out[3]


def chunk_logps(worker, model, rows: GroupRows, chunk: list[int], grad: bool) -> torch.Tensor:
    """Sequence log-probs ``log pi(y|x)`` (summed over the response tokens) of one chunk's rows."""
    from oorl.algo.gepo import sequence_logps
    from oorl.learner.batch import build_batch

    mb = build_batch([rows.prompts[i] for i in chunk], [rows.responses[i] for i in chunk], [0.0] * len(chunk),
                     pad_id=0)  # padding is masked out
    with torch.set_grad_enabled(grad):
        lp = worker._logprobs(model, mb)
        return sequence_logps(lp, mb["loss_mask"][:, 1:].to(lp.device))


def all_logps(worker, model, rows: GroupRows) -> torch.Tensor:
    out = torch.zeros(len(rows.responses), dtype=torch.float32, device=worker.device)
    for chunk in rows.chunks:
        out[chunk] = chunk_logps(worker, model, rows, chunk, grad=False).float()
    return out


# ---------------------------------------------------------------------------------------- the update
@dataclass
class Prepared:
    name: str
    rows: GroupRows
    ref: torch.Tensor  # [R] reference log-probs, fixed for the step
    global_groups: int


def prepare(worker, name: str, batch: dict) -> Prepared:
    """Once per step: the rows, chunks and the reference policy's log-probs."""
    if worker.ref is None:
        raise RuntimeError(f"{name} needs the reference policy (the learner loads it with algo.offpolicy)")
    OFFPOLICY_LOSSES.get(name)
    rows = GroupRows.of(batch["groups"], worker.cfg.algo.gepo.micro_batch_size)
    rows.pad_to(int(batch.get("passes", rows.real)), bool(batch.get("padding")))
    ref = all_logps(worker, worker.ref, rows)
    return Prepared(name, rows, ref, int(batch["global_groups"]))


def offpolicy_backward(worker, prep: Prepared, scale: float) -> tuple[float, dict]:
    """The off-policy term of one optimizer update, back-propagated chunk by chunk (module docstring).

    A group whose responses all fit in one chunk needs no gradient cache: its rows run once, with
    gradients, and its own term of the loss is back-propagated directly (under ZeRO 0-2, where only
    the number of backward calls must match across ranks; ZeRO-3 also needs matching forwards, so
    there every group takes the two passes). Returns ``(weighted loss value, stats)``:
    ``<name>/loss`` (unweighted, this rank's share of the global mean), the loss's own stats and
    ``<name>/forward_time_s`` (all passes)."""
    t0 = time.perf_counter()
    rows, fn, ac = prep.rows, OFFPOLICY_LOSSES.get(prep.name), worker.cfg.algo
    rw, _, rl, _ = rows.layout(prep.ref)

    def group_term(values: torch.Tensor, groups: list[int]):
        pw, mw, pl, ml = rows.layout(values)
        return sum(fn(ac, pw[g:g + 1], rw[g:g + 1], mw[g:g + 1], pl[g:g + 1], rl[g:g + 1], ml[g:g + 1],
                      prep.global_groups)[0] for g in groups)

    real = rows.chunks[: rows.real]
    chunks_of: dict[int, int] = {}
    for chunk in real:
        chunks_of[rows.group[chunk[0]]] = chunks_of.get(rows.group[chunk[0]], 0) + 1
    zero3 = worker.cfg.learner.zero_stage == 3
    direct = set() if zero3 else {g for g, n in chunks_of.items() if n == 1}
    cached = sorted(set(chunks_of) - direct)
    pol = torch.zeros(len(rows.responses), dtype=torch.float32, device=worker.device)
    coef = torch.zeros_like(pol)
    if cached or zero3:  # pass 1: the cached groups' log-probs without gradients, and dL/dlog pi
        # (under ZeRO-3 every rank runs all its passes, padding included: the forwards gather together)
        for k, chunk in enumerate(rows.chunks if zero3 else real):
            if k < rows.real and rows.group[chunk[0]] in cached:
                pol[chunk] = chunk_logps(worker, worker.engine, rows, chunk, grad=False).float()
            elif zero3:
                chunk_logps(worker, worker.engine, rows, chunk, grad=False)
        if cached:
            leaf = pol.clone().requires_grad_(True)
            (coef,) = torch.autograd.grad(group_term(leaf, cached), leaf)
    for k, chunk in enumerate(rows.chunks):  # pass 2: with gradients, one chunk at a time
        lp = chunk_logps(worker, worker.engine, rows, chunk, grad=True)
        g = rows.group[chunk[0]]
        if k >= rows.real:  # padding: the pass the other ranks run, no gradient
            term = (lp * 0).sum()
        elif g in direct:
            pol[chunk] = lp.detach().float()
            values = pol.detach().index_put((torch.tensor(chunk, device=pol.device),), lp.float())
            term = group_term(values, [g])
        else:
            term = (coef[chunk].to(lp.dtype) * lp).sum()
        worker.engine.backward(term * scale)
    pw, mw, pl, ml = rows.layout(pol)
    loss, stats = fn(ac, pw, rw, mw, pl, rl, ml, prep.global_groups)
    stats = {f"{prep.name}/{k}": float(v) for k, v in stats.items()}
    stats[f"{prep.name}/forward_time_s"] = time.perf_counter() - t0
    return float(loss.detach()), stats


@torch.no_grad()
def group_margins(worker, batch: dict, beta: float) -> list[dict]:
    """Per held-out group of ``batch`` (``{"groups", "passes"}``): the mean implicit reward of the
    winners and of the losers under the current policy against the reference (the GEPO eval), and
    the policy's mean log-probs."""
    if worker.ref is None:
        raise RuntimeError("the off-policy eval needs the reference policy")
    rows = GroupRows.of(batch["groups"], worker.cfg.algo.gepo.micro_batch_size)
    rows.pad_to(int(batch.get("passes", rows.real)), bool(batch.get("padding")))
    worker.engine.eval()
    pol = all_logps(worker, worker.engine, rows)
    # the reference does not change: its log-probs of the same held-out groups are computed once
    # (every rank hits or misses together: the eval batches are the same at every eval)
    key = (tuple(g.get("id") for g in batch["groups"]), len(rows.chunks), bool(batch.get("padding")))
    cache = worker.__dict__.setdefault("_eval_ref_logps", {})
    ref = cache.get(key) if None not in key[0] else None
    if ref is None:
        ref = cache[key] = all_logps(worker, worker.ref, rows)
    worker.engine.train()
    return [] if batch.get("padding") else margins_of(rows, pol, ref, beta)


def margins_of(rows: GroupRows, pol: torch.Tensor, ref: torch.Tensor, beta: float) -> list[dict]:
    pw, mw, pl, ml = rows.layout(pol)
    rw, _, rl, _ = rows.layout(ref)
    out = []
    for g in range(rows.n_groups):
        r_w = beta * (pw[g][mw[g]] - rw[g][mw[g]])
        r_l = beta * (pl[g][ml[g]] - rl[g][ml[g]])
        out.append({"reward_w": float(r_w.mean()), "reward_l": float(r_l.mean()),
                    "margin": float(r_w.mean() - r_l.mean()),
                    "logp_w": float(pw[g][mw[g]].mean()), "logp_l": float(pl[g][ml[g]].mean())})
    return out


# ---------------------------------------------------------------------------------------- the losses
@register_offpolicy("gepo")
def gepo(ac, pw, rw, mw, pl, rl, ml, global_groups) -> tuple[torch.Tensor, dict]:
    """GEPO: r(y) = beta (log pi(y|x) - log pi_ref(y|x)) summed over y's tokens;
    L = -log sigmoid(mean_w r - mean_l r) + lam Var_w(r), averaged over all groups of all ranks."""
    from oorl.algo.gepo import gepo_loss

    gc = ac.gepo
    loss, stats = gepo_loss(pw, rw, pl, rl, beta=gc.beta, lam=gc.lam, w_mask=mw, l_mask=ml, global_groups=global_groups)
    return gc.weight * loss, {**stats, "loss": loss.detach()}


@register_offpolicy("dpo")
def dpo(ac, pw, rw, mw, pl, rl, ml, global_groups) -> tuple[torch.Tensor, dict]:
    """DPO over the winner-loser pairs of the same groups: L_g = mean over the group's pairs of
    -log sigmoid(r(w) - r(l)), averaged over all groups of all ranks. ``algo.dpo``'s unset ``beta`` and
    ``weight`` take ``algo.gepo``'s, so the paper's ablation changes only ``algo.offpolicy``."""
    from oorl.algo.dpo import dpo_loss, sample_pair_mask

    dc, gc = ac.dpo, ac.gepo
    beta = dc.beta if dc.beta is not None else gc.beta
    weight = dc.weight if dc.weight is not None else gc.weight
    pairs = sample_pair_mask(mw, ml, dc.max_pairs, seed=dc.seed) if dc.max_pairs else None
    loss, stats = dpo_loss(pw, rw, pl, rl, beta=beta, w_mask=mw, l_mask=ml, pair_mask=pairs, global_groups=global_groups)
    return weight * loss, {**stats, "loss": loss.detach()}
