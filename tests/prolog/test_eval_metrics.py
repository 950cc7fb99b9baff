"""Evaluation metrics and reports; score_completions runs the real sandbox."""

import json
from math import comb

import pytest

from oorl.eval.metrics import default_ks, metrics_for_log, pass_at_k, summarize, wilson_interval
from oorl.eval.prolog import BREAKDOWN, FAILURE_KINDS, outcome_of, score_completions
from oorl.eval.report import write_report
from oorl.reward.prolog_check import Check

from . import completions as C


def test_pass_at_k_matches_the_combinatorial_definition():
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(200, 0, 100) == 0.0 and pass_at_k(200, 200, 1) == 1.0
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-3) and hi == pytest.approx(0.3662, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_default_ks():
    assert default_ks(1) == [1] and default_ks(8) == [1, 2, 4, 8] and default_ks(6) == [1, 2, 4, 6]


def _checks(kinds):
    return [outcome_of(Check(k)) for k in kinds]


def test_summarize_by_hand():
    rows = [_checks(["correct", "wrong_answer", "correct", "correct"]),
            _checks(["wrong_answer", "correct", "timeout", "no_answer"]),
            _checks(["syntax_error", "syntax_error", "runtime_error", "other"]),
            _checks(["correct"] * 4)]
    tasks = [{"difficulty": 0}, {"difficulty": 0}, {"difficulty": 1}, {"difficulty": 1, "template": "ages"}]
    m = summarize(rows, tasks, failure_kinds=FAILURE_KINDS, breakdown=BREAKDOWN)
    assert (m["tasks"], m["k"], m["samples"]) == (4, 4, 16)
    assert m["accuracy"] == 0.5 and m["any_of_k"] == 0.75 and m["all_of_k"] == 0.25
    assert m["sample_accuracy"] == 8 / 16
    assert m["pass@1"] == pytest.approx((3 / 4 + 1 / 4 + 0 + 1) / 4)
    assert m["pass@4"] == pytest.approx(0.75)
    assert m["failures"] == {"wrong_answer": 2, "no_answer": 1, "syntax_error": 2, "runtime_error": 1,
                             "timeout": 1, "infra_error": 1}
    assert m["by_difficulty"]["0"] == {"tasks": 2, "accuracy": 0.5, "pass@1": pytest.approx(0.5),
                                       "pass@2": pytest.approx((1 - 0 + 1 - 3 / 6) / 2), "pass@4": 1.0}
    assert m["by_difficulty"]["1"]["pass@1"] == pytest.approx(0.5) and m["by_difficulty"]["1"]["pass@4"] == 0.5
    assert m["by_template"] == {"ages": {"tasks": 1, "accuracy": 1.0, "pass@1": 1.0, "pass@2": 1.0, "pass@4": 1.0}}
    assert m["accuracy_ci_low"] < 0.5 < m["accuracy_ci_high"]
    flat = metrics_for_log(m)
    assert flat["eval/accuracy"] == 0.5 and flat["eval/failures/timeout"] == 1.0
    assert flat["eval/by_difficulty/1/accuracy"] == 0.5 and flat["eval/pass@2"] == m["pass@2"]


def test_score_completions_runs_the_sandbox_and_reports(tmp_path):
    tasks = [{"id": "a", "answer": 8, "difficulty": 0}, {"id": "b", "answer": "3/4", "difficulty": 2},
             {"id": "c", "answer": 8, "difficulty": 0}]
    comps = [[C.CORRECT, C.WRONG, C.CORRECT],
             [C.FLOAT, C.FRACTION, C.FRACTION_TERM],
             [C.NON_TERMINATING, C.SYNTAX_ERROR, C.MISSING_TAGS]]
    res = score_completions(tasks, comps)
    assert res.correct() == [[True, False, True], [False, True, True], [False, False, False]]
    assert [c.kind for c in res.outcomes[2]] == ["timeout", "syntax_error", "no_answer"]
    assert res.outcomes[0][1].value == "2" and res.outcomes[1][1].value == "3r4"
    m = res.metrics
    assert m["accuracy"] == pytest.approx(1 / 3) and m["any_of_k"] == pytest.approx(2 / 3) and m["all_of_k"] == 0
    assert m["failures"]["wrong_answer"] == 2

    json_path, md_path = write_report(res, tmp_path / "out", extra={"model": "m", "title": "Base model"})
    data = json.loads(json_path.read_text())
    assert data["model"] == "m" and data["metrics"]["tasks"] == 3
    md = md_path.read_text()
    assert md.startswith("# Base model") and "| first-sample accuracy | 33.3% |" in md
    assert "| timeout | 1 | 11.1% |" in md and "| any of 3 | 66.7% |" in md
    samples = [json.loads(line) for line in (tmp_path / "out" / data["samples_file"]).read_text().splitlines()]
    assert len(samples) == 9 and samples[4]["value"] == "3r4" and samples[4]["completion"] == C.FRACTION


def test_mismatched_lengths_are_errors():
    with pytest.raises(ValueError):
        score_completions([{"answer": 1}], [])
    with pytest.raises(ValueError):
        summarize([[]])
