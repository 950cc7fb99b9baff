"""Two evaluations of the same tasks, paired: ``oorl compare BEFORE AFTER``.

Reads the ``eval_samples.jsonl`` of each (an eval directory or the file itself), pairs the tasks by
``id`` (first sample of each task: the first-sample accuracy ``oorl eval`` reports) and counts the
tasks solved by both, only before, only after and by neither. The difference in accuracy comes with
a 95% Wald interval for a paired difference (with the discordant counts b = only before and c = only
after over n tasks: (c - b)/n +- 1.96 sqrt(b + c - (c - b)^2/n)/n) and the exact two-sided McNemar
p-value (a binomial test of c against b + c at 1/2). Breakdowns by any column the samples carry
(language, family...).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

from oorl.errors import UserError
from oorl.eval.groups import sign_test_p


def read_first_samples(path: str | Path) -> dict[str, dict]:
    p = Path(path)
    if p.is_dir():
        p = p / "eval_samples.jsonl"
    if not p.is_file():
        raise UserError(f"{p}: no such file (give an `oorl eval` output directory or its eval_samples.jsonl)")
    out: dict[str, dict] = {}
    with p.open() as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise UserError(f"{p}:{i}: not valid JSON") from None
            if not isinstance(row, dict) or "id" not in row or "correct" not in row:
                raise UserError(f"{p}:{i}: a sample line needs 'id' and 'correct' (the eval_samples.jsonl layout)")
            if row.get("sample", 0) == 0:
                out.setdefault(str(row["id"]), row)
    if not out:
        raise UserError(f"{p}: holds no sample")
    return out


def paired(before: dict[str, dict], after: dict[str, dict]) -> dict:
    ids = sorted(set(before) & set(after))
    if not ids:
        raise UserError("the two evaluations share no task id: compare evaluations of the same tasks")
    both = sum(bool(before[i]["correct"]) and bool(after[i]["correct"]) for i in ids)
    only_before = sum(bool(before[i]["correct"]) and not bool(after[i]["correct"]) for i in ids)
    only_after = sum(not bool(before[i]["correct"]) and bool(after[i]["correct"]) for i in ids)
    n = len(ids)
    diff = (only_after - only_before) / n
    half = 1.959964 * math.sqrt(max(only_before + only_after - (only_after - only_before) ** 2 / n, 0.0)) / n
    return {"tasks": n, "before": (both + only_before) / n, "after": (both + only_after) / n, "both": both,
            "only_before": only_before, "only_after": only_after, "neither": n - both - only_before - only_after,
            "diff": diff, "diff_ci_low": diff - half, "diff_ci_high": diff + half,
            "mcnemar_p": sign_test_p(only_after, only_before),
            "unpaired": len(set(before) ^ set(after))}


def compare(before_path, after_path, by: tuple[str, ...] = ("language",)) -> dict:
    before, after = read_first_samples(before_path), read_first_samples(after_path)
    out = {"overall": paired(before, after)}
    for col in by:
        groups: dict[str, list[str]] = defaultdict(list)
        for i, row in after.items():
            if i in before and col in row:
                groups[str(row[col])].append(i)
        if groups:
            out[f"by_{col}"] = {g: paired({i: before[i] for i in ids}, {i: after[i] for i in ids})
                                for g, ids in sorted(groups.items())}
    return out


def to_markdown(result: dict) -> str:
    def line(name, m):
        return (f"| {name} | {m['tasks']} | {100 * m['before']:.1f}% | {100 * m['after']:.1f}% | "
                f"{100 * m['diff']:+.1f} ({100 * m['diff_ci_low']:+.1f} to {100 * m['diff_ci_high']:+.1f}) | "
                f"{m['only_before']} / {m['only_after']} | {m['mcnemar_p']:.2g} |")

    rows = ["| tasks | n | before | after | difference (95% CI), points | only before / only after | McNemar p |",
            "|---|---|---|---|---|---|---|", line("all", result["overall"])]
    for key, groups in result.items():
        if key.startswith("by_"):
            rows += [line(f"{key[3:]}={g}", m) for g, m in groups.items()]
    return "\n".join(rows) + "\n"
