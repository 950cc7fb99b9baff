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

:func:`plot_timeline` reads ``<run_dir>/timeline.jsonl`` (one object per step: ``{"step": k, "spans":
[{"phase": name, "start": unix_s, "end": unix_s}, ...]}``) and writes ``<run_dir>/timeline.png``: the
phases on a time axis (seconds since the first span), one lane per role (rollout: generate, reward:
reward, learner: train, weights: sync and probe, eval: eval, driver: wait_generate; a phase not
listed gets a lane of its own). Spans are drawn at their own times, so phases that overlap
(generation of step k+1 during the training of step k) show side by side; spans that overlap
within one lane are stacked in sub-rows.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

PNG_NAME = "training_curves.png"
TIMELINE_PNG = "timeline.png"
TIMELINE_FILE = "timeline.jsonl"
# the role (lane) that runs each phase; lanes top to bottom in this order, unknown phases below
# (wait_generate: the driver waiting for a generation started during the previous step, async_steps: 1)
PHASE_LANES = {"generate": "rollout", "reward": "reward", "train": "learner", "sync": "weights", "probe": "weights",
               "eval": "eval", "wait_generate": "driver"}
LANES = ("rollout", "reward", "learner", "weights", "eval", "driver")
PHASE_COLORS = {"generate": "tab:blue", "reward": "tab:orange", "train": "tab:green", "sync": "tab:purple",
                "probe": "tab:pink", "eval": "tab:gray", "wait_generate": "tab:cyan"}
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

    return _save(fig, run / out_name)


def read_spans(path: str | Path) -> list[dict]:
    """The spans of a timeline.jsonl as ``{"step", "phase", "start", "end"}`` (unparseable lines, and
    spans without a finite start <= end, skipped). A span may be an object or ``[phase, start, end]``."""
    out = []
    for row in read_metrics(path):
        step = _num(row.get("step"))
        for span in row.get("spans") or []:
            if isinstance(span, dict):
                phase, start, end = span.get("phase"), span.get("start"), span.get("end")
            elif isinstance(span, (list, tuple)) and len(span) == 3:
                phase, start, end = span
            else:
                continue
            start, end = _num(start), _num(end)
            if isinstance(phase, str) and start is not None and end is not None and end >= start:
                out.append({"step": step, "phase": phase, "start": start, "end": end})
    return out


def stack_rows(spans: list[tuple[float, float]]) -> list[int]:
    """A sub-row for each (start, end) so that spans sharing a sub-row do not overlap (first fit)."""
    ends: list[float] = []  # the end of the last span in each sub-row
    rows = [0] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: spans[i]):
        start, end = spans[i]
        row = next((r for r, e in enumerate(ends) if e <= start), None)
        if row is None:
            ends.append(end)
            row = len(ends) - 1
        else:
            ends[row] = end
        rows[i] = row
    return rows


def lane_of(phase: str) -> str:
    return PHASE_LANES.get(phase, phase)


def timeline_layout(spans: list[dict]) -> list[tuple[str, int, list[tuple[dict, int]]]]:
    """Lanes top to bottom: ``(lane, number of sub-rows, [(span, sub-row), ...])``."""
    present = {lane_of(s["phase"]) for s in spans}
    layout = []
    for lane in [ln for ln in LANES if ln in present] + sorted(present - set(LANES)):
        mine = [s for s in spans if lane_of(s["phase"]) == lane]
        rows = stack_rows([(s["start"], s["end"]) for s in mine])
        layout.append((lane, max(rows) + 1, list(zip(mine, rows))))
    return layout


def plot_timeline(run_dir: str | Path, out_name: str = TIMELINE_PNG) -> Path | None:
    """Draw ``timeline.png`` of ``run_dir``; returns its path, or None when there are no spans yet."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    run = Path(run_dir)
    spans = read_spans(run / TIMELINE_FILE)
    if not spans:
        return None
    t0 = min(s["start"] for s in spans)
    layout = timeline_layout(spans)
    total_rows = sum(n for _, n, _ in layout)
    fig = Figure(figsize=(12, 1.2 + 0.45 * total_rows + 0.25 * len(layout)), dpi=100)
    ax = fig.subplots()
    span_x = max(s["end"] for s in spans) - t0 or 1.0
    label_steps = len({s["step"] for s in spans}) <= 60
    y, ticks, labels = 0.0, [], []
    for lane, n_rows, placed in reversed(layout):  # the first lane on top
        bars: dict[tuple[int, str], list] = {}  # one collection per sub-row and phase (fast for long runs)
        for s, row in placed:
            width = s["end"] - s["start"]
            # a 0.1 s phase in a 10 min run stays visible
            bars.setdefault((row, s["phase"]), []).append((s["start"] - t0, max(width, 0.002 * span_x)))
            if label_steps and s["step"] is not None and width > 0.015 * span_x:
                ax.text(s["start"] - t0 + width / 2, y + n_rows - 1 - row + 0.5, f"{s['step']:g}", ha="center",
                        va="center", fontsize=7, color="white")
        for (row, phase), xranges in bars.items():
            ax.broken_barh(xranges, (y + n_rows - 1 - row + 0.1, 0.8), facecolors=PHASE_COLORS.get(phase, "tab:olive"),
                           edgecolor="white" if label_steps else "none", linewidth=0.5)
        ticks.append(y + n_rows / 2)
        labels.append(lane)
        y += n_rows + 0.25
    ax.set_yticks(ticks, labels)
    ax.set_ylim(-0.1, y)
    ax.set_xlim(0, span_x * 1.01)
    ax.set_xlabel("seconds since the first phase (bars: phases, numbers: steps)")
    ax.grid(axis="x", alpha=0.3)
    phases = sorted({s["phase"] for s in spans}, key=lambda p: (list(PHASE_COLORS).index(p) if p in PHASE_COLORS else 99, p))
    ax.legend(handles=[Patch(color=PHASE_COLORS.get(p, "tab:olive"), label=p) for p in phases], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"{run.name}: phases of each role per step")
    fig.tight_layout()

    return _save(fig, run / out_name)


def _save(fig, out):
    """Write ``fig`` to ``out`` through a temporary file (a reader never sees half a PNG)."""
    tmp = out.with_name(f".{out.name}.tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, out)
    return out


if __name__ == "__main__":  # python -m oorl.plots RUN_DIR
    if len(sys.argv) != 2:
        sys.exit("usage: python -m oorl.plots RUN_DIR")
    print(plot_run(sys.argv[1]) or "nothing to plot yet")
    print(plot_timeline(sys.argv[1]) or "no timeline yet")
