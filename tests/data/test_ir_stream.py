"""The off-policy stream (IR groups -> per-step, per-rank token batches) and the GEPO eval summary."""

import json

import pytest
from transformers import AutoTokenizer

from oorl.config import load_config
from oorl.data.ir_groups.stream import GroupStream, chunk_count, shard_groups
from oorl.errors import UserError
from oorl.eval.groups import group_metrics, sign_test_p, to_markdown
from oorl.models import resolve_model


def write_groups(path, n_problems=10, per_problem=1):
    with open(path, "w") as f:
        for p in range(n_problems):
            for k in range(per_problem):
                f.write(json.dumps({
                    "id": f"p{p}-{k}", "problem": f"p{p}",
                    "prompt": [{"role": "user", "content": f"translate program {p}"}],
                    "source": f"int f{p}() {{ return {p}; }}", "test_program": "int main() {}",
                    "winners": [f"define i32 @f{p}() {{ ret i32 {p} }}" + " ; pad" * j for j in range(1 + p % 3)],
                    "losers": [f"define i32 @f{p}() {{ ret i32 {p + 1} }}", f"define i32 @f{p}() {{ ret i32 0 }}"],
                }) + "\n")
    return path


@pytest.fixture(scope="module")
def tokenizer(model_cache):
    return AutoTokenizer.from_pretrained(resolve_model("tiny", model_cache))


def _gc(path, *more):
    return load_config(None, ["algo.offpolicy=gepo", f"algo.gepo.path={path}", *more]).algo.gepo


def test_split_by_problem_seeded_and_resumable(tmp_path, tokenizer):
    path = write_groups(tmp_path / "g.jsonl", n_problems=10, per_problem=2)
    gc = _gc(path, "algo.gepo.heldout_fraction=0.3", "algo.gepo.groups_per_step=3", "algo.gepo.max_winners=1")
    a, b = GroupStream(gc, tokenizer, seed=5), GroupStream(gc, tokenizer, seed=5)
    assert len(a.heldout) == 6 and len(a.train) == 14  # 3 of 10 problems, 2 groups each
    assert not {g.problem for g in a.heldout} & {g.problem for g in a.train}
    for step in (1, 2, 9):  # a resumed run (a fresh stream) sees the same groups and IRs at each step
        assert a.step_shards(step, 2) == b.step_shards(step, 2)
    assert a.step_shards(1, 1) != a.step_shards(2, 1)
    assert all(len(g["winners"]) == 1 for s in a.step_shards(3, 1) for g in s["groups"])
    other = GroupStream(gc, tokenizer, seed=6)
    assert {g.problem for g in other.heldout} != {g.problem for g in a.heldout}
    eos = tokenizer.eos_token_id
    assert all(y[-1] == eos for g in a.train for y in g.winners + g.losers)


def test_shards_are_whole_groups_with_equal_passes():
    groups = [{"winners": [[1]] * w, "losers": [[2]] * l} for w, l in ((3, 1), (1, 1), (2, 2))]
    assert [chunk_count(g, 2) for g in groups] == [2, 1, 2]
    shards = shard_groups(groups, 2, chunk=2)
    assert [len(s["groups"]) for s in shards] == [2, 1]  # contiguous, as even as possible
    assert all(s["passes"] == 3 and s["global_groups"] == 3 and not s["padding"] for s in shards)
    padded = shard_groups(groups[:1], 2, chunk=2)  # fewer groups than ranks (an eval): a padding copy
    assert sorted(s["padding"] for s in padded) == [False, True]
    assert all(s["groups"] == groups[:1] and s["passes"] == 2 for s in padded)


def test_length_filter_drops_irs_then_groups(tmp_path, tokenizer):
    path = write_groups(tmp_path / "g.jsonl", n_problems=6)
    full = GroupStream(_gc(path, "algo.gepo.heldout_fraction=0"), tokenizer, seed=1)
    longest = max(len(g.prompt) + len(y) for g in full.train for y in g.winners)
    shortest_loser = min(len(g.prompt) + len(y) for g in full.train for y in g.losers)
    cut = GroupStream(_gc(path, "algo.gepo.heldout_fraction=0", f"algo.gepo.max_tokens={longest - 1}"), tokenizer, 1)
    assert cut.train_filter["irs_dropped_by_length"] > 0
    with pytest.raises(UserError, match="no training group left"):
        GroupStream(_gc(path, f"algo.gepo.max_tokens={shortest_loser - 1}"), tokenizer, 1)


def test_bad_groups_file_is_a_user_error(tmp_path, tokenizer):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "prompt": "not messages"}) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:1: field 'source' is missing"):
        GroupStream(_gc(bad), tokenizer, 1)
    with pytest.raises(UserError, match="no such file"):
        GroupStream(_gc(tmp_path / "missing.jsonl"), tokenizer, 1)


def test_group_metrics_reference_is_chance_and_wins_count():
    at_ref = [{"margin": 0.0, "reward_w": 0.0, "reward_l": 0.0, "logp_w": -5.0, "logp_l": -6.0}] * 40
    m = group_metrics(at_ref)
    assert m["accuracy"] == 0.5 and m["ties"] == 40 and m["margin"] == 0 and m["sign_test_p"] == 1.0
    trained = [{"margin": 0.3 + 0.01 * i, "reward_w": 0.2, "reward_l": -0.1, "logp_w": -4.0, "logp_l": -7.0}
               for i in range(30)] + [{"margin": -0.1, "reward_w": 0, "reward_l": 0.1, "logp_w": -4, "logp_l": -5}] * 10
    m = group_metrics(trained)
    assert m["wins"] == 30 and m["losses"] == 10 and m["accuracy"] == 0.75
    assert m["accuracy_ci_low"] < 0.75 < m["accuracy_ci_high"] and m["margin_ci_low"] > 0
    assert sign_test_p(30, 10) == pytest.approx(0.00222, rel=0.01)
    assert "30 / 0 / 10" in to_markdown(m)
