"""Whole groups per worker, infrastructure failures that are not rewards, eval judged with the
configured jail (real reward workers and the real jail, in process)."""

import math
import os
import shutil
import tempfile

import pytest

from oorl.dispatch import balance
from oorl.eval.scorers import make_scorer
from oorl.learner.batch import build_batch, train_mask
from oorl.reward.pool import RewardPool
from oorl.errors import TrainingError
from oorl.step_metrics import assign_advantages, check_infra
from oorl.types import Sample, SampleStatus, groups_of


def test_balance_keeps_items_whole_and_loads_even():
    assert balance([8, 8, 8, 8], 2) == [[0, 2], [1, 3]]
    assert balance([10, 1, 1, 1, 9], 2) == [[0, 2], [1, 3, 4]]  # loads 11 and 11
    assert balance([3], 4) == [[0], [], [], []]
    shares = balance([5, 4, 3, 3, 2, 2, 1], 3)
    assert sorted(i for s in shares for i in s) == list(range(7))
    with pytest.raises(ValueError):
        balance([1], 0)


def test_groups_of_keeps_order():
    s = [Sample([1], group=g, task=0) for g in (2, 2, 0, 0, 1)]
    assert [[x.group for x in g] for g in groups_of(s)] == [[2, 2], [0, 0], [1]]


GO_TESTS = "func main() { if f() != 1 { panic(\"wrong\") } }"
PY_TESTS = "assert f() == 1"


def _samples(tasks, answers, n):
    out = []
    for g, t in enumerate(range(len(tasks))):
        for j in range(n):
            s = Sample([1, 2], group=g, task=t)
            s.text = answers[t][j]
            out.append(s)
    return out


def test_a_jail_failure_is_not_a_reward(tmp_path):
    """Go's toolchain cannot be prepared (GOPATH missing): its samples are not judged, not scored 0;
    the Python group is judged as usual; advantages and the loss leave the failed samples out."""
    cache = tempfile.mkdtemp(prefix="oorl-test-sandbox-", dir="/tmp")  # readable by the jail's uid
    os.chmod(cache, 0o755)
    pool = RewardPool.local({"functions": [{"name": "unit_tests"}],
                             "sandbox": {"go_path": str(tmp_path / "missing"), "cache_dir": cache}})
    tasks = [{"language": "go", "tests": GO_TESTS}, {"language": "python", "tests": PY_TESTS}]
    answers = [["```go\npackage main\nfunc f() int { return 1 }\n```"] * 2,
               ["```python\ndef f():\n    return 1\n```", "```python\ndef f():\n    return 2\n```"]]
    samples = _samples(tasks, answers, 2)
    try:
        pool.score(samples, tasks, ["p", "p"])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    go, py = samples[:2], samples[2:]
    assert all(s.status is SampleStatus.INFRA_ERROR and "unit_tests" in s.detail for s in go)
    assert all(math.isnan(s.rewards["unit_tests"]) for s in go)
    assert [s.status for s in py] == [SampleStatus.OK] * 2 and [s.reward for s in py] == [1.0, 0.0]
    assign_advantages(samples, "grpo", {})
    assert [s.advantage for s in go] == [0.0, 0.0]
    assert py[0].advantage > 0 > py[1].advantage
    batch = build_batch([s.prompt_ids for s in samples], [[3, 4]] * 4, [s.advantage for s in samples], 0,
                        keep=[s.ok for s in samples])
    assert train_mask(batch).sum(1).tolist() == [0.0, 0.0, 2.0, 2.0]
    assert batch["loss_mask"].sum().item() == 8  # the rows keep their tokens (shared-prompt forward)
    assert check_infra(1, samples, 0.5) == 2
    with pytest.raises(TrainingError, match="2 of 4 samples could not be judged"):
        check_infra(1, samples, 0.25)
    stats = pool.stats()
    assert stats["reward/judge/requests"] >= 4 and stats["reward/judge/go/sandbox_error"] >= 1


SLOW = "```python\nimport time\ndef f():\n    time.sleep(3)\n    return 1\n```"


@pytest.mark.parametrize("wall_s, kind", [(1.0, "timeout"), (20.0, "correct")])
def test_eval_is_judged_with_the_configured_jail_limits(wall_s, kind):
    pool = RewardPool.local({"functions": [{"name": "unit_tests"}], "sandbox": {"wall_s": wall_s}})
    assert pool.sandbox_limits()[0]["wall_s"] == wall_s
    tasks = [{"id": "t", "language": "python", "tests": PY_TESTS}]
    outcomes = pool.evaluate(make_scorer("unit_tests"), tasks, [[SLOW]])
    assert outcomes[0][0].kind == kind, outcomes[0][0].detail


def test_judge_metrics_count_prolog_answer_checks():
    from tests.prolog import completions as C

    pool = RewardPool.local({"functions": [{"name": "prolog_correctness"}]})
    pool.stats()  # start from zero
    tasks = [{"answer": 8}]
    samples = _samples(tasks, [[C.CORRECT, C.CORRECT, C.WRONG]], 3)
    pool.score(samples, tasks, ["p"])
    assert [s.reward for s in samples] == [2.0, 2.0, -1.0]
    stats = pool.stats()
    assert stats["reward/judge/requests"] == 3 and stats["reward/judge/unique"] == 2
    assert stats["reward/judge/prolog/ok"] == 2 and stats["reward/judge/prolog/wall_s_mean"] > 0
    assert pool.stats().get("reward/judge/requests", 0) == 0  # each call reports one period
