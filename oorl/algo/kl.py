"""Per-token estimators of KL(pi || pi_ref) from samples of pi (J. Schulman, "Approximating KL
divergence", 2020).

With ``d = logp - ref_logp`` (log pi(y_t) - log pi_ref(y_t) of the sampled token):

* ``k1 = d``                          unbiased, high variance, can be negative;
* ``k2 = d**2 / 2``                   biased, low variance, >= 0;
* ``k3 = exp(-d) - (-d) - 1``         unbiased, low variance, >= 0 (DeepSeekMath's GRPO KL term).
  Written with ``ref_logp - logp``: ``exp(ref_logp - logp) - (ref_logp - logp) - 1``.

``clamp`` bounds ``d`` to ``[-clamp, clamp]`` before the formula (k3 grows like ``exp(-d)`` and can
overflow when the policy drifts far from the reference on a token); the gradient is zero where the
clamp is active.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from oorl.registry import Registry


def _k1(d: Tensor) -> Tensor:
    return d


def _k2(d: Tensor) -> Tensor:
    return 0.5 * d.square()


def _k3(d: Tensor) -> Tensor:
    # expm1 keeps precision when d is small: exp(-d) - 1 + d.
    return torch.expm1(-d) + d


KL_ESTIMATORS: Registry[Callable[[Tensor], Tensor]] = Registry("KL estimator")
for _name, _fn in (("k1", _k1), ("k2", _k2), ("k3", _k3)):
    KL_ESTIMATORS.add(_name, _fn)


def kl_estimate(
    logp: Tensor,
    ref_logp: Tensor,
    kind: str = "k3",
    clamp: float | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """Per-token KL estimate ``[B, T]`` of the kind ``k1`` | ``k2`` | ``k3`` (module docstring).

    ``clamp``: optional bound on ``|logp - ref_logp|``. ``mask``: optional; where it is 0 the result is
    exactly 0 (with no gradient), whatever the log-probs hold there. Unknown kind: UserError.
    """
    estimator = KL_ESTIMATORS.get(kind)
    d = logp - ref_logp
    if mask is not None:
        d = torch.where(mask.bool(), d, torch.zeros_like(d))
    if clamp is not None:
        d = d.clamp(-clamp, clamp)
    return estimator(d)
