"""``oorl data ir-groups``: C/C++ problems with tests -> groups of equivalent (winner) and
inequivalent (loser) LLVM IRs for GEPO and DPO (see ``build.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from oorl.errors import UserError


def ir_groups_command(
    problems: Path = typer.Option(..., "--problems", help="HumanEval-X C++ rows, or rows with code and test_program "
                                  "(JSONL or .jsonl.gz)"),
    out: Path = typer.Option(..., "--out", help="where to write the groups (JSONL); the summary: OUT.summary.json"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N problems"),
    levels: str = typer.Option("O0,O1,O2,O3,Os,Oz", "--levels", help="clang optimisation levels of the winners"),
    mutants_per_group: int = typer.Option(4, "--mutants-per-group", help="losers kept per group (at most)"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="drop IRs longer than this many tokens"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="tokenizer directory for --max-tokens "
                                            "(default: a rough word/punctuation count)"),
    seed: int = typer.Option(0, "--seed", help="seed of the mutant choices"),
) -> None:
    """Build IR groups: winners = the source at each level, losers = mutants that build and fail the tests."""
    from oorl.data.ir_groups.build import LEVELS, BuildConfig, build_groups, make_tokens_counter

    lv = tuple(x.strip().lstrip("-") for x in levels.split(",") if x.strip())
    unknown = [x for x in lv if x not in LEVELS]
    if unknown or not lv:
        raise UserError(f"--levels {levels!r}: use a comma-separated subset of {','.join(LEVELS)}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1")
    if mutants_per_group < 1:
        raise UserError(f"--mutants-per-group {mutants_per_group}: must be at least 1")
    if max_tokens is not None and max_tokens < 1:
        raise UserError(f"--max-tokens {max_tokens}: must be at least 1")
    if tokenizer and max_tokens is None:
        raise UserError("--tokenizer is only used with --max-tokens; give both")
    cfg = BuildConfig(levels=tuple(dict.fromkeys(lv)), mutants_per_group=mutants_per_group, max_tokens=max_tokens,
                      count_tokens=make_tokens_counter(tokenizer) if max_tokens is not None else None, seed=seed)
    try:
        summary = build_groups(problems, out, cfg, limit=limit, log=lambda s: typer.echo(s, err=True))
    except OSError as e:
        raise UserError(f"--out {out}: cannot write it ({e})") from None
    typer.echo(json.dumps(summary, indent=2))


def mini_cpp_command(
    out: Path = typer.Option(..., "--out", help="where to write the problems (JSONL, the ir-groups generic layout)"),
    per_family: int = typer.Option(12, "--per-family", help="problems per family (different constants)"),
    seed: int = typer.Option(0, "--seed", help="seed of the constants and test inputs"),
) -> None:
    """Write the built-in small C++ problems with tests (integer functions: add_7, clamp_12, ...) for
    `oorl data ir-groups`: short IRs that a small model trains on in minutes."""
    from oorl.data.mini_cpp import write_mini_cpp

    if per_family < 1:
        raise UserError(f"--per-family {per_family}: must be at least 1")
    try:
        n = write_mini_cpp(out, seed=seed, per_family=per_family)
    except OSError as e:
        raise UserError(f"--out {out}: cannot write it ({e})") from None
    typer.echo(f"{n} problems -> {out}; next: oorl data ir-groups --problems {out} --out GROUPS.jsonl")
