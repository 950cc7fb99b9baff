"""Schulman's KL estimators at points worked out by hand."""

import math

import pytest
import torch

from oorl.algo.kl import kl_estimate
from oorl.errors import UserError

# d = logp - ref_logp at three tokens: 0.5, -1, 0
LOGP = torch.tensor([[-1.0, -3.0, -2.0]])
REF = torch.tensor([[-1.5, -2.0, -2.0]])


@pytest.mark.parametrize(
    "kind, value, grad",
    [
        # k1 = d; d k1 / d logp = 1
        ("k1", [0.5, -1.0, 0.0], [1.0, 1.0, 1.0]),
        # k2 = d^2 / 2 -> 0.125, 0.5, 0; gradient d
        ("k2", [0.125, 0.5, 0.0], [0.5, -1.0, 0.0]),
        # k3 = exp(-d) + d - 1: exp(-0.5) - 0.5 = 0.606531 - 0.5 = 0.106531; e - 2 = 0.718282; 0
        # gradient 1 - exp(-d): 1 - 0.606531 = 0.393469; 1 - e = -1.718282; 0
        ("k3", [0.106531, 0.718282, 0.0], [0.393469, -1.718282, 0.0]),
    ],
)
def test_estimators_values_and_gradients(kind, value, grad):
    logp = LOGP.clone().requires_grad_(True)
    kl = kl_estimate(logp, REF, kind)
    assert torch.allclose(kl, torch.tensor([value]), atol=1e-6)
    kl.sum().backward()
    assert torch.allclose(logp.grad, torch.tensor([grad]), atol=1e-6)


def test_k1_and_k3_are_unbiased_on_an_exact_expectation():
    # p = (0.5, 0.5), q = (0.25, 0.75): KL(p || q) = 0.5 ln 2 + 0.5 ln(2/3) = 0.5 ln(4/3) = 0.143841.
    # Sum over the two outcomes, weighted by p, of each estimator equals KL for k1 and k3 (not k2).
    logp = torch.tensor([[math.log(0.5), math.log(0.5)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.75)]])
    p = torch.tensor([[0.5, 0.5]])
    for kind in ("k1", "k3"):
        assert (p * kl_estimate(logp, ref, kind)).sum().item() == pytest.approx(0.143841, abs=1e-6)
    assert (p * kl_estimate(logp, ref, "k2")).sum().item() != pytest.approx(0.143841, abs=1e-3)


def test_clamp_bounds_the_log_ratio_and_stops_its_gradient():
    # d = 5 clamped to 2: k1 = 2, k3 = exp(-2) + 2 - 1 = 1.135335; d = -100 clamped to -20: k3 = e^20 - 21
    logp = torch.tensor([[5.0, -100.0]], requires_grad=True)
    ref = torch.zeros(1, 2)
    assert torch.allclose(kl_estimate(logp, ref, "k1", clamp=2.0), torch.tensor([[2.0, -2.0]]))
    k3 = kl_estimate(logp, ref, "k3", clamp=20.0)
    assert k3[0, 0].item() == pytest.approx(math.exp(-5) + 4, rel=1e-6)  # |5| < 20: not clamped
    assert k3[0, 1].item() == pytest.approx(485165174.41, rel=1e-6)  # e^20 - 21
    assert torch.isinf(kl_estimate(logp, ref, "k3")[0, 1])  # e^100 overflows float32 without the clamp
    kl_estimate(logp, ref, "k3", clamp=2.0).sum().backward()
    assert torch.equal(logp.grad, torch.zeros(1, 2))


def test_mask_zeroes_padding_without_nan_gradients():
    logp = torch.tensor([[-1.0, -math.inf]], requires_grad=True)
    kl = kl_estimate(logp, torch.tensor([[-1.5, -2.0]]), "k3", mask=torch.tensor([[1, 0]]))
    assert kl[0, 1].item() == 0.0 and kl[0, 0].item() == pytest.approx(0.106531, abs=1e-6)
    kl.sum().backward()
    assert torch.allclose(logp.grad, torch.tensor([[0.393469, 0.0]]), atol=1e-6)


def test_unknown_kind_is_a_user_error():
    with pytest.raises(UserError, match="k3"):
        kl_estimate(LOGP, REF, "k4")
