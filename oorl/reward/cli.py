"""Command line for the reward workers' executors, mounted by ``oorl/cli.py``:

  oorl sandbox run --language LANG FILE [--tests FILE] [--timeout S] [--json]
  oorl judge --humaneval-x DIR [--samples FILE.jsonl] [--languages ...] [--json OUT]
  oorl judge --multipl-e DIR [--samples FILE.jsonl] [--languages ...] [--benchmark B] [--json OUT] [--per-sample OUT]
  oorl doctor

``sandbox run`` exits 0 when the program passed, 1 otherwise (2 for bad input).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from oorl.errors import UserError
from oorl.reward.sandbox import SandboxLimits

sandbox_app = typer.Typer(help="Run programs in the reward workers' jail.", no_args_is_help=True)

_EXT = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".ts": "typescript", ".cpp": "cpp",
        ".cc": "cpp", ".cxx": "cpp", ".java": "java", ".go": "go", ".rs": "rust", ".php": "php", ".sh": "bash",
        ".bash": "bash", ".cs": "csharp", ".pl": "prolog", ".pro": "prolog"}


def _limits(timeout: float | None, memory_mb: int | None, unsandboxed: bool, threads: int | None = None) -> SandboxLimits:
    kw: dict = {}
    if timeout is not None:
        if timeout <= 0:
            raise UserError(f"--timeout {timeout}: must be a positive number of seconds")
        kw.update(wall_s=timeout, cpu_s=timeout)
    if memory_mb is not None:
        if memory_mb <= 16:
            raise UserError(f"--memory-mb {memory_mb}: must be more than 16")
        kw["memory_mb"] = memory_mb
    if unsandboxed:
        kw["mode"] = "unsandboxed"
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads {threads}: must be at least 1")
        kw["threads"] = threads
    return SandboxLimits(**kw)


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise UserError(f"{what} {path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{what} {path}: not UTF-8 text") from None


@sandbox_app.command("run")
def sandbox_run(
    file: Path = typer.Argument(..., help="the program's source file"),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="python, cpp, java, js, ts, go, rust, "
                                           "php, bash, csharp, prolog (default: from the file's extension)"),
    tests: Optional[Path] = typer.Option(None, "--tests", "-t", help="test code in the same language"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="run limit in seconds (wall and CPU)"),
    memory_mb: Optional[int] = typer.Option(None, "--memory-mb", help="memory cap of the run in MiB"),
    stdin: Optional[Path] = typer.Option(None, "--stdin", help="a file fed to the program's standard input"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    unsandboxed: bool = typer.Option(False, "--unsandboxed", help="DANGEROUS: run without the jail"),
) -> None:
    """Judge one program (with optional tests) in the jail and print the verdict."""
    from oorl.reward.executor import Executor
    from oorl.reward.harness import JudgeRequest, build_program

    lang = language or _EXT.get(file.suffix.lower())
    if lang is None:
        raise UserError(f"{file}: cannot tell the language from the extension {file.suffix!r}; pass --language")
    req = JudgeRequest.make(lang, _read(file, "program"), _read(tests, "--tests") if tests else "",
                            stdin=_read(stdin, "--stdin") if stdin else "")
    res = Executor(_limits(timeout, memory_mb, unsandboxed)).run(build_program(req))
    if as_json:
        d = res.to_dict(with_steps=False)
        for name in ("compile", "run"):
            step = getattr(res, name)
            d[name] = None if step is None else {
                "exit_code": step.exit_code, "signal": step.signal, "wall_s": round(step.wall_s, 4),
                "cpu_s": round(step.cpu_s, 4), "peak_memory_mb": round(step.peak_memory_mb, 1),
                **({"stdout": step.stdout, "stderr": step.stderr} if name == "compile" else {})}
        typer.echo(json.dumps(d, indent=2))
    else:
        typer.echo(f"{res.status.value}  ({res.language}, exit {res.exit_code}, {res.wall_s:.2f}s)  {res.detail}")
        if res.stdout.strip():
            typer.echo("--- stdout ---\n" + res.stdout.rstrip())
        if res.stderr.strip() and not res.passed:
            typer.echo("--- stderr ---\n" + res.stderr.rstrip())
    raise typer.Exit(0 if res.passed else 1)


def judge_command(
    humaneval_x: Optional[Path] = typer.Option(None, "--humaneval-x", help="directory with humaneval_<lang>.jsonl[.gz]"),
    multipl_e: Optional[Path] = typer.Option(None, "--multipl-e", help="directory with MultiPL-E's "
                                             "<benchmark>-<language>.jsonl[.gz] (evaluation only)"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="JSONL of task_id + completion (HumanEval-X), "
                                           "name + language + completion (MultiPL-E); default: the canonical "
                                           "solutions the data has"),
    languages: Optional[List[str]] = typer.Option(None, "--languages", help="subset, e.g. cpp,go (repeatable)"),
    benchmark: Optional[str] = typer.Option(None, "--benchmark", help="MultiPL-E: humaneval or mbpp (default: all "
                                            "the directory has)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the full report here"),
    per_sample: Optional[Path] = typer.Option(None, "--per-sample", help="MultiPL-E: write one JSON line per sample "
                                              "(name, language, passed, status) here"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N problems per language"),
    threads: Optional[int] = typer.Option(None, "--threads", help="programs judged at once (default: CPUs)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="run limit in seconds"),
) -> None:
    """Judge HumanEval-X or MultiPL-E samples (or canonical solutions) and print a pass table per language."""
    if (humaneval_x is None) == (multipl_e is None):
        raise UserError("judge: give one of --humaneval-x DIR or --multipl-e DIR")
    if multipl_e is not None:
        return _judge_multipl_e(multipl_e, samples, languages, benchmark, json_out, per_sample, limit, threads, timeout)
    if benchmark is not None or per_sample is not None:
        raise UserError("--benchmark and --per-sample go with --multipl-e")
    _judge_humaneval_x(humaneval_x, samples, languages, json_out, limit, threads, timeout)


def _judge_humaneval_x(humaneval_x: Path, samples: Optional[Path], languages: Optional[List[str]],
                       json_out: Optional[Path], limit: Optional[int], threads: Optional[int],
                       timeout: Optional[float]) -> None:
    from oorl.reward import humaneval_x as hx
    from oorl.reward.judge import Judge

    problems = hx.load_problems(humaneval_x, languages)
    jobs: list[tuple[str, str, object]] = []
    if samples is None:
        for lang, probs in problems.items():
            for tid, p in list(probs.items())[:limit]:
                jobs.append((lang, tid, hx.request(p, lang, p.get("canonical_solution", ""))))
    else:
        per_lang: dict[str, int] = {}
        for s in hx.read_samples(samples):
            lang = hx.language_of(s["task_id"])
            if lang not in problems:
                continue
            if s["task_id"] not in problems[lang]:
                raise UserError(f"--samples {samples}: task_id {s['task_id']!r} is not in {humaneval_x}")
            per_lang[lang] = per_lang.get(lang, 0) + 1
            if limit is None or per_lang[lang] <= limit:
                jobs.append((lang, s["task_id"], hx.request(problems[lang][s["task_id"]], lang, s["completion"])))
    if not jobs:
        raise UserError("nothing to judge: no samples match the chosen languages")
    judge = Judge(_limits(timeout, None, False, threads))
    report = hx.Report()
    t0 = time.monotonic()
    for lang in sorted({j[0] for j in jobs}):
        batch = [j for j in jobs if j[0] == lang]
        t1 = time.monotonic()
        results = judge.judge([j[2] for j in batch])  # type: ignore[misc]
        for (_, tid, _), res in zip(batch, results):
            report.add(lang, tid, res)
        typer.echo(f"{lang}: {sum(r.passed for r in results)}/{len(results)} passed in {time.monotonic() - t1:.1f}s",
                   err=True)
    typer.echo(report.table())
    for f in report.failures:
        typer.echo(f"  {f['task_id']}: {f['status']}: {f['detail']}")
    st = judge.stats()
    typer.echo(f"{len(jobs)} programs, {int(st.get('reward/judge/executed', 0))} executed, "
               f"{time.monotonic() - t0:.1f}s on {judge.threads} threads")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({**report.to_dict(), "stats": st}, indent=2))
    judge.close()


def _judge_multipl_e(directory: Path, samples: Optional[Path], languages: Optional[List[str]],
                     benchmark: Optional[str], json_out: Optional[Path], per_sample: Optional[Path],
                     limit: Optional[int], threads: Optional[int], timeout: Optional[float]) -> None:
    from oorl.reward import multipl_e as me
    from oorl.reward.judge import Judge

    problems = me.load_benchmark(directory, benchmark, languages)
    jobs: list[tuple[str, str, object, str]] = []  # language, name, request, style
    per_lang: dict[str, int] = {}
    if samples is None:
        for lang, probs in problems.items():
            for name, p in probs.items():
                if "canonical_solution" in p and (limit is None or per_lang.get(lang, 0) < limit):
                    per_lang[lang] = per_lang.get(lang, 0) + 1
                    jobs.append((lang, name, me.request(p, p["canonical_solution"]),
                                 me.answer_style(p, p["canonical_solution"])))
        if not jobs:
            raise UserError(f"--multipl-e {directory}: no canonical solutions in the chosen files; pass --samples")
    else:
        for s in me.read_samples(samples):
            if s["language"] not in problems and languages:
                continue  # not among --languages
            p = me.find_problem(problems, s, f"--samples {samples}:{s['row']}")
            per_lang[s["language"]] = per_lang.get(s["language"], 0) + 1
            if limit is None or per_lang[s["language"]] <= limit:
                jobs.append((s["language"], p["name"], me.request(p, s["completion"]),
                             me.answer_style(p, s["completion"])))
    if not jobs:
        raise UserError(f"--samples {samples}: nothing to judge (no sample of the chosen languages)")
    judge = Judge(_limits(timeout, None, False, threads))
    report = me.Report()
    t0 = time.monotonic()
    results: dict[int, object] = {}
    for lang in sorted({j[0] for j in jobs}):
        idx = [i for i, j in enumerate(jobs) if j[0] == lang]
        t1 = time.monotonic()
        res = me.judge_requests([jobs[i][2] for i in idx], judge)  # type: ignore[misc]
        results.update(zip(idx, res))
        typer.echo(f"{lang}: {sum(r.passed for r in res)}/{len(res)} passed in {time.monotonic() - t1:.1f}s", err=True)
    for i, (lang, name, _, style) in enumerate(jobs):  # in the samples' order
        report.add(lang, name, results[i], style)  # type: ignore[arg-type]
    typer.echo(report.table())
    for f in report.failures()[:50]:
        typer.echo(f"  {f['language']} {f['name']}: {f['status']} ({f['style']}): {f['detail']}")
    if len(report.failures()) > 50:
        typer.echo(f"  ... {len(report.failures()) - 50} more failures (see --per-sample)")
    st = judge.stats()
    typer.echo(f"{len(jobs)} programs, {int(st.get('reward/judge/executed', 0))} executed, "
               f"{time.monotonic() - t0:.1f}s on {judge.threads} threads")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({**report.to_dict(), "stats": st}, indent=2))
    if per_sample is not None:
        per_sample.parent.mkdir(parents=True, exist_ok=True)
        with open(per_sample, "w", encoding="utf-8") as f:
            for row in report.samples:
                f.write(json.dumps(row) + "\n")
    judge.close()


def doctor_command(
    run_checks: bool = typer.Option(True, "--check/--no-check", help="also judge a tiny program per language"),
) -> None:
    """Print each language's toolchain and version, and whether the jail works."""
    from oorl.reward.doctor import report

    ok = report(typer.echo, run_checks)
    raise typer.Exit(0 if ok else 1)


def main() -> None:  # `python -m oorl.reward.cli ...` without the top-level CLI
    app = typer.Typer()
    app.add_typer(sandbox_app, name="sandbox")
    app.command("judge")(judge_command)
    app.command("doctor")(doctor_command)
    try:
        app()
    except UserError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
