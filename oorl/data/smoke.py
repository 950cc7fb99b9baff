"""The built-in smoke task: say the letter the prompt names, as often as the answer allows.

A verifiable toy task that a randomly initialised tiny model learns within minutes: the reward of a
completion is the fraction of its non-space characters that equal the target letter, so a random
policy scores about 1/|alphabet| and one that copies the prompt's letter scores 1. A policy that
ignores the prompt and always says one letter is capped at 1/len(letters). Its reward,
``letter_match``, is in :mod:`oorl.reward.smoke_rewards`.
"""

from __future__ import annotations

import random

from oorl.data.registry import Task, register_dataset

LETTERS = "abcdefgh"
TEMPLATES = ("say {c}", "repeat {c}", "write the letter {c}", "{c} {c} {c}", "only {c} please")


def corpus_lines(rng: random.Random, n: int) -> list[str]:
    """Text the tiny tokenizer is trained on: the task's phrasings plus letters, digits and words."""
    words = ["the", "letter", "say", "repeat", "write", "only", "please", "answer", "is", "and"]
    lines = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            lines.append(rng.choice(TEMPLATES).format(c=rng.choice("abcdefghijklmnopqrstuvwxyz")))
        elif kind < 0.7:
            lines.append(" ".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 8))))
        else:
            lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(2, 8))))
    return lines


@register_dataset("smoke_letters")
def smoke_letters(split: str = "train", size: int = 256, seed: int = 0, letters: str = LETTERS) -> list[Task]:
    """Prompts asking for one letter; the target is in the ``answer`` column."""
    rng = random.Random(f"{seed}-{split}")
    tasks = []
    for i in range(size):
        c = rng.choice(letters)
        tasks.append({
            "id": f"smoke-{split}-{i}",
            "prompt": [{"role": "user", "content": rng.choice(TEMPLATES).format(c=c)}],
            "answer": c,
        })
    return tasks
