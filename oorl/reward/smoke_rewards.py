"""The smoke task's reward (the task itself is :mod:`oorl.data.smoke`)."""

from __future__ import annotations

from oorl.reward.functions import register_reward


@register_reward("letter_match")
def letter_match(prompts: list[str], completions: list[str], answer: list[str], **_) -> list[float]:
    """Fraction of the completion's non-space characters equal to the target letter (0 for an empty one)."""
    out = []
    for text, target in zip(completions, answer):
        chars = [ch for ch in text if not ch.isspace()]
        out.append(sum(ch == target for ch in chars) / len(chars) if chars else 0.0)
    return out
