"""An evaluation's result and its report files: ``<name>.json`` (metrics and what was evaluated),
``<name>.md`` (a table a person reads) and ``<name>_samples.jsonl`` (one line per sample)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from oorl.eval.scorers import Outcome, Scorer

# task columns copied into the per-sample lines when present
_SAMPLE_COLUMNS = ("answer", "language", "source_language", "difficulty", "template", "name")


def completion_text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


@dataclass
class EvalResult:
    """Per-sample outcomes and the summary metrics of one evaluation."""

    metrics: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)  # id and the columns above
    outcomes: list[list[Outcome]] = field(default_factory=list)  # [task][sample]
    completions: list[list[str]] = field(default_factory=list)

    @classmethod
    def build(cls, scorer: Scorer, tasks: Sequence[dict], completions: Sequence[Sequence[Any]],
              outcomes: list[list[Outcome]]) -> "EvalResult":
        meta = [{"id": t.get("id"), **{c: t[c] for c in (*_SAMPLE_COLUMNS, *scorer.breakdown) if c in t}}
                for t in tasks]
        return cls(scorer.summarize(tasks, outcomes), meta, outcomes,
                   [[completion_text(c) for c in cs] for cs in completions])

    def correct(self) -> list[list[bool]]:
        """Correctness of each sample, ``[task][sample]``."""
        return [[o.correct for o in row] for row in self.outcomes]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def to_markdown(metrics: dict[str, Any], title: str = "Evaluation") -> str:
    """Headline metrics with 95% intervals, pass@k, outcomes, breakdowns (and reward means)."""
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
    if "reward_mean" in metrics:
        lines.append(f"| reward mean | {metrics['reward_mean']:.4f} | |")
        lines += [f"| reward {n} | {v:.4f} | |" for n, v in metrics.get("reward", {}).items()]
    total = metrics["samples"]
    lines += ["", "| outcome | samples | share |", "|---|---|---|"]
    for kind, count in metrics["failures"].items():
        lines.append(f"| {kind} | {count} | {_pct(count / total)} |")
    for key, groups in metrics.items():
        if key.startswith("by_") and isinstance(groups, dict) and groups:
            passes = sorted({p for v in groups.values() for p in v if p.startswith("pass@")}, key=lambda s: int(s[5:]))
            lines += ["", f"| {key[3:]} | tasks | first-sample accuracy | " + " | ".join(passes) + " |",
                      "|---" * (3 + len(passes)) + "|"]
            lines += [f"| {g} | {v['tasks']} | {_pct(v['accuracy'])} | "
                      + " | ".join(_pct(v[p]) if p in v else "" for p in passes) + " |" for g, v in groups.items()]
    if "average_pass@1" in metrics:
        lines += ["", f"Average pass@1 over languages: {_pct(metrics['average_pass@1'])}"]
    return "\n".join(lines) + "\n"


def write_report(result: EvalResult, out_dir: str | Path, name: str = "eval",
                 extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the three files; ``extra`` (the model, the config...) goes into the JSON, and its
    ``title`` heads the Markdown. Returns the JSON and Markdown paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    samples_path = out / f"{name}_samples.jsonl"
    with samples_path.open("w") as f:
        for t, row, texts in zip(result.tasks, result.outcomes, result.completions or [[]] * len(result.tasks)):
            for j, o in enumerate(row):
                rec = {**t, "sample": j, "correct": o.correct, "kind": o.kind, "value": o.value,
                       "detail": o.detail, "completion": texts[j] if j < len(texts) else None}
                if o.scores:
                    rec["scores"] = o.scores
                f.write(json.dumps(rec, default=str) + "\n")
    payload = {**(extra or {}), "metrics": result.metrics, "samples_file": samples_path.name}
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(to_markdown(result.metrics, title=str((extra or {}).get("title", "Evaluation"))))
    return json_path, md_path
