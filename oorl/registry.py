"""One small registry for the things users extend by name (advantage estimators, reward functions,
datasets, languages, scorers, off-policy losses, weight-sync backends...).

Rules, the same everywhere:

* ``@REG.register("name")`` (or ``REG.add("name", obj)``) registers; registering a *different* object
  under a taken name is a programming error (``ValueError``); registering the same object again (a
  module imported twice) is a no-op.
* ``REG.get("name")`` returns the object, or raises a one-line ``UserError`` naming the kind, the name
  and what is known (the name came from a config or a command line).
* Built-ins register themselves when their modules are imported: ``builtins=(...)`` names those
  modules, imported on the first lookup, so importing the registry costs nothing.
* Aliases (``aliases=("js",)``) resolve to the canonical name, case-insensitively.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from oorl.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: Iterable[str] = (), hint: str = "") -> None:
        self.kind = kind
        self.hint = hint  # appended to the unknown-name error, e.g. "or give module.path:function"
        self._builtins = tuple(builtins)
        self._loaded = not self._builtins
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    # -- registering ------------------------------------------------------------------------------
    def add(self, name: str, obj: T, aliases: Iterable[str] = ()) -> T:
        existing = self._items.get(name)
        if existing is not None and existing is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered ({_describe(existing)})")
        self._items[name] = obj
        for a in (name, *aliases):
            taken = self._aliases.get(a.lower())
            if taken is not None and taken != name:
                raise ValueError(f"{self.kind} alias {a!r} already names {taken!r}")
            self._aliases[a.lower()] = name
        return obj

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            return self.add(name, obj, aliases)

        return deco

    # -- looking up -------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # before importing: a built-in module may look itself up
            for mod in self._builtins:
                importlib.import_module(mod)

    def canonical(self, name: str) -> str | None:
        self._load()
        return self._aliases.get(str(name).strip().lower())

    def get(self, name: str) -> T:
        key = self.canonical(name)
        if key is None:
            known = ", ".join(sorted(self._items)) or "none"
            hint = f"; {self.hint}" if self.hint else ""
            raise UserError(f"unknown {self.kind} {name!r} (known: {known}{hint})")
        return self._items[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._items.items())

    def values(self) -> list[T]:
        return [obj for _, obj in self.items()]

    def remove(self, name: str) -> None:
        """Unregister ``name`` and its aliases (for tests that register a throw-away entry)."""
        self._items.pop(name, None)
        self._aliases = {a: n for a, n in self._aliases.items() if n != name}

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)


def _describe(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__qualname__
