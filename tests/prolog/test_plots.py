"""The training-curves PNG of a run directory."""

import json

from oorl.plots import PNG_NAME, plot_run, read_metrics, reward_function_keys, series


def _write(run, rows, tail=""):
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_plot_run_draws_rewards_and_eval(tmp_path):
    rows = []
    for step in range(1, 11):
        row = {"step": step, "reward_mean": 0.1 * step, "reward/prolog_correctness": -1 + 0.2 * step,
               "reward/prolog_tags": 0.05 * step, "reward/prolog_tags/std": 0.1}
        if step % 5 == 0:
            row.update({"eval/accuracy": 0.05 * step, "eval/accuracy_ci_low": 0.04 * step,
                        "eval/accuracy_ci_high": 0.06 * step, "eval/any_of_k": 0.08 * step})
        rows.append(row)
    _write(tmp_path, rows, tail='{"step": 11, "reward_me')  # a line still being written
    out = plot_run(tmp_path)
    assert out == tmp_path / PNG_NAME
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tmp_path.glob(".*.tmp"))
    rows_read = read_metrics(tmp_path / "metrics.jsonl")
    assert len(rows_read) == 10
    assert reward_function_keys(rows_read) == ["reward/prolog_correctness", "reward/prolog_tags"]
    assert series(rows_read, "eval/accuracy") == ([5.0, 10.0], [0.25, 0.5])

    # refreshed as the run goes: a later call overwrites the image
    _write(tmp_path, rows + [{"step": 11, "reward_mean": 5.0}])
    assert plot_run(tmp_path) == out and out.read_bytes() != data


def test_nothing_to_plot(tmp_path):
    assert plot_run(tmp_path) is None
    _write(tmp_path, [{"note": "no step"}])
    assert plot_run(tmp_path) is None
    _write(tmp_path, [{"step": 1, "reward_mean": float("nan")}, {"step": 2, "reward_mean": 1.0}])
    assert plot_run(tmp_path) is not None


def test_command_line_redraws_a_run(tmp_path):
    """``python -m oorl.plots RUN_DIR``: the curves of a run directory, drawn from outside the run."""
    import subprocess
    import sys

    _write(tmp_path, [{"step": 1, "reward_mean": 0.1}, {"step": 2, "reward_mean": 0.3}])
    r = subprocess.run([sys.executable, "-m", "oorl.plots", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(tmp_path / PNG_NAME) in r.stdout and "no timeline yet" in r.stdout
    assert (tmp_path / PNG_NAME).read_bytes()[:4] == b"\x89PNG"
