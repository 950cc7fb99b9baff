"""RL algorithms as pure torch functions (no I/O, no Ray): advantages, policy losses, KL, GEPO."""

from oorl.algo.advantages import ADV_ESTIMATORS, compute_advantages, expand_to_tokens, register_adv_est
from oorl.algo.gepo import gepo_loss, sequence_logps
from oorl.algo.kl import KL_ESTIMATORS, kl_estimate
from oorl.algo.losses import (
    AGGREGATION_MODES,
    aggregate,
    dp_loss_scale,
    local_counts,
    masked_mean,
    masked_sum,
    ppo_clip_loss,
)

__all__ = [
    "ADV_ESTIMATORS",
    "AGGREGATION_MODES",
    "KL_ESTIMATORS",
    "aggregate",
    "compute_advantages",
    "dp_loss_scale",
    "expand_to_tokens",
    "gepo_loss",
    "kl_estimate",
    "local_counts",
    "masked_mean",
    "masked_sum",
    "ppo_clip_loss",
    "register_adv_est",
    "sequence_logps",
]
