"""Dataset formats on tiny hand-written fixtures (no download)."""

import json
import logging
from pathlib import Path

import pytest

from oorl.data.loaders import gsm8k_answer
from oorl.data.registry import load_tasks
from oorl.errors import UserError

FIX = Path(__file__).parent / "fixtures"


def test_gsm8k_jsonl():
    tasks = load_tasks(path=str(FIX / "gsm8k_tiny.jsonl"), format="gsm8k", prompt_style="zero_shot")
    assert [t["answer"] for t in tasks] == [72, 24000, -7, "10.5"]
    t = tasks[0]
    assert t["question"].startswith("Natalia sold clips")
    assert t["prompt"][0]["role"] == "system" and t["prompt"][-1]["content"] == t["question"]
    assert "####" not in t["solution"] and t["solution"].endswith("April and May.")
    assert len({t["id"] for t in tasks}) == 4


def test_gsm8k_layout_is_detected_in_plain_jsonl():
    tasks = load_tasks(path=str(FIX / "gsm8k_tiny.jsonl"))
    assert tasks[1]["answer"] == 24000


def test_gsm8k_answer_parsing():
    assert gsm8k_answer("so 5\n#### 1,234,567") == 1234567
    assert gsm8k_answer("#### $18") == 18
    assert gsm8k_answer("#### 0.5 ") == "0.5"
    with pytest.raises(ValueError):
        gsm8k_answer("the answer is 5")


def test_gsm8k_bad_rows_name_the_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"question": "q", "answer": "#### 5"}\n{"question": "q2", "answer": "no final answer"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2"):
        load_tasks(path=str(f), format="gsm8k")
    f.write_text('{"question": "q", "answer": "#### 5"}\nnot json\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: not valid JSON"):
        load_tasks(path=str(f))


def test_gsm8k_prolog_answers_come_from_running_the_reference_program(caplog):
    with caplog.at_level(logging.WARNING):
        tasks = load_tasks(path=str(FIX / "gsm8k_prolog_tiny.jsonl"), format="gsm8k_prolog")
    # row 4 has a syntax error: skipped with a warning naming its line; row 5 has an answer column
    assert [t["answer"] for t in tasks] == [72, "0.625", 10, 41]
    assert "(lines 4)" in caplog.text
    t = tasks[0]
    assert t["question"].startswith("Natalia") and "clpq" in t["reference_code"]
    assert t["reference_query"] == "solve(X)" and t["prompt"][-1]["content"] == t["question"]
    with pytest.raises(UserError, match="gave no number"):
        load_tasks(path=str(FIX / "gsm8k_prolog_tiny.jsonl"), format="gsm8k_prolog", on_bad_row="error")


def test_gsm8k_prolog_answer_from_column_only(tmp_path):
    tasks = load_tasks(path=str(FIX / "gsm8k_prolog_tiny.jsonl"), format="gsm8k_prolog", answer_from="program",
                       on_bad_row="skip")
    # answer_from=program ignores the answer column: row 5's program binds an atom, so it is skipped
    assert [t["answer"] for t in tasks] == [72, "0.625", 10]
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"instruction": "i", "input": "q", "output": "solve(1)."}) + "\n")
    with pytest.raises(UserError, match="not a number"):
        load_tasks(path=str(f), format="gsm8k_prolog", answer_from="column")


def test_plain_task_jsonl():
    tasks = load_tasks(path=str(FIX / "tasks.jsonl"))
    assert tasks[0]["id"] == "t1" and tasks[0]["answer"] == 4 and tasks[0]["difficulty"] == 0
    assert tasks[0]["prompt"][0] == {"role": "system", "content": "Answer in Prolog."}
    assert tasks[1]["prompt"] == [{"role": "user", "content": "What is 3*3?"}] and tasks[1]["id"] == "train-2"


def test_directory_of_split_files(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"question": "q1", "answer": "#### 1"}\n')
    (tmp_path / "test.jsonl").write_text('{"question": "q2", "answer": "#### 2"}\n')
    assert load_tasks(path=str(tmp_path), format="gsm8k", split="train")[0]["answer"] == 1
    assert load_tasks(path=str(tmp_path), format="gsm8k", split="heldout")[0]["answer"] == 2
    with pytest.raises(UserError, match="no dev.jsonl"):
        load_tasks(path=str(tmp_path), format="gsm8k", split="dev")


def test_local_hf_dataset_directory(tmp_path):
    import datasets

    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_list([{"question": "Q1?", "answer": "x\n#### 3"},
                                             {"question": "Q2?", "answer": "#### 1,000"}]),
        "test": datasets.Dataset.from_list([{"question": "Q3?", "answer": "#### 7"}]),
    })
    dd.save_to_disk(str(tmp_path / "gsm"))
    train = load_tasks(path=str(tmp_path / "gsm"), split="train")
    assert [t["answer"] for t in train] == [3, 1000]
    assert load_tasks(path=str(tmp_path / "gsm"), split="heldout")[0]["question"] == "Q3?"
    with pytest.raises(UserError, match="none named"):
        load_tasks(path=str(tmp_path / "gsm"), split="dev")

    single = datasets.Dataset.from_list([{"prompt": "Say 1", "answer": 1}])
    single.save_to_disk(str(tmp_path / "plain"))
    assert load_tasks(path=str(tmp_path / "plain"), format="hf")[0]["prompt"] == [{"role": "user", "content": "Say 1"}]


def test_unknown_layout_is_a_user_error(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"text": "hello"}\n')
    with pytest.raises(UserError, match="layout"):
        load_tasks(path=str(f))
