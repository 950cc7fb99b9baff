"""`oorl compare`: two evaluations of the same tasks, paired."""

import json

import pytest

from oorl.errors import UserError
from oorl.eval.compare import compare, paired, to_markdown


def _write(path, correct, language=None):
    path.mkdir(parents=True, exist_ok=True)
    with (path / "eval_samples.jsonl").open("w") as f:
        for i, c in enumerate(correct):
            for s in (0, 1):  # only the first sample of each task counts
                f.write(json.dumps({"id": f"t{i}", "sample": s, "correct": bool(c) if s == 0 else not c,
                                    "language": language or ("js" if i % 2 else "php")}) + "\n")
    return path


def test_paired_counts_interval_and_mcnemar(tmp_path):
    before = _write(tmp_path / "a", [1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 10)
    after = _write(tmp_path / "b", [1, 0, 1, 1, 1, 0, 0, 0, 0, 0] * 10)
    r = compare(before, after)
    m = r["overall"]
    assert (m["tasks"], m["both"], m["only_before"], m["only_after"], m["neither"]) == (100, 10, 10, 30, 50)
    assert m["before"] == 0.2 and m["after"] == 0.4 and m["diff"] == pytest.approx(0.2)
    assert m["diff_ci_low"] > 0 and m["mcnemar_p"] < 0.01
    assert set(r["by_language"]) == {"js", "php"} and "| all | 100 |" in to_markdown(r)


def test_no_difference_and_bad_inputs(tmp_path):
    same = _write(tmp_path / "a", [1, 0, 1, 0])
    assert paired({"x": {"correct": True}}, {"x": {"correct": True}})["mcnemar_p"] == 1.0
    assert compare(same, same)["overall"]["diff"] == 0
    with pytest.raises(UserError, match="no such file"):
        compare(tmp_path / "missing", same)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "eval_samples.jsonl").write_text('{"task": 1}\n')
    with pytest.raises(UserError, match=r"eval_samples.jsonl:1: a sample line needs 'id' and 'correct'"):
        compare(tmp_path / "c", same)
    other = tmp_path / "d"
    other.mkdir()
    (other / "eval_samples.jsonl").write_text('{"id": "zz", "correct": true}\n')
    with pytest.raises(UserError, match="share no task id"):
        compare(other, same)
