"""``oorl data translate-tests``: HumanEval-style Python problems -> MultiPL-E-layout unit tests in
another language (``oorl/data/test_translate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from oorl.errors import UserError


def translate_tests_command(
    problems: Path = typer.Option(..., "--problems", help="HumanEval-style problems (JSONL or .jsonl.gz)"),
    language: str = typer.Option(..., "--language", help="py, cpp, cs, java, js, php, sh, ts, go, rs, prolog"),
    out: Path = typer.Option(..., "--out", help="where to write the translated problems (JSONL)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="translate only the first N problems"),
) -> None:
    """Translate the problems' Python tests; problems that do not translate are skipped and counted."""
    from oorl.data.test_translate import language_code, translate_file

    code = language_code(language)
    if not problems.is_file():
        raise UserError(f"--problems {problems}: no such file (JSONL with task_id, prompt, test, entry_point)")
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1")
    rows, skipped = translate_file(problems, code, limit)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as e:
        raise UserError(f"--out {out}: cannot write it ({e})") from None
    total = len(rows) + sum(skipped.values())
    typer.echo(f"{code}: translated {len(rows)}/{total} problems -> {out}")
    for reason, n in skipped.most_common():
        typer.echo(f"  skipped {n}: {reason}")
