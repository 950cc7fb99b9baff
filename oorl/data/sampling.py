"""Which prompts a step sees and with which seeds, and how a task's prompt becomes token ids.

Shared by training (the trainer) and evaluation: both import it downward. Everything is a pure
function of (seed, step, index), so a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import random


class PromptSampler:
    """Deterministic prompt order: a fresh seeded permutation per epoch; step k's prompts depend only
    on (seed, k)."""

    def __init__(self, n: int, per_step: int, seed: int) -> None:
        self.n, self.per_step, self.seed = n, per_step, seed

    def indices(self, step: int) -> list[int]:
        out = []
        start = (step - 1) * self.per_step
        for pos in range(start, start + self.per_step):
            epoch, i = divmod(pos, self.n)
            perm = list(range(self.n))
            random.Random(f"{self.seed}-epoch-{epoch}").shuffle(perm)
            out.append(perm[i])
        return out


def sample_seed(seed: int, step: int, index: int) -> int:
    """The sampling seed of sample ``index`` of ``step`` (evaluation uses step -1)."""
    return random.Random(f"{seed}-{step}-{index}").getrandbits(31)


def encode_prompt(tokenizer, messages, max_tokens: int) -> list[int]:
    """Chat messages (or a plain string, as one user turn) through the model's chat template, keeping
    the last ``max_tokens`` tokens."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[-max_tokens:]
