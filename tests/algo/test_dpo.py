"""DPO over IR-group pairs, worked out by hand."""

import pytest
import torch

from oorl.algo.dpo import dpo_loss, sample_pair_mask

NAN = float("nan")

# One group, beta = 0.5 (the GEPO hand example's numbers):
#   winners: policy (-10, -12), ref (-11, -11) -> r_w = 0.5 * (1, -1) = (0.5, -0.5)
#   losers:  policy (-20, -22), ref (-19, -20) -> r_l = 0.5 * (-1, -2) = (-0.5, -1.0)
#   pair margins r_w - r_l: (w0,l0) 1.0, (w0,l1) 1.5, (w1,l0) 0.0, (w1,l1) 0.5
#   -log sigmoid: log(1+e^-1) = 0.313262, log(1+e^-1.5) = 0.201413, log 2 = 0.693147,
#                 log(1+e^-0.5) = 0.474077;  mean L = 1.681899 / 4 = 0.420475
#   mean margin 0.75; accuracy 3/4 (a zero margin is not a win)
# Gradients: dL/d policy_w_i = -beta/4 * sum_j sigmoid(-margin_ij)
#   w0: -0.125 * (0.268941 + 0.182426) = -0.056421   w1: -0.125 * (0.5 + 0.377541) = -0.109693
#   dL/d policy_l_j = +beta/4 * sum_i sigmoid(-margin_ij)
#   l0: 0.125 * (0.268941 + 0.5) = 0.096118          l1: 0.125 * (0.182426 + 0.377541) = 0.069996
PW, RW = [[-10.0, -12.0]], [[-11.0, -11.0]]
PL, RL = [[-20.0, -22.0]], [[-19.0, -20.0]]


def _leaves(*rows):
    return [torch.tensor(r, requires_grad=True) for r in rows]


def test_one_group_all_pairs_by_hand():
    pw, rw, pl, rl = _leaves(PW, RW, PL, RL)
    loss, stats = dpo_loss(pw, rw, pl, rl, beta=0.5)
    assert loss.item() == pytest.approx(0.420475, abs=1e-6)
    assert stats["reward_margin"].item() == pytest.approx(0.75)
    assert stats["accuracy"].item() == pytest.approx(0.75)
    assert stats["reward_w_mean"].item() == pytest.approx(0.0)
    assert stats["reward_l_mean"].item() == pytest.approx(-0.75)
    assert stats["pairs"].item() == 4
    loss.backward()
    assert torch.allclose(pw.grad, torch.tensor([[-0.056421, -0.109693]]), atol=1e-6)
    assert torch.allclose(pl.grad, torch.tensor([[0.096118, 0.069996]]), atol=1e-6)
    assert torch.allclose(rw.grad, -pw.grad) and torch.allclose(rl.grad, -pl.grad)


def test_single_pair_is_standard_dpo():
    # one winner, one loser: r_w = 0.5 * (-4 + 5) = 0.5, r_l = 0.5 * (-6 + 5) = -0.5, margin 1
    # L = -log sigmoid(1) = 0.313262
    loss, stats = dpo_loss(torch.tensor([[-4.0]]), torch.tensor([[-5.0]]), torch.tensor([[-6.0]]),
                           torch.tensor([[-5.0]]), beta=0.5)
    assert loss.item() == pytest.approx(0.313262, abs=1e-6)
    assert stats["accuracy"].item() == 1.0


def test_pair_mask_keeps_only_chosen_pairs():
    # only the pairs (w0,l1) and (w1,l0): L = (0.201413 + 0.693147) / 2 = 0.447280; margin (1.5 + 0) / 2
    pm = torch.tensor([[[False, True], [True, False]]])
    loss, stats = dpo_loss(*map(torch.tensor, (PW, RW, PL, RL)), beta=0.5, pair_mask=pm)
    assert loss.item() == pytest.approx(0.447280, abs=1e-6)
    assert stats["reward_margin"].item() == pytest.approx(0.75)
    assert stats["accuracy"].item() == pytest.approx(0.5)


# Two ragged groups padded to n_max = 3, m_max = 2 with NaN:
#   group 0: the hand example (L0 = 0.420475)
#   group 1: one winner r = 0 (policy -5, ref -5), one loser r = 0.5 * (-1 + 3) = 1; margin -1
#            L1 = log(1 + e^1) = 1.313262
#   loss = (0.420475 + 1.313262) / 2 = 0.866869; accuracy (0.75 + 0) / 2; margin (0.75 - 1) / 2
RAGGED = dict(
    policy_logp_w=[[-10.0, -12.0, NAN], [-5.0, NAN, NAN]],
    ref_logp_w=[[-11.0, -11.0, NAN], [-5.0, NAN, NAN]],
    policy_logp_l=[[-20.0, -22.0], [-1.0, NAN]],
    ref_logp_l=[[-19.0, -20.0], [-3.0, NAN]],
)
W_MASK = torch.tensor([[1, 1, 0], [1, 0, 0]])
L_MASK = torch.tensor([[1, 1], [1, 0]])


def test_ragged_groups_by_hand():
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in RAGGED.items()}
    loss, stats = dpo_loss(**leaves, beta=0.5, w_mask=W_MASK, l_mask=L_MASK)
    assert loss.item() == pytest.approx(0.866869, abs=1e-6)
    assert stats["accuracy"].item() == pytest.approx(0.375)
    assert stats["reward_margin"].item() == pytest.approx(-0.125)
    loss.backward()
    for name, leaf in leaves.items():
        assert torch.isfinite(leaf.grad).all(), name
    # group 0's gradients are the one-group ones halved; group 1: -beta * sigmoid(1) / 2 = -0.182765
    assert torch.allclose(leaves["policy_logp_w"].grad[0], torch.tensor([-0.056421, -0.109693, 0.0]) / 2, atol=1e-6)
    assert leaves["policy_logp_w"].grad[1, 0].item() == pytest.approx(-0.182765, abs=1e-6)
    assert leaves["policy_logp_l"].grad[1, 0].item() == pytest.approx(0.182765, abs=1e-6)
    assert leaves["policy_logp_w"].grad[1, 1:].eq(0).all() and leaves["policy_logp_l"].grad[1, 1] == 0


def test_global_groups_normalisation():
    tensors = {k: torch.tensor(v) for k, v in RAGGED.items()}
    loss, _ = dpo_loss(**tensors, beta=0.5, w_mask=W_MASK, l_mask=L_MASK, global_groups=4)
    assert loss.item() == pytest.approx(1.733737 / 4, abs=1e-6)


def test_policy_equal_to_reference_gives_log2():
    x = torch.randn(3, 4)
    y = torch.randn(3, 2)
    loss, stats = dpo_loss(x, x.clone(), y, y.clone(), beta=0.1)
    assert loss.item() == pytest.approx(0.693147, abs=1e-6)
    assert stats["accuracy"].item() == 0.0


def test_sample_pair_mask_is_seeded_and_bounded():
    a = sample_pair_mask(W_MASK, L_MASK, max_pairs=3, seed=7)
    b = sample_pair_mask(W_MASK, L_MASK, max_pairs=3, seed=7)
    assert torch.equal(a, b)
    assert a.flatten(1).sum(-1).tolist() == [3, 1]  # group 0 has 4 real pairs, group 1 one
    valid = W_MASK.bool().unsqueeze(-1) & L_MASK.bool().unsqueeze(-2)
    assert not (a & ~valid).any()
    assert torch.equal(sample_pair_mask(W_MASK, L_MASK, None), valid)


def test_group_without_losers_is_rejected():
    tensors = {k: torch.tensor(v) for k, v in RAGGED.items()}
    with pytest.raises(ValueError, match=r"loser.*\[1\]"):
        dpo_loss(**tensors, beta=0.5, w_mask=W_MASK, l_mask=torch.tensor([[1, 1], [0, 0]]))
