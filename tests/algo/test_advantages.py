"""Advantage estimators against values worked out by hand."""

import pytest
import torch

from oorl.algo.advantages import ADV_ESTIMATORS, compute_advantages, expand_to_tokens, register_adv_est
from oorl.errors import UserError

# Three groups with ids that are neither contiguous nor sorted, samples interleaved:
#   group 7: rewards 1, 0, 0, 1   mean 0.5, population std 0.5, sample std sqrt(1/3) = 0.57735
#   group 3: rewards 2, 0         mean 1,   population std 1,   sample std sqrt(2)   = 1.41421
#   group 9: reward 5             a group of one
IDS = torch.tensor([7, 3, 7, 9, 7, 3, 7])
REWARDS = torch.tensor([1.0, 2.0, 0.0, 5.0, 0.0, 0.0, 1.0])


def test_grpo_population_std():
    # (r - mean) / std:  group 7 -> +-0.5 / 0.5 = +-1; group 3 -> +-1 / 1 = +-1; group 9 -> 0
    adv = compute_advantages("grpo", REWARDS, IDS, eps=0.0)
    assert torch.allclose(adv, torch.tensor([1.0, 1.0, -1.0, 0.0, -1.0, -1.0, 1.0]))


def test_grpo_default_eps_is_tiny():
    adv = compute_advantages("grpo", REWARDS, IDS)
    assert torch.allclose(adv, torch.tensor([1.0, 1.0, -1.0, 0.0, -1.0, -1.0, 1.0]), atol=1e-5)


def test_grpo_uneven_group():
    # rewards 0, 1, 2: mean 1, population std sqrt((1 + 0 + 1) / 3) = 0.816497 -> -1.224745, 0, 1.224745
    adv = compute_advantages("grpo", torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 0, 0]), eps=0.0)
    assert torch.allclose(adv, torch.tensor([-1.224745, 0.0, 1.224745]))


def test_grpo_unbiased_std_and_singleton_is_zero_not_nan():
    # group 7: +-0.5 / 0.57735 = +-0.866025; group 3: +-1 / 1.41421 = +-0.707107; group 9: 0 (n - 1 = 0)
    adv = compute_advantages("grpo", REWARDS, IDS, eps=0.0, unbiased=True)
    assert torch.allclose(adv, torch.tensor([0.866025, 0.707107, -0.866025, 0.0, -0.866025, -0.707107, 0.866025]))


def test_grpo_without_std_is_mean_centred():
    adv = compute_advantages("grpo", REWARDS, IDS, norm_std=False)
    assert torch.allclose(adv, torch.tensor([0.5, 1.0, -0.5, 0.0, -0.5, -1.0, 0.5]))


def test_grpo_constant_group_gets_zero():
    adv = compute_advantages("grpo", torch.tensor([3.0, 3.0, 3.0]), torch.tensor([1, 1, 1]))
    assert torch.equal(adv, torch.zeros(3))


def test_reinforce_pp_group_baseline_then_batch_whitening():
    # group baseline: groups [1,0,0,1] [2,0] [5] -> a = 0.5,-0.5,-0.5,0.5, 1,-1, 0
    # batch: mean(a) = 0, population std = sqrt((4 * 0.25 + 1 + 1 + 0) / 7) = sqrt(3/7) = 0.654654
    # A = a / 0.654654 -> 0.5 -> 0.763763, 1 -> 1.527525
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 5.0])
    ids = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    adv = compute_advantages("reinforce_pp", rewards, ids, eps=0.0)
    expected = torch.tensor([0.763763, -0.763763, -0.763763, 0.763763, 1.527525, -1.527525, 0.0])
    assert torch.allclose(adv, expected)


def test_reinforce_pp_nobaseline_whitens_the_batch():
    # r = 1, 2, 3, 6: mean 3, population std sqrt((4 + 1 + 0 + 9) / 4) = sqrt(3.5) = 1.870829
    # A = (-2, -1, 0, 3) / 1.870829; the ids play no part
    adv = compute_advantages("reinforce_pp_nobaseline", torch.tensor([1.0, 2.0, 3.0, 6.0]),
                             torch.tensor([0, 0, 1, 1]), eps=0.0)
    assert torch.allclose(adv, torch.tensor([-1.069045, -0.534522, 0.0, 1.603567]))


def test_rloo_leave_one_out_baseline():
    # group 7: 1 - mean(0, 0, 1) = 2/3; 0 - mean(1, 0, 1) = -2/3
    # group 3: 2 - 0 = 2; 0 - 2 = -2.  group 9: 0
    adv = compute_advantages("rloo", REWARDS, IDS)
    expected = torch.tensor([2 / 3, 2.0, -2 / 3, 0.0, -2 / 3, -2.0, 2 / 3])
    assert torch.allclose(adv, expected)


def test_integer_rewards_are_accepted():
    adv = compute_advantages("grpo", torch.tensor([1, 0]), torch.tensor([0, 0]), norm_std=False)
    assert adv.dtype == torch.float32 and torch.allclose(adv, torch.tensor([0.5, -0.5]))


def test_unknown_estimator_is_a_user_error_naming_the_known_ones():
    with pytest.raises(UserError) as err:
        compute_advantages("ppo_gae", REWARDS, IDS)
    for name in ("grpo", "reinforce_pp", "rloo"):
        assert name in str(err.value)


def test_unknown_option_is_a_user_error():
    with pytest.raises(UserError, match="norm_std"):
        compute_advantages("grpo", REWARDS, IDS, normalise=True)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError):
        compute_advantages("grpo", REWARDS, IDS[:3])


def test_register_custom_estimator_and_duplicates():
    @register_adv_est("test_double")
    def double(rewards, group_ids, factor=2.0):
        return rewards * factor

    try:
        assert torch.equal(compute_advantages("test_double", torch.tensor([1.0, -3.0]), torch.tensor([0, 1])),
                           torch.tensor([2.0, -6.0]))
        assert compute_advantages("test_double", torch.tensor([1.0]), torch.tensor([0]), factor=3.0).item() == 3.0
        register_adv_est("test_double")(double)  # same function again: fine
        with pytest.raises(ValueError, match="already registered"):
            register_adv_est("test_double")(lambda r, g: r)
    finally:
        ADV_ESTIMATORS.remove("test_double")


def test_expand_to_tokens():
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    out = expand_to_tokens(torch.tensor([2.0, -1.0]), mask)
    assert torch.equal(out, torch.tensor([[2.0, 2.0, 0.0], [-1.0, 0.0, 0.0]]))


def test_gradient_through_group_mean():
    # Rewards normally carry no gradient, but the group statistics must be differentiable all the same.
    r = torch.tensor([1.0, 0.0, 2.0, 0.0], requires_grad=True)
    adv = compute_advantages("grpo", r, torch.tensor([0, 0, 1, 1]), norm_std=False)
    adv[0].backward()
    # A_0 = r_0 - (r_0 + r_1) / 2  -> dA_0/dr = [0.5, -0.5, 0, 0]
    assert torch.allclose(r.grad, torch.tensor([0.5, -0.5, 0.0, 0.0]))
