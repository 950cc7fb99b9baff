"""The learner's off-policy hook (GEPO, DPO) on a tiny model in-process (world size 1, no DeepSpeed).

The hook back-propagates a group loss chunk by chunk (a gradient cache): its gradient must equal the
plain autograd gradient of the whole loss, whatever the chunk size.
"""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from oorl.algo.dpo import dpo_loss
from oorl.algo.gepo import gepo_loss, sequence_logps
from oorl.config import load_config
from oorl.learner.batch import build_batch
from oorl.learner.forward import micro_batch_logprobs
from oorl.learner.offpolicy import (OFFPOLICY_LOSSES, GroupRows, group_margins, offpolicy_backward, prepare)
from oorl.models import resolve_model

GROUPS = [{"prompt": [1, 5, 6], "winners": [[7, 8], [7, 9, 10], [12]], "losers": [[11, 12, 13]]},
          {"prompt": [2, 3], "winners": [[4, 4]], "losers": [[5], [6, 7]]}]


class _Engine(torch.nn.Module):
    """The part of a DeepSpeed engine the hook uses: forward, and ``backward`` accumulating grads."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *a, **k):
        return self.model(*a, **k)

    def backward(self, loss):
        loss.backward()


class _Worker:
    def __init__(self, cfg, model, ref):
        self.cfg, self.engine, self.ref, self.world_size = cfg, _Engine(model), ref, 1
        self.device = torch.device("cpu")

    def _logprobs(self, model, mb):
        return micro_batch_logprobs(model, mb, self.device, share_prompt=True)


def _worker(model_cache, *overrides):
    cfg = load_config(None, ["algo.offpolicy=gepo", "algo.gepo.path=groups.jsonl", "algo.gepo.beta=1.0",
                             "algo.gepo.weight=1.0", *overrides])
    d = resolve_model("tiny", model_cache)
    torch.manual_seed(0)
    model, ref = AutoModelForCausalLM.from_pretrained(d), AutoModelForCausalLM.from_pretrained(d)
    with torch.no_grad():  # a policy that differs from the reference, so rewards are not all 0
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return _Worker(cfg, model, ref.eval())


def _direct_loss(w, name):
    """The loss with every response in one autograd graph (what the chunked backward must match)."""
    def logps(model, side):
        rows = [(g["prompt"], y) for g in GROUPS for y in g[side]]
        mb = build_batch([p for p, _ in rows], [y for _, y in rows], [0.0] * len(rows), pad_id=0)
        lp = micro_batch_logprobs(model, mb, w.device, share_prompt=False)
        flat = sequence_logps(lp, mb["loss_mask"][:, 1:])
        width = max(len(g[side]) for g in GROUPS)
        out, mask, k = [], [], 0
        for g in GROUPS:
            n = len(g[side])
            out.append(torch.cat([flat[k:k + n], flat.new_zeros(width - n)]))
            mask.append([True] * n + [False] * (width - n))
            k += n
        return torch.stack(out), torch.tensor(mask)

    pw, mw = logps(w.engine, "winners")
    pl, ml = logps(w.engine, "losers")
    with torch.no_grad():
        rw, _ = logps(w.ref, "winners")
        rl, _ = logps(w.ref, "losers")
    if name == "gepo":
        return gepo_loss(pw, rw, pl, rl, beta=1.0, lam=1.0, w_mask=mw, l_mask=ml)[0]
    return dpo_loss(pw, rw, pl, rl, beta=1.0, w_mask=mw, l_mask=ml)[0]


def test_both_losses_are_registered():
    assert {"gepo", "dpo"} <= set(OFFPOLICY_LOSSES.names())


def test_group_rows_layout_and_chunks():
    rows = GroupRows.of(GROUPS, chunk=2)
    assert rows.n_groups == 2 and len(rows.responses) == 7
    assert rows.chunks == [[0, 1], [2, 3], [4, 5], [6]]  # a chunk never mixes two groups
    W, mw, L, ml = rows.layout(torch.arange(7, dtype=torch.float32))
    assert mw.tolist() == [[True, True, True], [True, False, False]]
    assert ml.tolist() == [[True, False], [True, True]]
    assert W[mw].tolist() == [0, 1, 2, 4] and L[ml].tolist() == [3, 5, 6]
    assert rows.pad_to(6).chunks[4:] == [[0, 1], [0, 1]] and rows.real == 4
    with pytest.raises(ValueError, match="passes"):
        GroupRows.of(GROUPS, chunk=2).pad_to(3)


@pytest.mark.parametrize("name,chunk,zero", [("gepo", 1, 2), ("gepo", 2, 2), ("dpo", 3, 2), ("gepo", 4, 2),
                                             ("dpo", 4, 2), ("gepo", 4, 3)])
def test_chunked_backward_equals_the_direct_gradient(model_cache, name, chunk, zero):
    """Groups split over chunks take the gradient cache, groups in one chunk the direct backward
    (ZeRO 0-2; under ZeRO-3 every group takes the cache): the gradient is the same."""
    w = _worker(model_cache, f"algo.gepo.micro_batch_size={chunk}", f"algo.offpolicy={name}",
                f"learner.zero_stage={zero}")
    params = [p for p in w.engine.parameters() if p.requires_grad]
    direct = _direct_loss(w, name)
    want = torch.autograd.grad(direct, params)
    batch = {"groups": GROUPS, "global_groups": 2, "passes": len(GroupRows.of(GROUPS, chunk).chunks) + 1}
    prep = prepare(w, name, batch)
    w.engine.zero_grad()
    value, stats = offpolicy_backward(w, prep, scale=1.0)
    assert value == pytest.approx(float(direct.detach()), rel=1e-5)
    for p, g in zip(params, want):  # the padding pass adds nothing
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
    assert stats[f"{name}/loss"] == pytest.approx(float(direct.detach()), rel=1e-5)
    assert stats[f"{name}/forward_time_s"] > 0


def test_gepo_at_the_reference_is_log_2_and_training_separates_the_sets(model_cache):
    w = _worker(model_cache)
    w.engine.model.load_state_dict(w.ref.state_dict())  # policy == reference: every r(y) is 0
    batch = {"groups": GROUPS, "global_groups": 2}
    value, stats = offpolicy_backward(w, prepare(w, "gepo", batch), scale=1.0)
    assert value == pytest.approx(math.log(2), abs=1e-5) and stats["gepo/var_w"] == pytest.approx(0, abs=1e-10)
    assert [g["margin"] for g in group_margins(w, batch, beta=1.0)] == pytest.approx([0, 0], abs=1e-5)
    opt = torch.optim.SGD(w.engine.parameters(), lr=0.005)
    for _ in range(8):
        opt.zero_grad()
        offpolicy_backward(w, prepare(w, "gepo", batch), scale=1.0)
        opt.step()
    margins = group_margins(w, batch, beta=1.0)
    assert all(g["margin"] > 0 for g in margins)  # the winners' implicit rewards rose above the losers'
    assert all(g["reward_w"] > g["reward_l"] for g in margins)


def test_off_policy_without_reference_is_an_error(model_cache):
    w = _worker(model_cache)
    w.ref = None
    with pytest.raises(RuntimeError, match="reference"):
        prepare(w, "gepo", {"groups": GROUPS, "global_groups": 2})


def test_groups_in_one_chunk_skip_the_gradient_free_pass(model_cache):
    calls = {}
    for zero in (2, 3):
        w = _worker(model_cache, "algo.gepo.micro_batch_size=4", f"learner.zero_stage={zero}")
        prep = prepare(w, "gepo", {"groups": GROUPS, "global_groups": 2})
        n = []
        hook = w.engine.model.register_forward_pre_hook(lambda m, a: n.append(1))
        offpolicy_backward(w, prep, scale=1.0)
        hook.remove()
        calls[zero] = len(n)
    assert calls[2] * 2 == calls[3]  # one pass with gradients instead of two


@pytest.mark.parametrize("zero", [2, 3])
def test_ranks_run_the_same_passes(model_cache, zero):
    """Two ranks with different groups (one a padding rank) run the same number of backward calls, and
    under ZeRO-3 the same number of forwards too (each one gathers the parameters collectively)."""
    from oorl.data.ir_groups.stream import shard_groups

    shards = shard_groups(GROUPS[:1], 2, chunk=2)  # one group, two ranks: the second is padding
    counts = []
    for shard in shards:
        w = _worker(model_cache, "algo.gepo.micro_batch_size=2", f"learner.zero_stage={zero}")
        prep = prepare(w, "gepo", shard)
        fwd, bwd = [], []
        hook = w.engine.model.register_forward_pre_hook(lambda m, a: fwd.append(1))
        w.engine.backward = lambda loss, _b=w.engine.backward: (bwd.append(1), _b(loss))
        offpolicy_backward(w, prep, scale=1.0)
        hook.remove()
        counts.append((len(fwd), len(bwd)))
    assert counts[0][1] == counts[1][1]
    if zero == 3:
        assert counts[0][0] == counts[1][0]
