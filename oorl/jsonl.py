"""Reading JSONL files (plain or gzipped) with line numbers and one-line errors naming file and line.
Imports nothing of OORL but ``oorl.errors``, so data, reward and eval all import it downward."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object, or a file
    that cannot be read, is a UserError naming the file and line."""
    from oorl.errors import UserError

    path = Path(path)
    rows = []
    try:
        with open_text(path) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise UserError(f"{path}:{i}: not valid JSON ({e}); each line must be one JSON object") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{i}: expected a JSON object per line, got {type(row).__name__}")
                rows.append((i, row))
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it ({e})") from None
    return rows
