"""Evaluation metrics for answer-checked tasks (Prolog GRPO), and the report writers.

Generation is not here: the eval command samples ``k`` completions per task and calls
:func:`score_completions`, which checks them (:mod:`oorl.reward.prolog_check`) and computes:

* ``accuracy``: the share of tasks whose first sample is correct, with a Wilson 95% interval
  (``accuracy_ci_low`` / ``accuracy_ci_high``);
* ``any_of_k`` / ``all_of_k``: the share of tasks with at least one / only correct samples (with
  Wilson intervals), ``k`` being the number of samples per task;
* ``pass@j`` for j in ``ks`` (default 1, 2, 4, ... up to k): the unbiased estimator of Chen et al.
  (2021) averaged over tasks with at least j samples;
* ``sample_accuracy``: the share of all samples that are correct;
* ``failures``: counts of each outcome kind over all samples (``wrong_answer``, ``no_answer``,
  ``syntax_error``, ``runtime_error``, ``timeout``, ``other``), as classified by
  :func:`classify_failure` (kinds defined in :mod:`oorl.reward.prolog_check`);
* breakdowns of first-sample accuracy by the ``difficulty`` and ``template`` columns when present.

:func:`metrics_for_log` flattens the numbers to ``eval/<name>`` keys for ``metrics.jsonl``;
:func:`write_report` writes ``<name>.json``, ``<name>.md`` and ``<name>_samples.jsonl``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from oorl.reward.prolog_check import KINDS, Check, check_completions, completion_text
from oorl.reward.prolog_check import classify as classify_failure  # noqa: F401  (re-exported)

FAILURE_KINDS = tuple(k for k in KINDS if k != "correct")
BREAKDOWN_COLUMNS = ("difficulty", "template")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct: ``1 - C(n-c, k) / C(n, k)``,
    computed as a stable product."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def default_ks(k: int) -> list[int]:
    """1, 2, 4, ... up to ``k``, and ``k`` itself."""
    ks, j = [], 1
    while j < k:
        ks.append(j)
        j *= 2
    return ks + [k] if k >= 1 else []


@dataclass
class EvalResult:
    """Per-sample outcomes and the summary metrics of one evaluation."""

    metrics: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)  # id, answer, breakdown columns
    checks: list[list[Check]] = field(default_factory=list)     # [task][sample]
    completions: list[list[str]] = field(default_factory=list)

    def correct(self) -> list[list[bool]]:
        """Correctness of each sample, ``[task][sample]``."""
        return [[c.correct for c in row] for row in self.checks]


def summarize(checks: Sequence[Sequence[Check]], tasks: Sequence[dict] | None = None,
              ks: Sequence[int] | None = None) -> dict[str, Any]:
    """The metrics of the module docstring from per-task lists of checks."""
    rows = [list(r) for r in checks]
    if not rows or any(not r for r in rows):
        raise ValueError("summarize needs at least one task and one sample per task")
    n = len(rows)
    k = min(len(r) for r in rows)
    first = sum(r[0].correct for r in rows)
    any_k = sum(any(c.correct for c in r) for r in rows)
    all_k = sum(all(c.correct for c in r) for r in rows)
    samples = [c for r in rows for c in r]
    m: dict[str, Any] = {"tasks": n, "k": k, "samples": len(samples)}
    for name, count in (("accuracy", first), ("any_of_k", any_k), ("all_of_k", all_k)):
        lo, hi = wilson_interval(count, n)
        m[name], m[f"{name}_ci_low"], m[f"{name}_ci_high"] = count / n, lo, hi
    m["sample_accuracy"] = sum(c.correct for c in samples) / len(samples)
    for j in (ks or default_ks(k)):
        usable = [r for r in rows if len(r) >= j]
        if usable:
            m[f"pass@{j}"] = sum(pass_at_k(len(r), sum(c.correct for c in r), j) for r in usable) / len(usable)
    counts = Counter(c.kind for c in samples)
    m["failures"] = {kind: counts.get(kind, 0) for kind in FAILURE_KINDS}
    if tasks:
        for col in BREAKDOWN_COLUMNS:
            groups: dict[str, list[bool]] = defaultdict(list)
            for t, r in zip(tasks, rows):
                if col in t:
                    groups[str(t[col])].append(r[0].correct)
            if groups:
                m[f"by_{col}"] = {g: {"tasks": len(v), "accuracy": sum(v) / len(v)}
                                  for g, v in sorted(groups.items())}
    return m


def score_completions(tasks: Sequence[dict], completions_per_task: Sequence[Sequence[Any]], *,
                      ks: Sequence[int] | None = None, **check_kwargs) -> EvalResult:
    """Check ``completions_per_task[i]`` (the samples of ``tasks[i]``, first sample first) against
    ``tasks[i]["answer"]``, all in one sandbox batch. ``check_kwargs`` go to
    :func:`oorl.reward.prolog_check.check_completions` (``abs_tol``, ``rel_tol``,
    ``accept_expressions``, ``max_workers``, ``limits``)."""
    if len(tasks) != len(completions_per_task):
        raise ValueError(f"{len(tasks)} tasks but {len(completions_per_task)} lists of completions")
    flat, answers = [], []
    for t, comps in zip(tasks, completions_per_task):
        flat += list(comps)
        answers += [t["answer"]] * len(comps)
    flat_checks = check_completions(flat, answers, **check_kwargs)
    checks, texts, i = [], [], 0
    for comps in completions_per_task:
        checks.append(flat_checks[i:i + len(comps)])
        texts.append([completion_text(c) for c in comps])
        i += len(comps)
    meta = [{"id": t.get("id"), "answer": t["answer"], **{c: t[c] for c in BREAKDOWN_COLUMNS if c in t}}
            for t in tasks]
    return EvalResult(metrics=summarize(checks, meta, ks), tasks=meta, checks=checks, completions=texts)


def metrics_for_log(result: EvalResult | dict, prefix: str = "eval/") -> dict[str, float]:
    """Flat numeric metrics for ``metrics.jsonl``: ``eval/accuracy``, ``eval/pass@4``,
    ``eval/failures/timeout``, ``eval/by_difficulty/0/accuracy``..."""
    m = result.metrics if isinstance(result, EvalResult) else result
    out: dict[str, float] = {}

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k2, v2 in value.items():
                walk(f"{key}/{k2}", v2)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix + key] = float(value)

    for key, value in m.items():
        walk(key, value)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def to_markdown(metrics: dict[str, Any], title: str = "Evaluation") -> str:
    """A Markdown report: headline metrics with 95% intervals, pass@k, failures, breakdowns."""
    k = metrics["k"]
    lines = [f"# {title}", "", f"{metrics['tasks']} tasks, {k} sample(s) per task, "
             f"{metrics['samples']} samples.", "", "| metric | value | 95% CI |", "|---|---|---|"]
    for name, label in (("accuracy", "first-sample accuracy"), ("any_of_k", f"any of {k}"),
                        ("all_of_k", f"all of {k}")):
        lines.append(f"| {label} | {_pct(metrics[name])} | "
                     f"{_pct(metrics[name + '_ci_low'])} - {_pct(metrics[name + '_ci_high'])} |")
    lines.append(f"| sample accuracy | {_pct(metrics['sample_accuracy'])} | |")
    for key in sorted((key for key in metrics if key.startswith("pass@")), key=lambda s: int(s[5:])):
        lines.append(f"| {key} | {_pct(metrics[key])} | |")
    total = metrics["samples"]
    lines += ["", "| outcome | samples | share |", "|---|---|---|"]
    for kind, count in metrics["failures"].items():
        lines.append(f"| {kind} | {count} | {_pct(count / total)} |")
    for col in BREAKDOWN_COLUMNS:
        groups = metrics.get(f"by_{col}")
        if groups:
            lines += ["", f"| {col} | tasks | first-sample accuracy |", "|---|---|---|"]
            lines += [f"| {g} | {v['tasks']} | {_pct(v['accuracy'])} |" for g, v in groups.items()]
    return "\n".join(lines) + "\n"


def write_report(result: EvalResult, out_dir: str | Path, name: str = "eval",
                 extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``<name>.json`` (metrics, plus ``extra`` such as the model and config),
    ``<name>.md`` and ``<name>_samples.jsonl`` (one line per sample: task id, answer, sample index,
    kind, first binding, detail, completion). Returns the JSON and Markdown paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    samples_path = out / f"{name}_samples.jsonl"
    with samples_path.open("w") as f:
        for t, row, texts in zip(result.tasks, result.checks, result.completions or [[]] * len(result.tasks)):
            for j, c in enumerate(row):
                rec = {"id": t.get("id"), "answer": t["answer"], "sample": j, "kind": c.kind,
                       "value": c.value, "detail": c.detail,
                       "completion": texts[j] if j < len(texts) else None}
                f.write(json.dumps(rec) + "\n")
    payload = {**(extra or {}), "metrics": result.metrics, "samples_file": samples_path.name}
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    title = str((extra or {}).get("title", "Evaluation"))
    md_path.write_text(to_markdown(result.metrics, title=title))
    return json_path, md_path
