"""Typed run configuration: YAML files plus dotted ``key=value`` overrides, validated on load.

This module is the one place where defaults live. Every section forbids unknown keys, so a typo in a
YAML file or an override is an error that names the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oorl.errors import UserError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TinyModelConfig(Section):
    """Architecture of the ``tiny`` model built on the spot (head_dim = hidden/heads must be 64 for vLLM CPU)."""
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    num_kv_heads: int = 1
    intermediate_size: int = 256
    vocab_size: int = 160


class ModelConfig(Section):
    path: str = Field("tiny", description="HF model directory, 'tiny' or 'smollm2-135m-instruct'")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="the learner's compute dtype (bfloat16/float16: mixed precision with float32 "
        "master weights and optimizer state, see learner.bf16_mode), the rollout engines' dtype and the "
        "weight-sync wire dtype")
    cache_dir: str = "~/.cache/oorl/models"
    tiny: TinyModelConfig = TinyModelConfig()
    gradient_checkpointing: bool = False


class DatasetConfig(Section):
    name: Optional[str] = Field(None, description="a registered dataset (e.g. smoke_letters, prolog_math)")
    path: Optional[str] = Field(None, description="a JSONL file or a local HF dataset directory")
    format: Optional[str] = None
    split: str = "train"
    limit: Optional[int] = None
    kwargs: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_source(self):
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' or 'path'")
        return self


class DataConfig(Section):
    train: DatasetConfig = DatasetConfig(name="smoke_letters")
    eval: Optional[DatasetConfig] = Field(None, description="held-out tasks; split defaults to 'eval' here")

    @model_validator(mode="after")
    def _eval_split(self):
        if self.eval is not None and "split" not in self.eval.model_fields_set:
            self.eval = self.eval.model_copy(update={"split": "eval"})
        return self


class RolloutConfig(Section):
    num_engines: int = Field(1, ge=1)
    tensor_parallel_size: int = Field(1, ge=1)
    prompts_per_step: int = Field(8, ge=1)
    n_samples: int = Field(8, ge=1, description="completions per prompt (the GRPO group size)")
    max_prompt_tokens: int = Field(256, ge=1)
    max_new_tokens: int = Field(32, ge=2)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    cpu_kv_cache_gib: int = Field(1, ge=1, description="VLLM_CPU_KVCACHE_SPACE (GiB) on CPU")
    enforce_eager: bool = True
    sleep_when_idle: bool = Field(True, description="colocate on GPU: vLLM sleeps while the learner trains")
    extra_engine_kwargs: dict[str, Any] = {}


class RewardFnConfig(Section):
    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = {}


class RewardConfig(Section):
    functions: list[RewardFnConfig] = [RewardFnConfig(name="letter_match")]
    num_workers: int = Field(1, ge=1)
    cpus_per_worker: float = Field(1.0, gt=0)
    threads: int = Field(2, ge=1, description="concurrent judgements per reward worker")
    unsafe_no_sandbox: bool = Field(False, description="run untrusted code without the jail (warns loudly)")
    sandbox: dict[str, Any] = Field({}, description="limits for the jail (oorl.reward.sandbox.SandboxLimits)")
    container_image: Optional[str] = Field(None, description="run reward workers in this image (Ray container runtime env)")
    max_infra_error_share: float = Field(0.25, ge=0, le=1, description="stop the run when more than this share of "
                                         "a step's samples could not be judged (sandbox errors, not the answers' fault)")


class LearnerConfig(Section):
    world_size: int = Field(1, ge=1)
    zero_stage: Literal[0, 1, 2, 3] = 2
    lr: float = Field(1e-6, gt=0)
    lr_scheduler: Literal["constant", "constant_with_warmup", "cosine", "linear"] = "constant_with_warmup"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float = Field(1.0, ge=0)
    micro_batch_size: int = Field(8, ge=1, description="rows per forward/backward; a multiple of "
                                  "rollout.n_samples keeps each prompt's completions in one micro-batch")
    share_prompt: bool = Field(True, description="run each prompt shared by rows of a micro-batch once "
                               "(exact; off = the plain padded forward)")
    length_chunks: Union[float, Literal["auto", "off"]] = Field(
        "auto", description="with share_prompt: run a micro-batch's completions in groups of rows of similar "
        "length, each padded to its own longest, where that saves more token-forwards than this many per extra "
        "forward (oorl.learner.forward.length_chunks); 'auto' = 128 on CPU (one more forward's cost there, "
        "measured), 1024 on GPUs; 'off' = one forward, all rows padded to the longest")
    @field_validator("length_chunks", mode="before")
    @classmethod
    def _length_chunks(cls, v):
        if v is False:  # YAML reads a bare off as false
            return "off"
        if v in ("auto", "off"):
            return v
        try:
            number = float(v) if v is not True else float("nan")  # a bare on is no setting here
        except (TypeError, ValueError):
            number = float("nan")
        if not number >= 0:  # negative, nan or not a number
            raise ValueError("takes 'auto', 'off' or a number of token-forwards >= 0")
        return number

    fused_logprobs: bool = Field(True, description="the LM head and the log-softmax of the scored tokens in one "
                                 "function, a few rows at a time (no fp32 copy of the logits; same values), where "
                                 "the model's head allows it (oorl.learner.head); off = the logits, then log-softmax")
    compile: bool = Field(False, description="torch.compile the model's elementwise pieces (its MLP and RMSNorm "
                          "modules, rotary embedding, eager attention; oorl.learner.compiled): bench learner step "
                          "on CPU 3.14 -> 2.70 s, ~20 s more for the first step")
    mini_batches_per_step: int = Field(1, ge=1, description="optimizer updates per rollout batch")
    epochs_per_step: int = Field(1, ge=1, description="passes over each rollout batch")
    cpus_per_worker: float = Field(1.0, gt=0)
    offload_optimizer: bool = False
    bf16_mode: Literal["auto", "master", "autocast"] = Field(
        "auto", description="with model.dtype=bfloat16: 'master' = DeepSpeed's bf16 mode (bf16 module, fp32 "
        "master copy and Adam state); 'autocast' = the module stays fp32 (it is the master) and the forward runs "
        "under torch.autocast(bfloat16): matmuls in bf16, norms, softmax and the residual stream in fp32; "
        "'auto' = autocast on CPU (the bf16 mode learned far less there, README), master on GPUs")
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2", "flex_attention"] = Field(
        "auto", description="the learner's attention kernel (Hugging Face's attn_implementation): 'auto' = "
        "eager on CPU (PyTorch's CPU flash-attention backward ran at 41 GFLOP/s: eager trained 8-10% faster, "
        "benchmarks/README.md), Hugging Face's default (sdpa) on GPUs")


class GepoConfig(Section):
    """GEPO's loss settings and the IR groups that GEPO and DPO read (``oorl data ir-groups``)."""
    path: Optional[str] = Field(None, description="the IR groups file (JSONL from `oorl data ir-groups`)")
    weight: float = Field(0.01, ge=0, description="w_gepo: the loss is w_rl * L_onpolicy + w_gepo * L_gepo")
    beta: float = Field(0.1, gt=0, description="implicit reward r(y) = beta * (log pi(y|x) - log pi_ref(y|x))")
    lam: float = Field(1.0, ge=0, description="weight of the winners' reward variance")
    groups_per_step: int = Field(2, ge=1, description="groups sampled per step (seeded; sharded over ranks)")
    micro_batch_size: int = Field(2, ge=1, description="responses per forward/backward of the off-policy "
                                  "loss: memory does not grow with the group size")
    max_winners: Optional[int] = Field(None, ge=1, description="at most this many winners per group (seeded choice)")
    max_losers: Optional[int] = Field(None, ge=1, description="at most this many losers per group (seeded choice)")
    max_tokens: Optional[int] = Field(None, ge=8, description="drop IRs whose prompt + IR exceed this many "
                                      "tokens (a group left without a winner or a loser is dropped)")
    heldout_fraction: float = Field(0.1, ge=0, lt=1, description="share of source problems held out for the "
                                    "GEPO eval (split by problem, seeded by the run's seed)")
    eval_groups: Optional[int] = Field(None, ge=1, description="held-out groups scored per eval (default: all)")


class DpoConfig(Section):
    """The DPO baseline over the same groups' winner-loser pairs; unset fields take algo.gepo's."""
    beta: Optional[float] = Field(None, gt=0)
    weight: Optional[float] = Field(None, ge=0)
    max_pairs: Optional[int] = Field(None, ge=1, description="pairs per group (seeded choice; default all)")
    seed: int = 0


class AlgoConfig(Section):
    advantage: str = Field("grpo", description="a registered advantage estimator: grpo, reinforce_pp, ...")
    advantage_kwargs: dict[str, Any] = Field(default_factory=dict, description="more keyword arguments of the "
                                             "estimator, e.g. {unbiased: true} for grpo's sample std (TRL/veRL)")
    norm_std: bool = True
    clip_low: float = Field(0.2, ge=0)
    clip_high: float = Field(0.2, ge=0)
    tis: Literal["auto", "on", "off"] = Field("auto", description="truncated importance sampling: each token's "
                                              "loss times min(pi_learner_old / pi_engine, tis_cap), pi_engine the "
                                              "rollout engine's logprob (the policy that sampled it); auto: on with "
                                              "trainer.async_steps 1")
    tis_cap: float = Field(2.0, gt=0, description="the truncation of the importance weight (veRL's tis_imp_ratio_cap)")
    loss_agg: Literal["token_mean", "seq_mean_token_sum", "seq_mean_token_mean"] = "token_mean"
    kl_coef: float = Field(0.0, ge=0)
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    offpolicy: Optional[str] = Field(None, description="an off-policy loss added to every update on the IR "
                                     "groups of algo.gepo.path: gepo or dpo (None: on-policy only)")
    rl_weight: float = Field(1.0, ge=0, description="w_rl, the on-policy loss's weight; 0: no rollouts, the "
                             "updates carry the off-policy loss alone (needs algo.offpolicy)")
    gepo: GepoConfig = GepoConfig()
    dpo: DpoConfig = DpoConfig()

    @model_validator(mode="before")
    @classmethod
    def _old_gepo_switch(cls, data):
        """``algo.gepo.enabled`` (the old switch): true means ``algo.offpolicy: gepo``."""
        gepo = data.get("gepo") if isinstance(data, dict) else None
        if isinstance(gepo, dict) and "enabled" in gepo:
            data, gepo = dict(data), dict(gepo)
            if gepo.pop("enabled"):
                if data.get("offpolicy") not in (None, "gepo"):
                    raise ValueError(f"algo.gepo.enabled: true contradicts algo.offpolicy: {data['offpolicy']}")
                data["offpolicy"] = "gepo"
            data["gepo"] = gepo
        return data

    @model_validator(mode="after")
    def _offpolicy(self):
        if self.offpolicy is not None:
            from oorl.learner.offpolicy import OFFPOLICY_LOSSES

            if self.offpolicy not in OFFPOLICY_LOSSES:
                raise ValueError(f"algo.offpolicy {self.offpolicy!r}: unknown (known: {', '.join(OFFPOLICY_LOSSES)})")
            if not self.gepo.path:
                raise ValueError(f"algo.offpolicy: {self.offpolicy} needs algo.gepo.path, the IR groups file "
                                 "(build it with `oorl data ir-groups`)")
        if self.rl_weight == 0 and self.offpolicy is None:
            raise ValueError("algo.rl_weight: 0 leaves no loss at all: set algo.offpolicy (gepo or dpo) or a weight > 0")
        return self

    @property
    def needs_reference(self) -> bool:
        """The learner keeps the frozen reference policy: for the KL term, the off-policy losses, and the
        held-out IR-group eval (whenever algo.gepo.path is set)."""
        return self.kl_coef > 0 or self.offpolicy is not None or bool(self.gepo.path)

    @field_validator("tis", mode="before")
    @classmethod
    def _yaml_on_off(cls, v):
        # YAML 1.1 reads an unquoted on/off (``algo.tis=on``) as a boolean
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v


class WeightSyncConfig(Section):
    backend: Literal["auto", "cpu", "nccl", "cuda_ipc"] = "auto"
    bucket_mb: float = Field(64.0, gt=0)
    probe_size: int = Field(4, ge=0, description="sequences in the fixed logprob probe batch (0 disables)")
    logprob_tolerance: Union[Literal["auto"], float] = Field(
        "auto", description="largest allowed |logp_vllm - logp_learner|; 'auto': the value measured for "
        "model.dtype (AUTO_LOGPROB_TOLERANCE)")

    @field_validator("logprob_tolerance")
    @classmethod
    def _positive(cls, v):
        if v != "auto" and not v > 0:
            raise ValueError("must be > 0 (or 'auto')")
        return v


# weight_sync.logprob_tolerance: auto, per model.dtype, from the largest probe gap |logp_engine - logp_learner|
# measured with a correct sync (benchmarks/README.md, "bf16 on CPU"). float32: 3.8e-5 over 160 steps of five
# SmolLM2 runs -> 2e-3. bfloat16 (vLLM's CPU kernels and the learner round differently; bf16 logits of
# magnitude 16-32 are 0.06-0.125 apart): up to 0.30 over the Prolog recipe's 32 steps in DeepSpeed's bf16
# mode and 0.49 under bf16 autocast (the learner's residual stream is fp32, the engine's bf16) -> 1.0.
# In bf16 the probe so catches gross faults only: a sync that sends nothing leaves gaps of 0.3-0.6 on the
# tiny model (near-uniform outputs), inside bf16's noise on SmolLM2. float16 has no measured value: give a
# number.
AUTO_LOGPROB_TOLERANCE = {"float32": 2.0e-3, "bfloat16": 1.0}


Strategy = Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]


class PlacementConfig(Section):
    mode: Literal["colocate", "split"] = "colocate"
    ray_address: Optional[str] = Field(None, description="an address to join; None: RAY_ADDRESS or a running local cluster, else start one; "
                                             "'local': always start a private local cluster")
    num_gpus: Optional[int] = Field(None, description="GPUs to use; None means all that Ray sees (0 on CPU)")
    ready_timeout_s: float = Field(300.0, gt=0, description="how long to wait for the cluster to place the actors")
    cpu_threads: int = Field(0, ge=0, description="torch/OpenMP threads of each learner rank and engine on a CPU-only "
                             "run; 0: the CPUs of its bundle (colocated roles take turns, so each gets the whole "
                             "bundle), at most this machine's cores shared by the ranks when the cluster is one node")
    cpu_allocator: Literal["auto", "tcmalloc", "system"] = Field(
        "auto", description="memory allocator of the learner ranks and engines on a CPU-only run: tcmalloc (preloaded; "
        "glibc hands each large tensor's pages back to the kernel when it is freed, so every step faults them in "
        "again: the CPU learner step is ~25% faster with tcmalloc), system (glibc), or auto: tcmalloc where "
        "libtcmalloc_minimal.so.4 is installed, else system")
    learner_strategy: Strategy = Field("PACK", description="Ray placement strategy of the learner ranks' bundles "
                                       "(with the engines' when colocated)")
    rollout_strategy: Strategy = Field("PACK", description="placement strategy of the engines' bundles (split)")
    reward_strategy: Strategy = Field("SPREAD", description="placement strategy of the reward workers' bundles")
    reward_resources: dict[str, float] = Field(default_factory=dict, description="custom Ray resources each reward "
                                               "bundle asks for, e.g. {executor: 1}: reward workers only on nodes "
                                               "started with `ray start --resources '{\"executor\": N}'`")
    max_restarts: int = Field(3, ge=0, description="Ray restarts a dead rollout engine or reward worker up to this "
                              "many times (the engine gets the learner's weights again, the interrupted work is "
                              "redone); a dead learner rank stops the run (resume from the last checkpoint)")


class TrainerConfig(Section):
    steps: int = Field(20, ge=1)
    save_every: int = Field(0, ge=0, description="checkpoint every N steps (0: only at the end)")
    keep_checkpoints: int = Field(2, ge=1)
    eval_every: int = Field(0, ge=0)
    eval_before_train: bool = Field(False, description="evaluate the starting model as step 0 (not on --resume)")
    log_samples: int = Field(4, ge=0, description="completions per step written to samples.jsonl, with their "
                             "rewards (spread over the step's prompts; 0: none)")
    eval_samples: int = Field(1, ge=1, description="completions per eval task (k for any-of-k / pass@k)")
    eval_limit: Optional[int] = Field(None, description="evaluate on the first N eval tasks")
    eval_temperature: float = Field(0.7, ge=0, description="0 is greedy")
    eval_scorer: str = Field(
        "reward", description="a registered eval scorer (oorl.eval.scorers): prolog (answer-checked accuracy, "
        "pass@k, failure kinds), unit_tests (pass@k by language), reward (mean reward), ...")
    eval_scorer_kwargs: dict[str, Any] = Field(default_factory=dict, description="options of the eval scorer")
    stop_after: Optional[int] = Field(None, description="stop (as if interrupted) after this step; for resume tests")
    async_steps: Literal[0, 1] = Field(0, description="1: the engines generate step k+1 while the learner trains "
                                       "on step k (needs placement.mode: split); the update corrects for the "
                                       "one-step lag with truncated importance sampling (algo.tis_cap)")
    loggers: list[str] = Field(default_factory=lambda: ["tensorboard"], description="metric loggers beside "
                               "metrics.jsonl: tensorboard, wandb, mlflow (the last two: `pip install 'oorl[loggers]'`)")
    logger_kwargs: dict[str, dict[str, Any]] = Field(default_factory=dict, description="options per logger, passed "
                                                     "to the library: wandb: wandb.init keywords (project, entity, mode, "
                                                     "group, tags, ...); mlflow: tracking_uri, experiment_name, run_name, "
                                                     "tags; tensorboard: SummaryWriter keywords")
    plot_every_s: float = Field(30.0, ge=0, description="redraw training_curves.png and timeline.png at most this "
                                "often (seconds), after an eval, and at the end; 0: after every step (a redraw takes "
                                "~0.2 s of CPU, 3% of a 7 s CPU step)")
    library_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "ERROR", description="the lowest level of vLLM/Ray/DeepSpeed/torch log records shown on the console; all of "
        "their output is in <run_dir>/logs/ (OORL's own warnings are always shown)")

    @field_validator("loggers")
    @classmethod
    def _known_loggers(cls, names: list[str]) -> list[str]:
        from oorl.loggers import LOGGERS, missing_package

        for name in names:
            if name not in LOGGERS:
                raise ValueError(f"unknown logger {name!r}; known: {', '.join(sorted(LOGGERS))}")
            if missing_package(name):  # before any actor starts
                raise ValueError(missing_package(name))
        return names

    @model_validator(mode="after")
    def _logger_options(self):
        for name in self.logger_kwargs:
            if name not in self.loggers:
                raise ValueError(f"logger_kwargs has options for {name!r}, which loggers does not list")
        return self


class Config(Section):
    name: str = "run"
    seed: int = 1
    output_dir: Optional[str] = None
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    rollout: RolloutConfig = RolloutConfig()
    reward: RewardConfig = RewardConfig()
    learner: LearnerConfig = LearnerConfig()
    algo: AlgoConfig = AlgoConfig()
    weight_sync: WeightSyncConfig = WeightSyncConfig()
    placement: PlacementConfig = PlacementConfig()
    trainer: TrainerConfig = TrainerConfig()

    @model_validator(mode="after")
    def _batch_shape(self):
        samples = self.rollout.prompts_per_step * self.rollout.n_samples
        per_update = self.learner.world_size * self.learner.micro_batch_size * self.learner.mini_batches_per_step
        if samples % per_update:
            raise ValueError(
                f"rollout.prompts_per_step * rollout.n_samples = {samples} must be divisible by "
                f"learner.world_size * learner.micro_batch_size * learner.mini_batches_per_step = {per_update}"
            )
        return self

    @model_validator(mode="after")
    def _offpolicy_shards(self):
        if self.algo.offpolicy and self.algo.gepo.groups_per_step < self.learner.world_size:
            raise ValueError(f"algo.gepo.groups_per_step = {self.algo.gepo.groups_per_step} must be at least "
                             f"learner.world_size = {self.learner.world_size} (every rank gets whole groups)")
        return self

    @model_validator(mode="after")
    def _eval_needs_data(self):
        if (self.trainer.eval_every or self.trainer.eval_before_train) and self.data.eval is None \
                and not self.algo.gepo.path:
            raise ValueError("trainer.eval_every / trainer.eval_before_train need a data.eval section "
                             "(or algo.gepo.path: held-out IR groups)")
        return self

    @model_validator(mode="after")
    def _async_split(self):
        if self.trainer.async_steps and self.placement.mode != "split":
            raise ValueError("trainer.async_steps: 1 needs placement.mode: split (generation overlaps training "
                             "only when engines and learner ranks have resources of their own)")
        if self.trainer.async_steps and self.algo.rl_weight == 0:
            raise ValueError("trainer.async_steps: 1 overlaps rollouts with training; algo.rl_weight: 0 has no rollouts")
        return self

    @model_validator(mode="after")
    def _auto_tolerance(self):
        ws = self.weight_sync
        if ws.logprob_tolerance == "auto":
            value = AUTO_LOGPROB_TOLERANCE.get(self.model.dtype)
            if value is None:
                raise ValueError(f"weight_sync.logprob_tolerance: auto has no measured value for model.dtype="
                                 f"{self.model.dtype}; give a number")
            self.weight_sync = ws.model_copy(update={"logprob_tolerance": value})
        return self

    @property
    def use_tis(self) -> bool:
        return self.algo.tis == "on" or (self.algo.tis == "auto" and self.trainer.async_steps > 0)

    @property
    def grad_accum_steps(self) -> int:
        samples = self.rollout.prompts_per_step * self.rollout.n_samples
        return samples // (self.learner.world_size * self.learner.micro_batch_size * self.learner.mini_batches_per_step)

    def run_dir(self) -> Path:
        return Path(self.output_dir or Path("runs") / self.name)


def _set_dotted(tree: dict, dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        if not isinstance(node.get(k, {}), dict):
            raise UserError(f"override {dotted}={raw}: {k!r} is not a section")
        node = node.setdefault(k, {})
    node[keys[-1]] = yaml.safe_load(raw) if raw != "" else None


def _format_error(e: ValidationError, source: str) -> str:
    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        msg = f"unknown config key {field!r}"
    else:
        msg = f"config field {field!r}: {err['msg']}"
        if "input" in err and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
    more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{source}: {msg}{more}"


def _merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: sections merge key by key, anything else is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_tree(p: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file's tree, on top of the tree of its ``base:`` file (a path relative to it), if any."""
    if not p.is_file():
        raise UserError(f"config file {str(p)!r} does not exist" + (f" (the base of {str(seen[-1])!r})" if seen else ""))
    if p.resolve() in seen:
        raise UserError(f"config file {str(p)!r}: its base: chain comes back to itself")
    try:
        tree = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"config file {str(p)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(tree, dict):
        raise UserError(f"config file {str(p)!r} must hold a mapping at the top level")
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str):
        raise UserError(f"config file {str(p)!r}: 'base' must be the path of another config file")
    return _merge(_read_tree(p.parent / base, (*seen, p.resolve())), tree)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Load YAML ``path`` (on top of its ``base:`` config, if it names one) or the defaults, apply
    ``key=value`` overrides, validate."""
    tree: dict = {}
    source = "defaults"
    if path is not None:
        tree = _read_tree(Path(path))
        source = str(path)
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise UserError(f"override {item!r} must look like section.key=value")
        _set_dotted(tree, key.strip(), raw)
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise UserError(_format_error(e, source)) from None


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
