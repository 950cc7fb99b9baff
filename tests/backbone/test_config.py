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
    ("trainer.async_steps=1", "needs placement.mode: split"),
    ("trainer.async_steps=2", "config field 'trainer.async_steps'"),
    ("placement.reward_strategy=RANDOM", "config field 'placement.reward_strategy'"),
    ("placement.max_restarts=-1", "config field 'placement.max_restarts'"),
    ("algo.tis=yes please", "config field 'algo.tis'"),
    ("learner.attn_implementation=fast", "config field 'learner.attn_implementation'"),
    ("learner.length_chunks=-1", "config field 'learner.length_chunks'"),
    ("learner.length_chunks=on", "config field 'learner.length_chunks'"),
    ("learner.length_chunks=nan", "config field 'learner.length_chunks'"),
])
def test_bad_overrides_name_the_field(override, needle):
    with pytest.raises(UserError) as e:
        load_config(None, [override])
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_on_off_values_as_typed_on_a_command_line():
    # YAML reads a bare on/off as a boolean; the field takes the words
    assert [load_config(None, [f"algo.tis={v}"]).algo.tis for v in ("on", "off", "auto", "true", "false")] == \
        ["on", "off", "auto", "on", "off"]


def test_length_chunks_values():
    assert [load_config(None, [f"learner.length_chunks={v}"]).learner.length_chunks for v in ("off", "auto", "0", "64.5", "inf")] \
        == ["off", "auto", 0.0, 64.5, float("inf")]
    assert load_config(None, []).learner.length_chunks == "auto"


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


def test_base_config_is_merged_section_by_section(tmp_path):
    (tmp_path / "base.yaml").write_text("name: b\nlearner: {lr: 1.0e-4, world_size: 2}\nalgo: {kl_coef: 0.1}\n")
    sub = tmp_path / "ablation"
    sub.mkdir()
    (sub / "x.yaml").write_text("base: ../base.yaml\nname: x\nlearner: {lr: 2.0e-4}\n")
    cfg = load_config(sub / "x.yaml", ["algo.kl_coef=0.2"])
    assert (cfg.name, cfg.learner.lr, cfg.learner.world_size, cfg.algo.kl_coef) == ("x", 2e-4, 2, 0.2)
    (sub / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(UserError, match="comes back to itself"):
        load_config(sub / "loop.yaml")
    (sub / "orphan.yaml").write_text("base: ../missing.yaml\n")
    with pytest.raises(UserError, match="missing.yaml' does not exist .the base of"):
        load_config(sub / "orphan.yaml")


@pytest.mark.parametrize("override, needle", [
    (["algo.offpolicy=gepo"], "needs algo.gepo.path"),
    (["algo.offpolicy=ppo", "algo.gepo.path=g.jsonl"], "algo.offpolicy 'ppo': unknown"),
    (["algo.rl_weight=0"], "leaves no loss at all"),
    (["algo.offpolicy=dpo", "algo.gepo.path=g.jsonl", "learner.world_size=2", "algo.gepo.groups_per_step=1"],
     "must be at least learner.world_size"),
])
def test_offpolicy_settings_are_checked(override, needle):
    with pytest.raises(UserError, match=needle):
        load_config(None, override)


def test_eval_data_defaults_to_the_eval_split():
    cfg = load_config(None, ["data.eval={path: x, format: multipl_e}"])
    assert cfg.data.eval.split == "eval" and cfg.data.train.split == "train"
    assert load_config(None, ["data.eval={name: mini_translation, split: heldout}"]).data.eval.split == "heldout"
