"""Dataset file formats: GSM8K JSONL, GSM8K-Prolog JSONL, plain task JSONL, local HF datasets.

Formats (``data.format`` in the config; without one, a file is ``jsonl`` and a directory ``hf``):

* ``jsonl``: one JSON object per line; the layout is detected from the first row:
  a ``prompt`` column -> plain tasks (``prompt`` is a list of chat messages, or a string taken as
  one user message; every other column is kept); ``question`` + ``answer`` -> GSM8K;
  ``instruction`` + ``input`` + ``output`` -> GSM8K-Prolog.
* ``gsm8k``: rows ``{"question", "answer"}`` whose answer ends in ``#### N``; the task's answer
  is N with thousands separators removed, the text before ``####`` is kept as ``solution``.
* ``gsm8k_prolog``: rows ``{"instruction", "input", "output"}``: ``input`` is the problem and
  ``output`` a reference Prolog program (kept as ``reference_code``). The answer is the
  ``answer`` column when the row has one (``answer_from="auto"``, the default, or ``"column"``);
  otherwise (or with ``answer_from="program"``) it is obtained by running ``reference_query``
  (default ``solve(X)``) against the program in the sandbox, all rows concurrently, and taking
  its first binding. Rows whose program gives no number are skipped with a warning
  (``on_bad_row="error"`` makes them an error instead).
* ``hf``: a directory written by ``datasets.save_to_disk``: a ``DatasetDict`` (the split is
  picked by name; ``heldout`` falls back to ``test``) or a single ``Dataset``; rows are then read
  like ``jsonl`` rows (``layout=`` forces ``plain``, ``gsm8k`` or ``gsm8k_prolog``).

A ``jsonl`` / ``gsm8k`` / ``gsm8k_prolog`` path may also be a directory holding ``<split>.jsonl``
(``heldout`` falls back to ``test.jsonl``); a single file is used whatever the split.
GSM8K and GSM8K-Prolog prompts are built with :func:`oorl.data.prompts.build_messages`
(kwargs ``prompt_style``, ``shots_as``, ``system``).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from oorl.answers.numbers import answer_to_column, parse_answer, parse_prolog_number
from oorl.data.prompts import build_messages
from oorl.data.registry import Task, register_format
from oorl.errors import UserError

log = logging.getLogger(__name__)

_SPLIT_FALLBACK = {"heldout": "test", "eval": "test", "validation": "test"}
_GSM8K_ANSWER_RE = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


# ---------------------------------------------------------------- reading rows

def _split_file(path: Path, split: str) -> Path:
    if path.is_file():
        return path
    for name in (split, _SPLIT_FALLBACK.get(split)):
        if name and (path / f"{name}.jsonl").is_file():
            return path / f"{name}.jsonl"
    raise UserError(f"{path} has no {split}.jsonl; give a .jsonl file or a directory with <split>.jsonl")


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """``(line_number, row)`` pairs; a line that is not a JSON object is a one-line UserError."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg}); one JSON object per line") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append((lineno, row))
    return rows


def detect_layout(row: dict) -> str:
    if "prompt" in row:
        return "plain"
    if {"question", "answer"} <= row.keys():
        return "gsm8k"
    if {"instruction", "input", "output"} <= row.keys():
        return "gsm8k_prolog"
    raise UserError(f"cannot tell the dataset layout from columns {sorted(row)}: expected 'prompt', "
                    "'question'+'answer' (GSM8K) or 'instruction'+'input'+'output' (GSM8K-Prolog)")


# ---------------------------------------------------------------- layouts

def gsm8k_answer(text: str) -> int | str:
    """The number after ``####`` in a GSM8K answer, commas removed (int when whole)."""
    m = _GSM8K_ANSWER_RE.search(text)
    if not m:
        raise ValueError("no '#### N' final answer")
    return answer_to_column(parse_answer(m.group(1).replace("$", "")))


def _prompt_kwargs(kwargs: dict) -> dict:
    return {k: kwargs[k] for k in ("prompt_style", "shots_as", "system") if k in kwargs}


def _plain_rows(rows, where: str, split: str) -> list[Task]:
    tasks = []
    for lineno, row in rows:
        task = dict(row)
        prompt = task.get("prompt")
        if isinstance(prompt, str):
            task["prompt"] = [{"role": "user", "content": prompt}]
        elif not (isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m and "content" in m
                                                   for m in prompt)):
            raise UserError(f"{where}:{lineno}: 'prompt' must be a string or a list of "
                            "{'role', 'content'} messages")
        task.setdefault("id", f"{split}-{lineno}")
        task["id"] = str(task["id"])
        tasks.append(task)
    return tasks


def _gsm8k_rows(rows, where: str, split: str, **kwargs) -> list[Task]:
    tasks = []
    for lineno, row in rows:
        q, a = row.get("question"), row.get("answer")
        if not isinstance(q, str) or not isinstance(a, str):
            raise UserError(f"{where}:{lineno}: GSM8K rows need string 'question' and 'answer'")
        try:
            answer = gsm8k_answer(a)
        except ValueError as e:
            raise UserError(f"{where}:{lineno}: answer {a[-60:]!r}: {e}") from None
        tasks.append({"id": str(row.get("id", f"gsm8k-{split}-{lineno}")),
                      "prompt": build_messages(q, **_prompt_kwargs(kwargs)),
                      "question": q, "answer": answer,
                      "solution": _GSM8K_ANSWER_RE.sub("", a).strip()})
    return tasks


def _gsm8k_prolog_rows(rows, where: str, split: str, *, answer_from: str = "auto",
                       reference_query: str = "solve(X)", on_bad_row: str = "skip",
                       max_workers: int | None = None, limits: Any = None, **kwargs) -> list[Task]:
    if answer_from not in ("auto", "column", "program"):
        raise UserError(f"gsm8k_prolog: answer_from must be auto, column or program (got {answer_from!r})")
    if on_bad_row not in ("skip", "error"):
        raise UserError(f"gsm8k_prolog: on_bad_row must be skip or error (got {on_bad_row!r})")
    answers: dict[int, Any] = {}
    to_run = []
    for idx, (lineno, row) in enumerate(rows):
        for col in ("input", "output"):
            if not isinstance(row.get(col), str):
                raise UserError(f"{where}:{lineno}: GSM8K-Prolog rows need a string {col!r}")
        use_column = answer_from == "column" or (answer_from == "auto" and row.get("answer") is not None)
        if use_column:
            try:
                answers[idx] = answer_to_column(parse_answer(row.get("answer")))
            except ValueError as e:
                raise UserError(f"{where}:{lineno}: {e}") from None
        else:
            to_run.append(idx)
    bad: list[int] = []
    if to_run:
        from oorl.reward.prolog_check import first_binding, run_programs

        results = run_programs([(rows[i][1]["output"], reference_query) for i in to_run],
                               max_workers=max_workers, limits=limits)
        for idx, res in zip(to_run, results):
            value = first_binding(reference_query, res.bindings[0]) if res.status == "ok" and res.bindings else None
            number = parse_prolog_number(value) if value is not None else None
            if number is None:
                bad.append(idx)
            else:
                answers[idx] = answer_to_column(number)
    if bad:
        lines = [str(rows[i][0]) for i in bad]
        msg = (f"{where}: the reference program of {len(bad)} row(s) gave no number for "
               f"{reference_query!r} (lines {', '.join(lines[:10])}{'...' if len(lines) > 10 else ''})")
        if on_bad_row == "error":
            raise UserError(msg + "; fix them or use on_bad_row: skip")
        log.warning("%s; skipped", msg)
    tasks = []
    for idx, (lineno, row) in enumerate(rows):
        if idx in answers:
            tasks.append({"id": str(row.get("id", f"gsm8k_prolog-{split}-{lineno}")),
                          "prompt": build_messages(row["input"], **_prompt_kwargs(kwargs)),
                          "question": row["input"], "answer": answers[idx],
                          "reference_code": row["output"], "reference_query": reference_query})
    return tasks


def rows_to_tasks(rows, where: str, split: str, layout: str | None = None, **kwargs) -> list[Task]:
    """Tasks from ``(line_number, row)`` pairs of one of the three layouts."""
    if not rows:
        return []
    layout = layout or detect_layout(rows[0][1])
    if layout == "plain":
        return _plain_rows(rows, where, split)
    if layout == "gsm8k":
        return _gsm8k_rows(rows, where, split, **_prompt_kwargs(kwargs))
    if layout == "gsm8k_prolog":
        return _gsm8k_prolog_rows(rows, where, split, **kwargs)
    raise UserError(f"unknown layout {layout!r} (known: plain, gsm8k, gsm8k_prolog)")


# ---------------------------------------------------------------- registered formats

@register_format("jsonl")
def load_jsonl(path: Path, split: str = "train", layout: str | None = None, **kwargs) -> list[Task]:
    """A JSONL file (or a directory of ``<split>.jsonl``); layout detected from the first row."""
    f = _split_file(Path(path), split)
    return rows_to_tasks(read_jsonl(f), str(f), split, layout=layout, **kwargs)


@register_format("gsm8k")
def load_gsm8k(path: Path, split: str = "train", **kwargs) -> list[Task]:
    """GSM8K JSONL: ``question`` and ``answer`` ending in ``#### N``."""
    return load_jsonl(path, split, layout="gsm8k", **kwargs)


@register_format("gsm8k_prolog")
def load_gsm8k_prolog(path: Path, split: str = "train", **kwargs) -> list[Task]:
    """GSM8K-Prolog JSONL: ``instruction``, ``input``, ``output`` (reference program)."""
    return load_jsonl(path, split, layout="gsm8k_prolog", **kwargs)


@register_format("hf")
def load_hf_dir(path: Path, split: str = "train", layout: str | None = None, **kwargs) -> list[Task]:
    """A local Hugging Face dataset directory (``datasets.load_from_disk``)."""
    import datasets

    path = Path(path)
    try:
        ds = datasets.load_from_disk(str(path))
    except FileNotFoundError as e:
        raise UserError(f"{path} is not a dataset saved with datasets.save_to_disk ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        name = next((s for s in (split, _SPLIT_FALLBACK.get(split)) if s and s in ds), None)
        if name is None:
            raise UserError(f"{path} has splits {sorted(ds)}, none named {split!r}")
        ds = ds[name]
    rows = [(i + 1, dict(r)) for i, r in enumerate(ds)]
    return rows_to_tasks(rows, f"{path} ({split}) row", split, layout=layout, **kwargs)
