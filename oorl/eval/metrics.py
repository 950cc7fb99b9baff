"""Evaluation metrics, the same for every scorer (pure, tested).

From per-task lists of outcomes (anything with ``.correct`` and ``.kind``, first sample first):

* ``accuracy``: the share of tasks whose first sample is correct, with a Wilson 95% interval
  (``accuracy_ci_low`` / ``accuracy_ci_high``);
* ``any_of_k`` / ``all_of_k``: the share of tasks with at least one / only correct samples (with
  Wilson intervals), ``k`` being the number of samples per task;
* ``pass@j`` for j in ``ks`` (default 1, 2, 4, ... up to k): the unbiased estimator of Chen et al.
  (2021) averaged over tasks with at least j samples;
* ``sample_accuracy``: the share of all samples that are correct;
* ``failures``: counts of each failure kind over all samples (the scorer names its kinds);
* ``by_<column>``: tasks, first-sample accuracy and pass@j for each value of a breakdown column
  (``language``, ``difficulty``...).

:func:`metrics_for_log` flattens the numbers to ``eval/<name>`` keys for ``metrics.jsonl``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Sequence


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


def summarize(rows: Sequence[Sequence[Any]], tasks: Sequence[dict] | None = None,
              ks: Sequence[int] | None = None, failure_kinds: Sequence[str] = (),
              breakdown: Sequence[str] = ()) -> dict[str, Any]:
    """The metrics of the module docstring. ``failure_kinds`` fixes the keys (and order) of
    ``failures``; kinds met but not listed are added after them."""
    rows = [list(r) for r in rows]
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
    m.update(_pass_at(rows, ks or default_ks(k)))
    counts = Counter(c.kind for c in samples if not c.correct)
    m["failures"] = {kind: counts.get(kind, 0) for kind in failure_kinds}
    m["failures"].update({kind: v for kind, v in sorted(counts.items()) if kind not in m["failures"]})
    for col in breakdown if tasks else ():
        groups: dict[str, list[list]] = defaultdict(list)
        for t, r in zip(tasks, rows):
            if t.get(col) is not None:
                groups[str(t[col])].append(r)
        if groups:
            m[f"by_{col}"] = {g: {"tasks": len(v), "accuracy": sum(r[0].correct for r in v) / len(v),
                                  **_pass_at(v, ks or default_ks(min(len(r) for r in v)))}
                              for g, v in sorted(groups.items())}
    return m


def _pass_at(rows: list[list], ks: Sequence[int]) -> dict[str, float]:
    """Unbiased pass@j averaged over the rows with at least j samples (pass@1 = mean sample accuracy)."""
    out = {}
    for j in ks:
        usable = [r for r in rows if len(r) >= j]
        if usable:
            out[f"pass@{j}"] = sum(pass_at_k(len(r), sum(c.correct for c in r), j) for r in usable) / len(usable)
    return out


def metrics_for_log(metrics: dict[str, Any], prefix: str = "eval/") -> dict[str, float]:
    """Flat numeric metrics for ``metrics.jsonl``: ``eval/accuracy``, ``eval/pass@4``,
    ``eval/failures/timeout``, ``eval/by_difficulty/0/accuracy``..."""
    out: dict[str, float] = {}

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k2, v2 in value.items():
                walk(f"{key}/{k2}", v2)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix + key] = float(value)

    for key, value in metrics.items():
        walk(key, value)
    return out
