"""Re-check an IR-groups file independently of the builder that wrote it.

    .venv/bin/python benchmarks/check_ir_groups.py runs/ir-groups/humaneval-x-cpp.jsonl [--threads 2] [--json out.json]

For every group: each winner IR, built with the group's ``test_program`` (``clang++ -O0 ir.ll
test_program.cpp``, the registered ``llvm_ir`` language of the reward workers, in the jail), must
pass; each loser must build and fail its tests (a failed assertion, a crash or a non-zero exit; a
timeout or a compile error is counted apart); winners must be pairwise distinct, and no loser may
equal a winner. The builder verifies with its own batch scripts; this uses the judge's one-program
path, so a bug in either shows up as a disagreement. Prints the counts and every group that breaks
a rule; exit status 1 when any does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oorl.data.ir_groups.dataset import load_groups  # noqa: E402
from oorl.reward.harness import JudgeRequest  # noqa: E402
from oorl.reward.judge import Judge  # noqa: E402
from oorl.reward.sandbox import SandboxLimits  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groups", type=Path)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per run")
    ap.add_argument("--limit", type=int, default=None, help="only the first N groups")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    groups = load_groups(a.groups)[: a.limit]
    judge = Judge(SandboxLimits(wall_s=a.timeout), threads=a.threads)
    reqs, where = [], []
    for gi, g in enumerate(groups):
        for side in ("winners", "losers"):
            for j, ir in enumerate(g[side]):
                reqs.append(JudgeRequest.make("llvm_ir", ir, g["test_program"]))
                where.append((gi, side, j))
    t0 = time.monotonic()
    results = judge.judge(reqs)
    wall = time.monotonic() - t0

    counts: Counter = Counter()
    problems: list[str] = []
    for (gi, side, j), r in zip(where, results):
        status = r.status.value
        counts[f"{side}/{status}"] += 1
        gid = groups[gi]["id"]
        if side == "winners" and status != "passed":
            problems.append(f"{gid}: winner {j} ({groups[gi].get('levels', [''] * 99)[j]}) is {status}: {r.detail[:200]}")
        if side == "losers" and status not in ("failed", "runtime_error"):
            problems.append(f"{gid}: loser {j} ({groups[gi].get('mutations', [{}] * 99)[j]}) is {status}: {r.detail[:200]}")
    for g in groups:
        if len(set(g["winners"])) != len(g["winners"]):
            problems.append(f"{g['id']}: two winners are the same text")
        if set(g["winners"]) & set(g["losers"]):
            problems.append(f"{g['id']}: a loser equals a winner")
        if len(set(g["losers"])) != len(g["losers"]):
            problems.append(f"{g['id']}: two losers are the same text")
    summary = {"groups": len(groups), "winners": sum(len(g["winners"]) for g in groups),
               "losers": sum(len(g["losers"]) for g in groups), "verdicts": dict(sorted(counts.items())),
               "rule_breaks": len(problems), "wall_s": round(wall, 1)}
    print(json.dumps(summary, indent=2))
    for p in problems:
        print(p)
    if a.json:
        a.json.write_text(json.dumps({**summary, "breaks": problems}, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
