"""What flows through a step: samples (prompt, rollout, rewards, status) and their groups.

A step asks for ``prompts_per_step`` groups of ``n_samples`` samples each. Every sample is born in
the driver with its prompt, group, task and seed; the rollout group fills the response; the reward
pool fills the rewards and the status; the driver computes the advantage. Rows of the learner's
batch are built from samples, never from parallel lists.

Status: a sample whose judging failed for a reason that is not the answer's (the jail could not
start, a toolchain is missing: :attr:`SampleStatus.INFRA_ERROR`) is *not* a reward. Its group's
advantages are computed from the other samples and the sample itself is masked out of the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable


class SampleStatus(str, Enum):
    OK = "ok"                    # judged: ``reward`` is what the answer earned
    INFRA_ERROR = "infra_error"  # the judging machinery failed; ``reward`` means nothing


# A reward function's value that says "this sample could not be judged" (the jail failed, not the
# answer). TRL's signature returns floats, so the marker is a float: NaN.
INFRA_ERROR = math.nan


@dataclass
class Sample:
    prompt_ids: list[int]
    group: int                # the step's group index: samples answering one prompt share it
    task: int                 # index of the task in its dataset
    seed: int = 0             # the sampling seed (per sample: resumable and engine-independent)
    response_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)  # the engine's, per response token (asked for only when cfg.use_tis)
    text: str = ""
    finish_reason: str | None = None
    weight_version: int = 0   # the learner step whose weights generated it
    engine: int = -1          # the rollout engine that generated it
    reward_worker: int = -1   # the reward worker that judged it
    rewards: dict[str, float] = field(default_factory=dict)  # per reward function (raw values)
    reward: float = 0.0       # the weighted sum
    status: SampleStatus = SampleStatus.OK
    detail: str = ""          # why the status is not ok
    advantage: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is SampleStatus.OK


def groups_of(samples: Iterable[Sample]) -> list[list[Sample]]:
    """Samples split by ``group``, groups in order of first appearance, samples in order."""
    out: dict[int, list[Sample]] = {}
    for s in samples:
        out.setdefault(s.group, []).append(s)
    return list(out.values())
