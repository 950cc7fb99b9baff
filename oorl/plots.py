"""Training curves of a run directory as a PNG, refreshed as the run goes.

:func:`plot_run` reads ``<run_dir>/metrics.jsonl`` (one JSON object per line) and writes
``<run_dir>/training_curves.png`` with two panels:

* **reward** against ``step``: ``reward_mean`` (the summed reward, bold) and one line per reward
  function from the keys ``reward/<name>`` (per-function means; keys with a further ``/`` such as
  ``reward/<name>/std`` are ignored);
* **evaluation** against ``step``: ``eval/accuracy`` with its 95% band from
  ``eval/accuracy_ci_low`` and ``eval/accuracy_ci_high`` when present, plus ``eval/any_of_k`` and
  ``eval/all_of_k``, and the held-out IR groups' ``eval/gepo/accuracy`` with its band. Evaluation lines are usually sparser than training lines; each key is
  plotted at the steps where it appears.

Lines without ``step``, values that are not finite numbers, and a truncated last line (the run
is still writing) are skipped. The PNG is written to a temporary file and renamed, so a viewer
never sees a half-written image. Uses matplotlib's Agg backend (no display needed).
``python -m oorl.plots RUN_DIR`` draws it by hand.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

PNG_NAME = "training_curves.png"
EVAL_KEYS = (("eval/accuracy", "first-sample accuracy"), ("eval/any_of_k", "any of k"),
             ("eval/all_of_k", "all of k"), ("eval/gepo/accuracy", "held-out IR groups: margin > 0"))


def read_metrics(path: str | Path) -> list[dict]:
    """The parseable JSON objects of a metrics.jsonl file (missing file: empty list)."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _num(v) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of ``key`` over the rows that have both a numeric step and value."""
    xs, ys = [], []
    for r in rows:
        s, v = _num(r.get("step")), _num(r.get(key))
        if s is not None and v is not None:
            xs.append(s)
            ys.append(v)
    return xs, ys


def reward_function_keys(rows: list[dict]) -> list[str]:
    """The ``reward/<name>`` keys present, in order of first appearance."""
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k.startswith("reward/") and k.count("/") == 1:
                keys.setdefault(k, None)
    return list(keys)


def plot_run(run_dir: str | Path, out_name: str = PNG_NAME) -> Path | None:
    """Draw the curves of ``run_dir``; returns the PNG path, or None when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # pyplot-free: safe in threads and without a display

    run = Path(run_dir)
    rows = read_metrics(run / "metrics.jsonl")
    if not any(_num(r.get("step")) is not None for r in rows):
        return None
    fig = Figure(figsize=(11, 4.2), dpi=100)
    ax_r, ax_e = fig.subplots(1, 2, sharex=True)

    xs, ys = series(rows, "reward_mean")
    if xs:
        ax_r.plot(xs, ys, color="black", linewidth=2, label="total (reward_mean)")
    for key in ("gepo/accuracy", "dpo/accuracy"):  # the off-policy loss's training groups
        xs, ys = series(rows, key)
        if xs:
            ax_r.plot(xs, ys, linewidth=1, linestyle="--", label=key.replace("/", " train "))
    for key in reward_function_keys(rows):
        xs, ys = series(rows, key)
        if xs:
            ax_r.plot(xs, ys, linewidth=1, label=key.split("/", 1)[1])
    ax_r.set_title("reward")
    ax_r.set_xlabel("step")
    ax_r.grid(alpha=0.3)
    if ax_r.lines:
        ax_r.legend(fontsize=8)

    for key, label in EVAL_KEYS:
        xs, ys = series(rows, key)
        if not xs:
            continue
        (line,) = ax_e.plot(xs, ys, marker="o", label=label)
        if key.endswith("/accuracy"):
            lo_key, hi_key = key + "_ci_low", key + "_ci_high"
            band = [(r["step"], r.get(lo_key), r.get(hi_key)) for r in rows
                    if _num(r.get("step")) is not None and _num(r.get(lo_key)) is not None
                    and _num(r.get(hi_key)) is not None]
            if band:
                bx, lo, hi = zip(*band)
                ax_e.fill_between(bx, lo, hi, color=line.get_color(), alpha=0.2, label="95% CI")
    ax_e.set_title("evaluation")
    ax_e.set_xlabel("step")
    ax_e.set_ylim(-0.02, 1.02)
    ax_e.grid(alpha=0.3)
    if ax_e.lines:
        ax_e.legend(fontsize=8)
    else:
        ax_e.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=ax_e.transAxes)
    fig.suptitle(run.name)
    fig.tight_layout()

    out = run / out_name
    tmp = run / f".{out_name}.tmp"
    fig.savefig(tmp, format="png")
    os.replace(tmp, out)
    return out


if __name__ == "__main__":  # python -m oorl.plots RUN_DIR
    if len(sys.argv) != 2:
        sys.exit("usage: python -m oorl.plots RUN_DIR")
    print(plot_run(sys.argv[1]) or "nothing to plot yet")
