"""PPO clip loss and loss aggregation against values worked out by hand."""

import math

import pytest
import torch

from oorl.algo.losses import aggregate, dp_loss_scale, local_counts, masked_mean, masked_sum, ppo_clip_loss
from oorl.errors import UserError

NAN = float("nan")

# --------------------------------------------------------------------------------------------------
# ppo_clip_loss, DAPO-style asymmetric bounds: clip_low = 0.2, clip_high = 0.28 -> ratio in [0.8, 1.28]
#
#  tok  ratio   A    ratio*A  clip(ratio)*A  -min(...)   clipped?   d loss / d logp  (= -ratio*A if unclipped)
#   0   1.5    +1    1.5      1.28           -1.28       yes (high)  0
#   1   0.5    -1   -0.5     -0.8             0.8        yes (low)   0
#   2   0.5    +1    0.5      0.8            -0.5        no          -0.5
#   3   1.5    -1   -1.5     -1.28            1.5        no          +1.5
#   4   1.1    +2    2.2      2.2            -2.2        no          -2.2
#   5   1.25   +1    1.25     1.25           -1.25       no (would be with high = 0.2)   -1.25
#   6   0.79   -1   -0.79    -0.8             0.8        yes (low)   0
#   7   pad (logp = -inf): loss 0, gradient 0
RATIOS = torch.tensor([[1.5, 0.5, 0.5, 1.5, 1.1, 1.25, 0.79, 1.0]])
ADV = torch.tensor([[1.0, -1.0, 1.0, -1.0, 2.0, 1.0, -1.0, 5.0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0]])
OLD = torch.full((1, 8), -1.0)


def _logp_leaf():
    logp = (OLD + RATIOS.log()).clone()
    logp[0, 7] = -math.inf
    return logp.requires_grad_(True)


def test_ppo_clip_values_and_gradients_with_asymmetric_bounds():
    logp = _logp_leaf()
    per_token, stats = ppo_clip_loss(logp, OLD, ADV, MASK, clip_low=0.2, clip_high=0.28)
    expected = torch.tensor([[-1.28, 0.8, -0.5, 1.5, -2.2, -1.25, 0.8, 0.0]])
    assert torch.allclose(per_token, expected, atol=1e-6)
    per_token.sum().backward()
    assert torch.allclose(logp.grad, torch.tensor([[0.0, 0.0, -0.5, 1.5, -2.2, -1.25, 0.0, 0.0]]), atol=1e-6)
    # clipped: tokens 0, 1, 6 of 7 response tokens; high side: token 0; low side: tokens 1, 6
    assert stats["clipfrac"].item() == pytest.approx(3 / 7)
    assert stats["clipfrac_high"].item() == pytest.approx(1 / 7)
    assert stats["clipfrac_low"].item() == pytest.approx(2 / 7)
    # (1.5 + 0.5 + 0.5 + 1.5 + 1.1 + 1.25 + 0.79) / 7 = 7.14 / 7 = 1.02
    assert stats["ratio_mean"].item() == pytest.approx(1.02)
    assert all(not v.requires_grad and v.dim() == 0 for v in stats.values())


def test_ppo_clip_symmetric_bound_clips_token_5():
    # With clip_high = 0.2, ratio 1.25 > 1.2 with A = +1 is clipped: loss -1.2, no gradient.
    logp = _logp_leaf()
    per_token, stats = ppo_clip_loss(logp, OLD, ADV, MASK)
    assert per_token[0, 5].item() == pytest.approx(-1.2)
    assert per_token[0, 0].item() == pytest.approx(-1.2)
    per_token.sum().backward()
    assert logp.grad[0, 5].item() == 0.0
    assert stats["clipfrac"].item() == pytest.approx(4 / 7)


def test_ppo_clip_at_ratio_one_is_minus_advantage_and_gradient_is_minus_advantage():
    # On-policy first step: ratio = 1 everywhere -> loss = -A, d loss / d logp = -A; nothing clipped.
    logp = torch.tensor([[-0.3, -2.0]], requires_grad=True)
    per_token, stats = ppo_clip_loss(logp, logp.detach(), torch.tensor([[0.7, -0.4]]), torch.ones(1, 2))
    assert torch.allclose(per_token, torch.tensor([[-0.7, 0.4]]))
    per_token.sum().backward()
    assert torch.allclose(logp.grad, torch.tensor([[-0.7, 0.4]]))
    assert stats["clipfrac"].item() == 0.0 and stats["approx_kl"].item() == 0.0


def test_ppo_clip_accepts_sequence_advantages_and_reports_approx_kl():
    # log ratio = 1 -> ratio = e; approx_kl = (e - 1) - 1 = 0.718282; A = [B] broadcast over tokens
    logp = torch.tensor([[0.0, 0.0]])
    old = torch.tensor([[-1.0, -1.0]])
    per_token, stats = ppo_clip_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 2), clip_high=10.0)
    assert torch.allclose(per_token, torch.full((1, 2), math.e))  # A < 0, ratio e < 11: unclipped, -(e * -1)
    assert stats["approx_kl"].item() == pytest.approx(math.e - 2)


# --------------------------------------------------------------------------------------------------
# masked helpers


def test_masked_sum_and_mean_ignore_nan_padding():
    x = torch.tensor([[1.0, 2.0, NAN], [4.0, NAN, NAN]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert masked_sum(x, mask).item() == 7.0
    assert torch.equal(masked_sum(x, mask, dim=-1), torch.tensor([3.0, 4.0]))
    assert masked_mean(x, mask).item() == pytest.approx(7 / 3)
    assert torch.equal(masked_mean(x, mask, dim=-1), torch.tensor([1.5, 4.0]))
    # an empty row averages to 0, not NaN
    assert masked_mean(x, torch.zeros_like(mask)).item() == 0.0


# --------------------------------------------------------------------------------------------------
# aggregate, one micro-batch: per_token rows [1, 2, 3] and [4, pad, pad]


PER_TOKEN = torch.tensor([[1.0, 2.0, 3.0], [4.0, NAN, NAN]])
PT_MASK = torch.tensor([[1, 1, 1], [1, 0, 0]])


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("token_mean", (1 + 2 + 3 + 4) / 4),  # 2.5
        ("seq_mean_token_mean", (6 / 3 + 4 / 1) / 2),  # 3.0
        ("seq_mean_token_sum", (6 + 4) / 2),  # 5.0
    ],
)
def test_aggregate_local(mode, expected):
    assert aggregate(PER_TOKEN, PT_MASK, mode).item() == pytest.approx(expected)


def test_aggregate_unknown_mode_is_a_user_error():
    with pytest.raises(UserError, match="token_mean"):
        aggregate(PER_TOKEN, PT_MASK, "sum")


def test_aggregate_empty_micro_batch_is_zero_and_differentiable():
    x = torch.ones(2, 3, requires_grad=True)
    out = aggregate(x, torch.zeros(2, 3), "token_mean")
    out.backward()
    assert out.item() == 0.0 and torch.equal(x.grad, torch.zeros(2, 3))


# --------------------------------------------------------------------------------------------------
# aggregate across 2 data-parallel ranks x 2 micro-batches of different shapes
#
#   rank 0, mb 0: sequences [1, 2] and [12]        tokens 3   token sum 15   seq means 1.5, 12
#   rank 0, mb 1: sequence  [4, 5, 6, 7]           tokens 4   token sum 22   seq mean 5.5
#   rank 1, mb 0: sequence  [8]                    tokens 1   token sum 8    seq mean 8
#   rank 1, mb 1: sequences [9, 10] and (empty)    tokens 2   token sum 19   seq mean 9.5; the empty one
#                                                                          does not count as a sequence
#   all tokens: 10, sum 64  -> token_mean            = 64 / 10 = 6.4
#   sequences: 5            -> seq_mean_token_mean   = (1.5 + 12 + 5.5 + 8 + 9.5) / 5 = 36.5 / 5 = 7.3
#                              seq_mean_token_sum    = (3 + 12 + 22 + 8 + 19) / 5 = 64 / 5 = 12.8
#   padding holds 99, which would change every result if it were counted
#   (averaging the four local token means instead would give (5 + 5.5 + 8 + 9.5) / 4 = 7.0: wrong)

PAD = 99.0
RANKS = [
    [
        (torch.tensor([[1.0, 2.0], [12.0, PAD]]), torch.tensor([[1, 1], [1, 0]])),
        (torch.tensor([[4.0, 5.0, 6.0, 7.0]]), torch.ones(1, 4)),
    ],
    [
        (torch.tensor([[8.0]]), torch.ones(1, 1)),
        (torch.tensor([[9.0, 10.0], [PAD, PAD]]), torch.tensor([[1, 1], [0, 0]])),
    ],
]
GLOBAL_EXPECTED = {"token_mean": 6.4, "seq_mean_token_mean": 7.3, "seq_mean_token_sum": 12.8}


def _global_counts():
    """What the learner does: sum local counts over micro-batches, then all-reduce SUM over ranks."""
    tokens = sum(local_counts(mask)[0] for rank in RANKS for _, mask in rank)
    sequences = sum(local_counts(mask)[1] for rank in RANKS for _, mask in rank)
    return tokens, sequences


def test_local_counts():
    assert [tuple(int(c) for c in local_counts(m)) for rank in RANKS for _, m in rank] == [(3, 2), (4, 1),
                                                                                           (1, 1), (2, 1)]
    tokens, sequences = _global_counts()
    assert (int(tokens), int(sequences)) == (10, 5)


@pytest.mark.parametrize("mode", list(GLOBAL_EXPECTED))
def test_sum_of_micro_batch_scalars_is_the_global_loss(mode):
    tokens, sequences = _global_counts()
    total = sum(
        aggregate(x, mask, mode, global_tokens=tokens, num_sequences=sequences) for rank in RANKS for x, mask in rank
    )
    assert total.item() == pytest.approx(GLOBAL_EXPECTED[mode])


@pytest.mark.parametrize("mode", list(GLOBAL_EXPECTED))
def test_deepspeed_averaging_with_dp_loss_scale_gives_the_global_gradient(mode):
    """Simulate DeepSpeed: per rank, backward(loss * scale / GAS) on each micro-batch; then average over
    ranks. With per_token = theta * x, d L / d theta = L(theta=1), i.e. the hand values above."""
    tokens, sequences = _global_counts()
    world, gas = len(RANKS), 2
    scale = dp_loss_scale(world, gas)
    assert scale == 4.0
    grads = []
    for rank in RANKS:
        theta = torch.tensor(1.0, requires_grad=True)  # this rank's replica of the parameter
        for x, mask in rank:
            loss = aggregate(theta * x, mask, mode, global_tokens=tokens, num_sequences=sequences)
            (loss * scale / gas).backward()  # engine.backward divides by GAS
        grads.append(theta.grad)
    averaged = torch.stack(grads).mean()  # the data-parallel all-reduce averages
    assert averaged.item() == pytest.approx(GLOBAL_EXPECTED[mode])


def test_dp_loss_scale_rejects_nonsense():
    assert dp_loss_scale(8) == 8.0
    with pytest.raises(ValueError):
        dp_loss_scale(0, 1)


def test_truncated_is_weight_caps_the_ratio_and_ignores_unknown_and_masked_tokens():
    from oorl.algo.losses import truncated_is_weight

    old = torch.log(torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.5]]))
    # engine probabilities: 0.5 (ratio 1), 0.25 (ratio 2 -> capped at 1.5), 1.0 (ratio 0.5), unknown, masked
    beh = torch.log(torch.tensor([[0.5, 0.25, 1.0, 1.0, 0.1]]))
    beh[0, 3] = NAN
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    w, stats = truncated_is_weight(old, beh, mask, cap=1.5)
    assert torch.allclose(w, torch.tensor([[1.0, 1.5, 0.5, 1.0, 1.0]]))
    assert stats["tis/weight_mean"] == pytest.approx((1.0 + 1.5 + 0.5) / 3)
    assert stats["tis/capped_frac"] == pytest.approx(1 / 3)
    assert stats["tis/logp_gap_mean"] == pytest.approx(2 * math.log(2) / 3)
    assert not w.requires_grad
