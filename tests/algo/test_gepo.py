"""GEPO loss on groups worked out by hand."""

import pytest
import torch

from oorl.algo.gepo import gepo_loss, sequence_logps

NAN = float("nan")

# One group, beta = 0.5, lam = 1.
#   winners: policy (-10, -12), ref (-11, -11) -> r_w = 0.5 * (1, -1) = (0.5, -0.5); mean_w = 0
#            Var_w (population) = (0.25 + 0.25) / 2 = 0.25
#   losers:  policy (-20, -22), ref (-19, -20) -> r_l = 0.5 * (-1, -2) = (-0.5, -1.0); mean_l = -0.75
#   margin = 0 - (-0.75) = 0.75
#   -log sigmoid(0.75) = log(1 + e^-0.75) = log(1.472367) = 0.386871
#   L = 0.386871 + 0.25 = 0.636871
# Gradients, s = sigmoid(-0.75) = 0.320821:
#   dL/d policy_w_i = beta / n * (-s + 2 * lam * (r_i - mean_w))
#                   = 0.25 * (-0.320821 + 1) = 0.169795   and   0.25 * (-0.320821 - 1) = -0.330205
#   dL/d policy_l_j = beta / m * s = 0.25 * 0.320821 = 0.080205
#   dL/d ref = -dL/d policy
PW, RW = [[-10.0, -12.0]], [[-11.0, -11.0]]
PL, RL = [[-20.0, -22.0]], [[-19.0, -20.0]]


def _leaves(*rows):
    return [torch.tensor(r, requires_grad=True) for r in rows]


def test_one_group_by_hand():
    pw, rw, pl, rl = _leaves(PW, RW, PL, RL)
    loss, stats = gepo_loss(pw, rw, pl, rl, beta=0.5, lam=1.0)
    assert loss.item() == pytest.approx(0.636871, abs=1e-6)
    assert stats["reward_margin"].item() == pytest.approx(0.75)
    assert stats["reward_w_mean"].item() == pytest.approx(0.0)
    assert stats["reward_l_mean"].item() == pytest.approx(-0.75)
    assert stats["var_w"].item() == pytest.approx(0.25)
    assert stats["pref_loss"].item() == pytest.approx(0.386871, abs=1e-6)
    assert stats["accuracy"].item() == 1.0
    loss.backward()
    assert torch.allclose(pw.grad, torch.tensor([[0.169795, -0.330205]]), atol=1e-6)
    assert torch.allclose(pl.grad, torch.tensor([[0.080205, 0.080205]]), atol=1e-6)
    assert torch.allclose(rw.grad, -pw.grad) and torch.allclose(rl.grad, -pl.grad)


def test_preference_gradient_sign_without_variance_term():
    # lam = 0: raising any winner's log-prob lowers the loss, raising a loser's raises it
    # (the +-0.080205 above without the variance part).
    pw, rw, pl, rl = _leaves(PW, RW, PL, RL)
    loss, _ = gepo_loss(pw, rw, pl, rl, beta=0.5, lam=0.0)
    assert loss.item() == pytest.approx(0.386871, abs=1e-6)
    loss.backward()
    assert torch.allclose(pw.grad, torch.full((1, 2), -0.080205), atol=1e-6)
    assert (pw.grad < 0).all() and (pl.grad > 0).all()


def test_increasing_a_winner_logp_lowers_the_loss():
    # Finite step on the winner below the winners' mean (winner 1, gradient -0.330205): loss drops.
    base, _ = gepo_loss(torch.tensor(PW), torch.tensor(RW), torch.tensor(PL), torch.tensor(RL), beta=0.5)
    moved, _ = gepo_loss(torch.tensor([[-10.0, -11.9]]), torch.tensor(RW), torch.tensor(PL), torch.tensor(RL),
                         beta=0.5)
    assert moved < base


def test_single_winner_has_zero_variance():
    # n = 1: r_w = 0.5 * (-4 + 5) = 0.5, Var = 0; m = 1: r_l = 0.5 * (-6 + 5) = -0.5; margin 1
    # L = log(1 + e^-1) = 0.313262
    loss, stats = gepo_loss(torch.tensor([[-4.0]]), torch.tensor([[-5.0]]), torch.tensor([[-6.0]]),
                            torch.tensor([[-5.0]]), beta=0.5, lam=1.0)
    assert loss.item() == pytest.approx(0.313262, abs=1e-6)
    assert stats["var_w"].item() == 0.0


# Two ragged groups, padded to n_max = 3, m_max = 2, padding = NaN.
#   group 0: the hand example above (winner slot 2 and nothing else padded)  L0 = 0.636871, margin 0.75
#   group 1: one winner  policy -5, ref -5 -> r = 0;  one loser policy -1, ref -3 -> r = 0.5 * 2 = 1
#            margin = 0 - 1 = -1 -> L1 = log(1 + e^1) = 1.313262, Var = 0
#   loss = (0.636871 + 1.313262) / 2 = 0.975067; accuracy 1/2; mean margin (0.75 - 1) / 2 = -0.125
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
    loss, stats = gepo_loss(**leaves, beta=0.5, lam=1.0, w_mask=W_MASK, l_mask=L_MASK)
    assert loss.item() == pytest.approx(0.975067, abs=1e-6)
    assert stats["accuracy"].item() == 0.5
    assert stats["reward_margin"].item() == pytest.approx(-0.125)
    assert stats["var_w"].item() == pytest.approx(0.125)  # (0.25 + 0) / 2
    loss.backward()
    for name, leaf in leaves.items():
        assert torch.isfinite(leaf.grad).all(), name
    # group 0's gradients are the one-group ones halved (two groups); padding gets none
    assert torch.allclose(leaves["policy_logp_w"].grad[0], torch.tensor([0.169795, -0.330205, 0.0]) / 2, atol=1e-6)
    # group 1: s = sigmoid(1) = 0.731059; dL/d policy_w = -beta * s / 2 = -0.182765; loser +0.182765
    assert leaves["policy_logp_w"].grad[1, 0].item() == pytest.approx(-0.182765, abs=1e-6)
    assert leaves["policy_logp_l"].grad[1, 0].item() == pytest.approx(0.182765, abs=1e-6)
    assert leaves["policy_logp_w"].grad[1, 1:].eq(0).all() and leaves["policy_logp_l"].grad[1, 1] == 0


def test_global_groups_normalisation():
    # Same two groups as one micro-batch of a step with 4 groups in all: (0.636871 + 1.313262) / 4
    tensors = {k: torch.tensor(v) for k, v in RAGGED.items()}
    loss, _ = gepo_loss(**tensors, beta=0.5, w_mask=W_MASK, l_mask=L_MASK, global_groups=4)
    assert loss.item() == pytest.approx(1.950133 / 4, abs=1e-6)


def test_group_without_losers_is_rejected():
    tensors = {k: torch.tensor(v) for k, v in RAGGED.items()}
    with pytest.raises(ValueError, match=r"loser.*\[1\]"):
        gepo_loss(**tensors, beta=0.5, w_mask=W_MASK, l_mask=torch.tensor([[1, 1], [0, 0]]))


def test_sequence_logps_sums_response_tokens():
    token_logp = torch.tensor([[-1.0, -2.0, NAN], [-3.0, -0.5, -0.5]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    out = sequence_logps(token_logp, mask)
    assert torch.equal(out, torch.tensor([-3.0, -3.0]))
    out.sum().backward()
    assert torch.equal(token_logp.grad, mask.float())
