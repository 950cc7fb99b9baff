"""The judge: concurrency, deduplication, the cache across batches, metrics; the unit_tests reward."""

from __future__ import annotations

import time

import pytest

from oorl.errors import UserError
from oorl.reward.doctor import HELLO
from oorl.reward.functions import resolve_reward
from oorl.reward.harness import JudgeRequest, extract_code
from oorl.reward.judge import Judge, current_judge, get_judge

from .helpers import short_limits

GOOD, TESTS = HELLO["python"]
BAD = GOOD.replace("a + b", "a - b")


@pytest.fixture()
def judge():
    j = Judge(short_limits(cache_entries=8), threads=2)
    yield j
    j.close()


def test_identical_requests_run_once_and_keep_their_order(judge):
    good, bad = JudgeRequest.make("python", GOOD, TESTS), JudgeRequest.make("python", BAD, TESTS)
    batch = [good, bad, good, good, bad, good, good, good]  # a GRPO group of 8 with 2 distinct answers
    results = judge.judge(batch)
    assert [r.passed for r in results] == [True, False, True, True, False, True, True, True]
    st = judge.stats()
    assert st["reward/judge/requests"] == 8 and st["reward/judge/executed"] == 2
    assert st["reward/judge/dedup_saved"] == 6 and st["reward/judge/dedup_rate"] == pytest.approx(0.75)
    assert st["reward/judge/python/passed"] == 1 and st["reward/judge/python/failed"] == 1
    assert st["reward/judge/python/wall_s_mean"] > 0


def test_cache_across_batches_is_bounded(judge):
    first = judge.judge([JudgeRequest.make("python", GOOD, TESTS)])
    again = judge.judge([JudgeRequest.make("python", GOOD, TESTS)])
    assert first[0].passed and again[0].passed and again[0].cached and not first[0].cached
    assert judge.stats()["reward/judge/cache_hits"] == 1
    many = [JudgeRequest.make("python", f"x = {i}\n", "assert x >= 0\n") for i in range(20)]
    assert all(r.passed for r in judge.judge(many))
    assert judge.stats()["reward/judge/cache_size"] == 8


def test_batch_runs_concurrently(judge):
    reqs = [JudgeRequest.make("python", f"import time\ntime.sleep(0.6)\nx = {i}\n", "") for i in range(4)]
    t0 = time.monotonic()
    assert all(r.passed for r in judge.judge(reqs))
    assert time.monotonic() - t0 < 4 * 0.6  # 2 threads: about half of the serial time


def test_stats_reset(judge):
    judge.judge([JudgeRequest.make("bash", *HELLO["bash"])])
    assert judge.stats(reset=True)["reward/judge/bash/passed"] == 1
    assert "reward/judge/bash/passed" not in judge.stats()


def test_process_wide_judge_follows_the_configured_limits():
    a = get_judge(short_limits())
    assert get_judge() is a and current_judge() is a
    b = get_judge(short_limits(wall_s=7.0))
    assert b is not a and get_judge() is b and b.limits.wall_s == 7.0


def test_unit_tests_reward():
    get_judge(short_limits())
    fn = resolve_reward("unit_tests")
    completions = [f"Here you go:\n```python\n{GOOD}```\n", f"```python\n{BAD}```", "no code at all", "",
                   [{"role": "assistant", "content": f"```py\n{GOOD}```"}]]
    n = len(completions)
    rewards = fn(["p"] * n, completions, language=["python"] * n, tests=[TESTS] * n)
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_unit_tests_reward_humaneval_x_layout_and_other_languages():
    get_judge(short_limits())
    fn = resolve_reward("unit_tests")
    decl = "const add = (a, b) => {\n"
    rewards = fn(["p", "p", "p"], ["  return a + b;\n}\n", "  return a * b;\n}\n", f"```go\n{HELLO['go'][0]}```"],
                 language=["js", "js", "go"], tests=["console.assert(add(1, 2) === 3);\n"] * 2 + [HELLO["go"][1]],
                 layout=["humaneval-x", "humaneval-x", "generic"], declaration=[decl, decl, None])
    assert rewards == [1.0, 0.0, 1.0]


def test_unit_tests_reward_needs_its_columns():
    fn = resolve_reward("unit_tests")
    with pytest.raises(UserError, match="column 'tests'"):
        fn(["p"], ["x"], language=["python"])
    with pytest.raises(UserError, match="2 entries for 1"):
        fn(["p"], ["x"], language=["python", "python"], tests=["t"])


def test_extract_code():
    assert extract_code("text\n```python\nprint(1)\n```\nmore") == "print(1)\n"
    assert extract_code("```js\na\n```\n```python\nb\n```", "python") == "b\n"
    assert extract_code("```\nplain\n```") == "plain\n"
    assert extract_code("no fence") == "no fence"
    assert extract_code("```cpp\nunterminated") == "unterminated"
