"""The Prolog GRPO reward functions, registered by name.

All have the TRL signature ``f(prompts, completions, **columns) -> list[float]``; completions are
strings or chat messages. Their parameters are keyword arguments with the paper's values as
defaults; a config overrides them (``kwargs:`` of a reward entry, bound with functools.partial).

==========================  =====================================================================
name                        value per completion (kwargs and defaults)
==========================  =====================================================================
``prolog_correctness``      ``correct=2.0`` when the query's first binding equals the ``answer``
                            column numerically, else ``wrong=-1.0`` (also for a missing block, a
                            syntax error, a timeout...). ``abs_tol=1e-6``, ``rel_tol=1e-9``,
                            ``accept_expressions=False`` (see :mod:`oorl.answers.numbers`),
                            ``max_workers=None`` (threads; default: the worker's CPU share),
                            ``limits=None`` (the run's ``reward.sandbox`` settings; a dict of
                            ``SandboxLimits`` fields overrides them, e.g. ``{wall_s: 5}``).
                            A correct answer needs a clean run: status ``ok``, so a program
                            with a syntax error in any clause is wrong. Runs in the sandbox;
                            a failure of the sandbox itself gives ``nan`` (not judged).
``prolog_tags``             ``per_tag=0.125`` for each of the six tags in place (exactly once, in
                            order: the longest ordered run of the unique tags), plus
                            ``leak=-0.5`` when the query leaks into the code (definitions in
                            :mod:`oorl.answers.prolog_format`). Range -0.5 .. 0.75.
``prolog_strict_format``    ``reward=0.5`` when the whole completion is
                            ``<reasoning>\\n...\\n</reasoning>\\n<code>\\n...\\n</code>\\n<query>\\n
                            ...\\n</query>`` with at most one final newline, else 0.
``prolog_soft_format``      ``reward=0.5`` when the three blocks appear in order with only white
                            space between them, anything before or after, else 0.
``prolog_reasoning_length`` ``max_bonus * min(1, words / target_words)`` for the words of the
                            reasoning block (0 without one); ``max_bonus=0.25``,
                            ``target_words=50``. Capped, so padding gains nothing past the target.
==========================  =====================================================================
"""

from __future__ import annotations

import math

from oorl.answers.prolog_format import (parse_completion, query_leaks, soft_format_ok, strict_format_ok,
                                     tags_in_place)
from oorl.reward.functions import register_reward
from oorl.reward.prolog_check import check_completions, completion_text


@register_reward("prolog_correctness")
def prolog_correctness(prompts, completions, answer, *, correct: float = 2.0, wrong: float = -1.0,
                       abs_tol: float = 1e-6, rel_tol: float = 1e-9, accept_expressions: bool = False,
                       max_workers: int | None = None, limits=None, **columns) -> list[float]:
    """``correct`` when the first binding of the query equals the answer, else ``wrong``."""
    checks = check_completions(completions, answer, abs_tol=abs_tol, rel_tol=rel_tol,
                               accept_expressions=accept_expressions, max_workers=max_workers,
                               limits=limits)
    # the sandbox's own failure ("other") is not the answer's: nan, so the sample is not trained on
    return [math.nan if c.kind == "other" else float(correct) if c.correct else float(wrong) for c in checks]


@register_reward("prolog_tags")
def prolog_tags(prompts, completions, *, per_tag: float = 0.125, leak: float = -0.5,
                **columns) -> list[float]:
    """``per_tag`` per tag in place, plus ``leak`` when the query leaks into the code."""
    out = []
    for c in completions:
        text = completion_text(c)
        score = per_tag * tags_in_place(text)
        parsed = parse_completion(text)
        if query_leaks(parsed.code, parsed.query):
            score += leak
        out.append(float(score))
    return out


@register_reward("prolog_strict_format")
def prolog_strict_format(prompts, completions, *, reward: float = 0.5, **columns) -> list[float]:
    """``reward`` when the completion is exactly the three blocks, each tag on its own line."""
    return [float(reward) if strict_format_ok(completion_text(c)) else 0.0 for c in completions]


@register_reward("prolog_soft_format")
def prolog_soft_format(prompts, completions, *, reward: float = 0.5, **columns) -> list[float]:
    """``reward`` when the three blocks appear in order, anything around them."""
    return [float(reward) if soft_format_ok(completion_text(c)) else 0.0 for c in completions]


@register_reward("prolog_reasoning_length")
def prolog_reasoning_length(prompts, completions, *, max_bonus: float = 0.25, target_words: int = 50,
                            **columns) -> list[float]:
    """A capped bonus growing with the number of words in the reasoning block."""
    if target_words <= 0:
        raise ValueError("prolog_reasoning_length: target_words must be positive")
    out = []
    for c in completions:
        reasoning = parse_completion(completion_text(c)).reasoning
        words = len(reasoning.split()) if reasoning else 0
        out.append(float(max_bonus) * min(1.0, words / target_words))
    return out
