import pytest

from oorl.data.registry import load_tasks
from oorl.errors import UserError


def test_mixture_concatenates_parts_with_unique_ids():
    tasks = load_tasks("mixture", parts=[{"name": "smoke_letters", "kwargs": {"size": 3}},
                                         {"name": "smoke_letters", "split": "eval", "limit": 2, "kwargs": {"size": 5}}])
    assert len(tasks) == 5 and len({t["id"] for t in tasks}) == 5
    assert tasks[0]["id"] == "0:smoke-train-0" and tasks[-1]["id"] == "1:smoke-eval-1"


@pytest.mark.parametrize("parts, needle", [(None, "needs kwargs.parts"), ([{"nam": "x"}], "unknown key 'nam'"),
                                           (["x"], "must be a mapping"), ([{"name": "nope"}], "unknown dataset 'nope'")])
def test_mixture_bad_parts(parts, needle):
    with pytest.raises(UserError, match=needle):
        load_tasks("mixture", parts=parts)
