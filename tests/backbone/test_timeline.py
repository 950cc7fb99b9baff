"""timeline.jsonl and timeline.png: a run's phases per step on a time axis, one lane per role."""

import json

from oorl.plots import TIMELINE_FILE, TIMELINE_PNG, plot_timeline, read_spans, stack_rows, timeline_layout
from oorl.runlog import MetricsLog


def _steps(t0=1_800_000_000.0, steps=4, overlap=True):
    """Spans as the trainer records them; with ``overlap`` each step's generation starts during the
    previous step's training (the asynchronous mode)."""
    rows = [{"step": 0, "spans": [["eval", t0, t0 + 3]]}]
    for k in range(1, steps + 1):
        b = t0 + 3 + (k - 1) * 10
        gen = (b - 4, b + 5) if overlap and k > 1 else (b, b + 5)
        rows.append({"step": k, "spans": [["generate", *gen], ["reward", b + 5, b + 6], ["train", b + 6, b + 9],
                                          ["sync", b + 9, b + 9.5], ["probe", b + 9.5, b + 10]]})
    return rows


def test_stack_rows_separates_only_overlapping_spans():
    assert stack_rows([(0, 5), (5, 10), (10, 12)]) == [0, 0, 0]  # touching is not overlapping
    assert stack_rows([(0, 5), (3, 8), (6, 9), (4, 5)]) == [0, 1, 0, 2]
    assert stack_rows([]) == []


def test_layout_one_lane_per_role_and_overlaps_stacked():
    spans = [{"step": k, "phase": p, "start": a, "end": b}
             for row in _steps() for k, (p, a, b) in ((row["step"], s) for s in row["spans"])]
    spans.append({"step": 4, "phase": "checkpoint", "start": 1_800_000_050.0, "end": 1_800_000_051.0})
    layout = timeline_layout(spans)
    assert [lane for lane, _, _ in layout] == ["rollout", "reward", "learner", "weights", "eval", "checkpoint"]
    rows = {lane: n for lane, n, _ in layout}
    assert rows["learner"] == 1 and rows["reward"] == 1 and rows["weights"] == 1
    # generation overlaps training (another lane), not another generation: one row
    assert rows["rollout"] == 1
    # two generations at once (step 5 starts before step 4's ends): the rollout lane gets two rows
    spans.append({"step": 5, "phase": "generate", "start": 1_800_000_035.0, "end": 1_800_000_042.0})
    rollout = next(item for item in timeline_layout(spans) if item[0] == "rollout")
    assert rollout[1] == 2
    assert {s["step"]: row for s, row in rollout[2] if s["step"] in (4, 5)} == {4: 0, 5: 1}
    for lane, n, items in timeline_layout(spans):  # no two spans in one sub-row overlap
        for r in range(n):
            iv = sorted((s["start"], s["end"]) for s, row in items if row == r)
            assert all(a[1] <= b[0] for a, b in zip(iv, iv[1:])), (lane, r, iv)


def test_plot_timeline_from_the_run_log(tmp_path):
    assert plot_timeline(tmp_path) is None  # no timeline yet
    log = MetricsLog(tmp_path, total_steps=4)
    try:
        for row in _steps():
            m = {"step": row["step"], "spans": row["spans"]}
            if row["step"]:
                m.update(reward_mean=0.1 * row["step"], loss=0.01, step_time_s=10.0)
            else:
                m["eval/accuracy"] = 0.25
            log.log(m)
    finally:
        log.close()
    metrics = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 1, 2, 3, 4] and not any("spans" in m for m in metrics)
    timeline = [json.loads(ln) for ln in (tmp_path / TIMELINE_FILE).read_text().splitlines()]
    assert [t["step"] for t in timeline] == [0, 1, 2, 3, 4]
    assert timeline[2]["spans"][0] == {"phase": "generate", "start": 1_800_000_009.0, "end": 1_800_000_018.0}
    assert len(read_spans(tmp_path / TIMELINE_FILE)) == 1 + 4 * 5
    png = tmp_path / TIMELINE_PNG
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tmp_path.glob(".*.tmp"))


def test_plots_are_redrawn_at_most_every_plot_every_s_after_evals_and_at_the_end(tmp_path):
    """trainer.plot_every_s: a redraw costs ~0.2 s of CPU, too much after every step of a fast run."""
    curves, timeline = tmp_path / "training_curves.png", tmp_path / TIMELINE_PNG

    def drawn() -> tuple[int, int]:  # each redraw renames a new file in: a new inode
        return curves.stat().st_ino, timeline.stat().st_ino

    log = MetricsLog(tmp_path, total_steps=4)
    log.plot_every_s = 3600.0
    step0, *rows = _steps()
    try:
        log.log({"step": 0, "spans": step0["spans"], "eval/accuracy": 0.25})  # trainer.eval_before_train
        base = drawn()
        log.log({"step": 1, "spans": rows[0]["spans"], "reward_mean": 0.1, "step_time_s": 10.0})
        first = drawn()  # the first training step is drawn at once
        assert first[0] != base[0] and first[1] != base[1]
        log.log({"step": 2, "spans": rows[1]["spans"], "reward_mean": 0.2, "step_time_s": 10.0})
        assert drawn() == first
        log.log({"step": 3, "spans": rows[2]["spans"], "reward_mean": 0.3, "step_time_s": 10.0, "eval/accuracy": 0.5})
        after_eval = drawn()
        assert after_eval[0] != first[0] and after_eval[1] != first[1]
        log.log({"step": 4, "spans": rows[3]["spans"], "reward_mean": 0.4, "step_time_s": 10.0})
        assert drawn() == after_eval
    finally:
        log.close()
    end = drawn()
    assert end[0] != after_eval[0] and end[1] != after_eval[1]  # the last rows are in the final plots
    assert len(read_spans(timeline.with_name(TIMELINE_FILE))) == 1 + 4 * 5


def test_resume_truncates_the_timeline(tmp_path):
    rows = _steps()
    (tmp_path / TIMELINE_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": r["step"]}) + "\n" for r in rows))
    log = MetricsLog(tmp_path, total_steps=4, first_step=3)
    try:
        log.truncate_after(2)
    finally:
        log.close()
    assert [json.loads(ln)["step"] for ln in (tmp_path / TIMELINE_FILE).read_text().splitlines()] == [0, 1, 2]
    assert [json.loads(ln)["step"] for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]


def test_console_line_has_phase_split_eta_and_where_to_look(tmp_path, capsys):
    log = MetricsLog(tmp_path, total_steps=4)
    try:
        for row in _steps(overlap=False)[1:3]:
            log.log({"step": row["step"], "spans": row["spans"], "reward_mean": 0.5, "loss": 0.01,
                     "step_time_s": 10.0, "logprob_diff_max": 1e-6, "gen_tokens_per_s": 100.0})
    finally:
        log.close()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("step 1/4  reward 0.500  loss +0.0100")
    assert "10.0s (gen 5.0 reward 1.0 train 3.0 sync 0.5 probe 0.5)" in out[0] and "ETA 0:0" in out[0]
    assert out[2].startswith("2 steps in ") and str(tmp_path) in out[2]
    text = "\n".join(out)
    assert "timeline.png" in text and "metrics.jsonl" in text
    assert f"tensorboard --logdir {tmp_path / 'tensorboard'}" in text
