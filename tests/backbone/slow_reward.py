"""A reward for the fault tests: the built-in ``letter_match``, slowed down so that a test can kill
the reward worker while it scores (``reward.functions: [{name: tests.backbone.slow_reward:slow_letter_match}]``;
the Ray workers import it through PYTHONPATH)."""

import time

from oorl.reward.smoke_rewards import letter_match


def slow_letter_match(prompts, completions, answer, delay_s: float = 1.0, **kw):
    time.sleep(delay_s)
    return letter_match(prompts, completions, answer, **kw)
