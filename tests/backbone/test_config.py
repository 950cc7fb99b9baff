import pytest

from oorl.config import load_config
from oorl.errors import UserError


def test_defaults_and_dotted_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nlearner: {lr: 1.0e-4}\n")
    cfg = load_config(p, ["learner.world_size=2", "rollout.n_samples=4", "data.train.name=smoke_letters", "data.train.kwargs={size: 10}"])
    assert cfg.name == "x" and cfg.learner.lr == 1e-4 and cfg.learner.world_size == 2
    assert cfg.rollout.n_samples == 4 and cfg.data.train.kwargs == {"size": 10}
    # 8 prompts x 4 samples over 2 ranks x micro-batch 8 -> 2 micro-batches per update
    assert cfg.grad_accum_steps == 2


@pytest.mark.parametrize("override, needle", [
    ("learner.lrr=1", "unknown config key 'learner.lrr'"),
    ("learner.lr=fast", "config field 'learner.lr'"),
    ("learner.zero_stage=5", "config field 'learner.zero_stage'"),
    ("learner.world_size=3", "must be divisible"),
    ("lr", "must look like section.key=value"),
    ("trainer.eval_every=5", "need a data.eval section"),
])
def test_bad_overrides_name_the_field(override, needle):
    with pytest.raises(UserError) as e:
        load_config(None, [override])
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)


def test_dataset_needs_exactly_one_source():
    with pytest.raises(UserError, match="exactly one of 'name' or 'path'"):
        load_config(None, ["data.train.path=x.jsonl", "data.train.name=smoke_letters"])
