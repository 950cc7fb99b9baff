"""Reward functions: a registry of plain callables with the TRL signature.

A reward function is ``f(prompts, completions, **columns) -> list[float]``: ``prompts`` and
``completions`` are lists of strings of the same length, and every dataset column (``answer``,
``tests``, ``language``...) arrives as a keyword argument holding a list of the same length.
Built-in functions register themselves by name; a custom one is named by import path
(``my_pkg.rewards:my_fn``) in the config.
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol

from oorl.errors import UserError
from oorl.registry import Registry


class RewardFn(Protocol):
    def __call__(self, prompts: list[str], completions: list[str], **columns) -> list[float]: ...


# Modules whose import registers built-in reward functions.
_BUILTIN_MODULES = ("oorl.reward.smoke_rewards", "oorl.reward.prolog_rewards", "oorl.reward.unit_test_rewards")
REWARD_FUNCTIONS: Registry[RewardFn] = Registry("reward function", _BUILTIN_MODULES,
                                                hint="or give module.path:function")


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    return REWARD_FUNCTIONS.register(name)


def resolve_reward(name: str) -> RewardFn:
    """A registered name, or ``module.path:function`` for a custom reward function."""
    if ":" in name:
        mod_name, _, attr = name.partition(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise UserError(f"reward function {name!r}: cannot import module {mod_name!r} ({e})") from None
        fn = getattr(mod, attr, None)
        if not callable(fn):
            raise UserError(f"reward function {name!r}: {mod_name} has no callable {attr!r}")
        return fn
    return REWARD_FUNCTIONS.get(name)
