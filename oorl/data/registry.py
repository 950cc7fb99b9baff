"""Datasets: named built-in task sources and file formats, both registries.

A task is a plain dict: ``id`` (str), ``prompt`` (a list of chat messages ``{"role", "content"}``)
and any number of extra columns (``answer``, ``tests``, ``language``...) that reward functions
receive as keyword arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from oorl.errors import UserError
from oorl.registry import Registry

Task = dict[str, Any]
_BUILTIN_MODULES = ("oorl.data.smoke", "oorl.data.prolog_math", "oorl.data.loaders", "oorl.data.multipl_e",
                    "oorl.data.translation", "oorl.data.translation_humaneval_x", "oorl.data.mini_programs")
# name -> loader(split: str, **kwargs) -> list[Task]
DATASETS: Registry[Callable[..., list[Task]]] = Registry("dataset", _BUILTIN_MODULES)
# format -> loader(path: Path, **kwargs) -> list[Task]
FORMATS: Registry[Callable[..., list[Task]]] = Registry("dataset format", _BUILTIN_MODULES)


def register_dataset(name: str):
    return DATASETS.register(name)


def register_format(name: str):
    return FORMATS.register(name)


def load_tasks(name: str | None = None, path: str | None = None, format: str | None = None,
               split: str = "train", limit: int | None = None, **kwargs) -> list[Task]:
    """Load tasks from a registered dataset ``name`` or from ``path`` in ``format``."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise UserError(f"dataset file {str(p)!r} does not exist (data.path)")
        fmt = format or ("hf" if p.is_dir() else "jsonl")
        if fmt not in FORMATS:
            raise UserError(f"unknown dataset format {fmt!r} for {p} (known: {', '.join(FORMATS.names())})")
        tasks = FORMATS.get(fmt)(p, split=split, **kwargs)
    elif name is not None:
        tasks = DATASETS.get(name)(split=split, **kwargs)
    else:
        raise UserError("a dataset needs either a name or a path")
    if not tasks:
        raise UserError(f"dataset {path or name!r} (split {split!r}) holds no tasks")
    for i, t in enumerate(tasks):
        if "prompt" not in t:
            raise UserError(f"dataset {path or name!r}: row {i} has no 'prompt'")
        t.setdefault("id", f"{name or Path(path).stem}-{split}-{i}")
    return tasks[:limit] if limit else tasks


@register_dataset("mixture")
def mixture(split: str = "train", parts: list[dict] | None = None) -> list[Task]:
    """Several datasets as one (``kwargs: {parts: [{name: ..., kwargs: {...}}, {path: ..., format: ...}]}``),
    in order; each part may set its own ``split`` and ``limit``. Task ids are prefixed by the part's
    index so they stay unique."""
    if not parts:
        raise UserError("dataset 'mixture' needs kwargs.parts: a list of {name|path, format, split, limit, kwargs}")
    out: list[Task] = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise UserError(f"dataset 'mixture': parts[{i}] must be a mapping, not {type(part).__name__}")
        extra = set(part) - {"name", "path", "format", "split", "limit", "kwargs"}
        if extra:
            raise UserError(f"dataset 'mixture': parts[{i}] has unknown key {sorted(extra)[0]!r}")
        tasks = load_tasks(part.get("name"), part.get("path"), part.get("format"), part.get("split", split),
                           part.get("limit"), **part.get("kwargs", {}))
        out += [{**t, "id": f"{i}:{t['id']}"} for t in tasks]
    return out
