"""Datasets: named built-in task sources and file formats, both registries.

A task is a plain dict: ``id`` (str), ``prompt`` (a list of chat messages ``{"role", "content"}``)
and any number of extra columns (``answer``, ``tests``, ``language``...) that reward functions
receive as keyword arguments.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from oorl.errors import UserError

Task = dict[str, Any]
# name -> loader(split: str, **kwargs) -> list[Task]
DATASETS: dict[str, Callable[..., list[Task]]] = {}
# format -> loader(path: Path, **kwargs) -> list[Task]
FORMATS: dict[str, Callable[..., list[Task]]] = {}

_BUILTIN_MODULES = ("oorl.data.smoke", "oorl.data.prolog_math", "oorl.data.loaders")


def register_dataset(name: str):
    def deco(fn):
        DATASETS[name] = fn
        return fn

    return deco


def register_format(name: str):
    def deco(fn):
        FORMATS[name] = fn
        return fn

    return deco


def _load_builtins() -> None:
    for mod in _BUILTIN_MODULES:  # imported on first use: registering is a side effect of import
        importlib.import_module(mod)


def load_tasks(name: str | None = None, path: str | None = None, format: str | None = None,
               split: str = "train", limit: int | None = None, **kwargs) -> list[Task]:
    """Load tasks from a registered dataset ``name`` or from ``path`` in ``format``."""
    _load_builtins()
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise UserError(f"dataset file {str(p)!r} does not exist (data.path)")
        fmt = format or ("hf" if p.is_dir() else "jsonl")
        if fmt not in FORMATS:
            raise UserError(f"unknown dataset format {fmt!r} for {p} (known: {', '.join(sorted(FORMATS))})")
        tasks = FORMATS[fmt](p, split=split, **kwargs)
    elif name is not None:
        if name not in DATASETS:
            raise UserError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
        tasks = DATASETS[name](split=split, **kwargs)
    else:
        raise UserError("a dataset needs either a name or a path")
    if not tasks:
        raise UserError(f"dataset {path or name!r} (split {split!r}) holds no tasks")
    for i, t in enumerate(tasks):
        if "prompt" not in t:
            raise UserError(f"dataset {path or name!r}: row {i} has no 'prompt'")
        t.setdefault("id", f"{name or Path(path).stem}-{split}-{i}")
    return tasks[:limit] if limit else tasks
