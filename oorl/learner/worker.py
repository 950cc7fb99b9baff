"""The learner: one Ray actor per data-parallel rank, running DeepSpeed ZeRO (stage 0-3).

Each rank holds a shard of the rollout batch. ``train_step`` runs ``mini_batches_per_step`` optimizer
updates per epoch, each over ``grad_accum_steps`` micro-batches, with the on-policy PPO-clip loss
(plus a KL term against the frozen reference policy) and, when given, off-policy batches (GEPO).
Token-mean normalisation is global: every rank's micro-batch loss is divided by the token count of
the whole mini-batch across all ranks, then multiplied by world_size x GAS to undo DeepSpeed's
averaging (see ``oorl.algo.losses``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch

from oorl.algo.kl import kl_estimate
from oorl.algo.losses import aggregate, dp_loss_scale, local_counts, ppo_clip_loss, truncated_is_weight
from oorl.allocator import allocator_in_use
from oorl.config import Config
from oorl.learner.batch import micro_batches, train_mask
from oorl.learner.compiled import compile_pieces
from oorl.learner.forward import micro_batch_logprobs
from oorl.learner.ds_config import bf16_mode, deepspeed_config, learner_clips

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def chunk_overhead(learner, use_gpu: bool) -> float:
    """``learner.length_chunks`` as the token-forwards one more forward must save (inf: one forward).
    ``auto``: 128 on CPU, measured on the bench learner step (SmolLM2-135M, 2 threads: a token costs
    ~2.8 ms forward and backward, one more forward ~0.35 s, its ops' dispatch and smaller matmuls;
    benchmarks/README.md); 1024 on GPUs, where a token costs far less next to a forward's kernel
    launches (not measured)."""
    v = learner.length_chunks
    if v == "off":
        return float("inf")
    if v == "auto":
        return 1024.0 if use_gpu else 128.0
    return float(v)


def attention_kernel(learner, use_gpu: bool) -> str | None:
    """``learner.attn_implementation`` for Hugging Face (None: its default). ``auto``: eager on CPU,
    where PyTorch's flash-attention backward is slow (41 GFLOP/s at the learner's shapes), the
    library's default (sdpa) on GPUs."""
    if learner.attn_implementation != "auto":
        return learner.attn_implementation
    return None if use_gpu else "eager"


class CastOncePerUpdate:
    """Under bf16 autocast: one autocast region over the micro-batches of an optimizer update.

    Autocast caches its bf16 copy of each weight until its outermost region ends; DeepSpeed's
    forward opens a region per micro-batch, so every forward re-cast all weights. Inside this region
    each weight is cast once per update (the gradients are bit for bit the same). It closes before
    the optimizer step changes the weights. Off below autocast and at ZeRO-3, where holding a bf16
    copy of every gathered weight for the whole update would undo the sharding's memory saving.
    """

    def __init__(self, device_type: str, enabled: bool) -> None:
        self.device_type, self.enabled = device_type, enabled
        self._region = None

    def open(self) -> None:
        if self.enabled and self._region is None:
            self._region = torch.autocast(self.device_type, dtype=torch.bfloat16)
            self._region.__enter__()

    def close(self) -> None:
        if self._region is not None:
            region, self._region = self._region, None
            region.__exit__(None, None, None)

    def __enter__(self) -> "CastOncePerUpdate":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LearnerWorker:
    def __init__(self, cfg: dict, model_dir: str, rank: int, world_size: int, master_addr: str,
                 master_port: int, use_gpu: bool, num_threads: int = 1) -> None:
        self.cfg = Config.model_validate(cfg)
        self.autocast = bf16_mode(self.cfg.learner, self.cfg.model.dtype, use_gpu) == "autocast"
        self.rank, self.world_size, self.use_gpu = rank, world_size, use_gpu
        self.model_dir = model_dir
        os.environ.update({"MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), "RANK": str(rank),
                           "WORLD_SIZE": str(world_size), "LOCAL_RANK": "0"})
        if not use_gpu:
            os.environ["DS_ACCELERATOR"] = "cpu"
            torch.set_num_threads(max(1, num_threads))
        import deepspeed
        from transformers import AutoModelForCausalLM, get_scheduler
        from transformers.integrations import HfDeepSpeedConfig

        if not use_gpu:
            # DeepSpeed JIT-builds a shared-memory op at init that only its inference all-reduce uses.
            # Its build lock outlives a killed process and then hangs every later run: skip the op.
            import deepspeed.ops

            deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        deepspeed.init_distributed(dist_backend="nccl" if use_gpu else "gloo", auto_mpi_discovery=False)
        self.device = torch.device("cuda", torch.cuda.current_device()) if use_gpu else torch.device("cpu")
        lc = self.cfg.learner
        dtype = DTYPES[self.cfg.model.dtype]
        if self.autocast:
            dtype = torch.float32  # the module is the fp32 master; autocast computes in bf16
        ds_cfg = deepspeed_config(lc, self.cfg.model.dtype, self.cfg.grad_accum_steps, use_gpu)
        self._hf_ds = HfDeepSpeedConfig(ds_cfg) if lc.zero_stage == 3 else None  # partition at load
        torch.manual_seed(self.cfg.seed)
        self.attn = attention_kernel(lc, use_gpu)
        self.chunk_overhead = chunk_overhead(lc, use_gpu)
        self.clips = learner_clips(lc, self.cfg.model.dtype, use_gpu)
        self._grad_norm = None  # the last update's gradient norm where this class clips
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=self.attn)
        if self.cfg.model.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        model.config.use_cache = False
        self.compiled = compile_pieces(model, zero3=lc.zero_stage == 3) if lc.compile else []
        # PyTorch's fused AdamW kernel (CPU and CUDA): on CPU 0.09 s per SmolLM2 update against 0.40 s
        # for the default per-parameter loop
        optim = torch.optim.AdamW(model.parameters(), lr=lc.lr, betas=tuple(lc.betas), eps=lc.adam_eps,
                                  weight_decay=lc.weight_decay, fused=True)
        updates = self.cfg.trainer.steps * lc.mini_batches_per_step * lc.epochs_per_step
        sched = get_scheduler(lc.lr_scheduler, optim, num_warmup_steps=int(lc.warmup_ratio * updates),
                              num_training_steps=updates)
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optim, lr_scheduler=sched, config=ds_cfg)
        self.ref = self._load_reference(model_dir, dtype, ds_cfg) if self.cfg.algo.needs_reference else None
        self.weight_engine = None
        if rank == 0:
            p = self.precision()
            alloc = "" if use_gpu else f", {allocator_in_use()} allocator"
            comp = f"; compiled: {', '.join(self.compiled) or 'nothing found to compile'}" if lc.compile else ""
            print(f"learner: {p['compute']} compute, {p['master']} master weights and Adam state "
                  f"({p['optimizer']}, ZeRO stage {lc.zero_stage}{alloc}){comp}", flush=True)

    def precision(self) -> dict[str, str]:
        """The dtypes this rank trains with: the module's parameters (compute), the weights the optimizer
        updates (DeepSpeed's fp32 master copy under bf16/fp16), and the optimizer's state."""
        opt = self.optimizer
        master = None
        for attr in ("single_partition_of_fp32_groups", "fp32_partitioned_groups_flat", "fp32_groups_flat",
                     "fp32_groups"):
            groups = getattr(opt, attr, None)
            if groups:
                first = groups[0]
                master = (first[0] if isinstance(first, (list, tuple)) else first).dtype
                break
        inner = getattr(opt, "optimizer", opt)
        state = next((t.dtype for st in inner.state.values() for k, t in st.items()
                      if k == "exp_avg" and torch.is_tensor(t)), None)
        compute = next(self.engine.module.parameters()).dtype
        master = master or compute  # no master copy: the optimizer updates the module's own weights
        if self.autocast:
            compute = "bfloat16 autocast over float32"
        name = lambda d: str(d).replace("torch.", "") if d is not None else "none yet"  # noqa: E731
        return {"compute": name(compute), "master": name(master), "optimizer_state": name(state),
                "optimizer": type(opt).__name__}

    # ------------------------------------------------------------------ reference policy
    def _load_reference(self, model_dir, dtype, ds_cfg):
        """The frozen reference policy; sharded with ZeRO-3 when the learner is, else a plain copy."""
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=self.attn)
        ref.eval().requires_grad_(False)
        if self.cfg.learner.compile:
            compile_pieces(ref, zero3=self.cfg.learner.zero_stage == 3)
        if self.cfg.learner.zero_stage == 3:
            import deepspeed

            inf_cfg = {k: v for k, v in ds_cfg.items() if k not in ("gradient_clipping",)}
            inf_cfg["zero_optimization"] = {"stage": 3, "stage3_param_persistence_threshold": 0}
            ref, *_ = deepspeed.initialize(model=ref, config=inf_cfg)
            return ref
        return ref.to(self.device)

    # ------------------------------------------------------------------ forward helpers
    def _logprobs(self, model, mb, temperature: float = 1.0) -> torch.Tensor:
        agree = self._all_ranks if self.cfg.learner.zero_stage == 3 and self.world_size > 1 else None
        # the reference is a plain module below ZeRO-3 (a DeepSpeed engine, autocast by its config, at 3):
        # under bf16 autocast it computes as the policy does; below ZeRO-3 the region also covers the
        # fused LM head, which runs outside the model's forward (at ZeRO-3 a region around the forward
        # would keep a bf16 copy of every gathered weight until it closes)
        plain_ref = self.autocast and model is self.ref and not hasattr(model, "module")
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=plain_ref or (self.autocast and self.cfg.learner.zero_stage < 3)):
            return micro_batch_logprobs(model, mb, self.device, share_prompt=self.cfg.learner.share_prompt,
                                        temperature=temperature, agree=agree, fused=self.cfg.learner.fused_logprobs,
                                        chunk_overhead=self.chunk_overhead)

    def _all_ranks(self, flag: bool) -> bool:
        """True when ``flag`` is true on every rank (ZeRO-3: the ranks' forwards must match)."""
        import torch.distributed as dist

        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return bool(t.item())

    @property
    def _sampling_temperature(self) -> float:
        """The policy the rollouts were drawn from is softmax(logits / T): the update scores that one."""
        return self.cfg.rollout.temperature  # the config keeps it > 0

    @torch.no_grad()
    def logprobs(self, batch: dict) -> list[list[float]]:
        """Per-token logprobs of the response tokens of each row (the probe check's learner side)."""
        self.engine.eval()
        rows = []
        for mb in micro_batches(batch, self.cfg.learner.micro_batch_size):
            lp = self._logprobs(self.engine, mb).cpu()
            mask = mb["loss_mask"][:, 1:].bool()
            rows.extend(lp[i][mask[i]].tolist() for i in range(lp.shape[0]))
        self.engine.train()
        return rows

    def _global_counts(self, mbs) -> tuple[float, float]:
        import torch.distributed as dist

        tok = torch.zeros((), dtype=torch.int64)
        seq = torch.zeros((), dtype=torch.int64)
        for mb in mbs:
            t, s = local_counts(train_mask(mb))
            tok += t
            seq += s
        both = torch.stack([tok, seq]).to(self.device)
        dist.all_reduce(both)
        return float(both[0]), float(both[1])

    # ------------------------------------------------------------------ the update
    def train_step(self, batch: dict | None, offpolicy: dict | None = None) -> dict:
        """One rollout batch (this rank's shard): epochs x mini-batches optimizer updates.

        ``offpolicy`` maps a registered off-policy loss name (``gepo``, ``dpo``) to this rank's share of
        the step's IR groups; its weighted loss joins the first micro-batch of every update, back-
        propagated chunk by chunk (``oorl.learner.offpolicy``), so the update carries both losses.
        ``batch`` None (``algo.rl_weight: 0``): the updates carry the off-policy loss alone.
        """
        from oorl.learner.offpolicy import offpolicy_backward, prepare

        offpolicy = [prepare(self, name, ob) for name, ob in (offpolicy or {}).items()]
        lc = self.cfg.learner
        t0 = time.perf_counter()
        self.engine.train()
        gas = self.cfg.grad_accum_steps
        scale = dp_loss_scale(self.world_size, gas)
        updates = lc.mini_batches_per_step * lc.epochs_per_step
        sums: dict[str, float] = {}
        count = 0

        def add(stats):
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v

        with CastOncePerUpdate(self.device.type, self.autocast and lc.zero_stage < 3) as casts:
            if batch is None:  # off-policy only: the same updates, the micro-steps without an on-policy term
                for _ in range(updates):
                    for i in range(gas):
                        if i == gas - 1:  # the accumulation boundary, where ZeRO 0/1 all-reduce the gradients
                            casts.open()
                            stats = {"loss": 0.0}
                            for prep in offpolicy:
                                value, ostats = offpolicy_backward(self, prep, scale)
                                stats["loss"] += value
                                stats.update(ostats)
                            add(stats)
                        count += 1
                        self._engine_step(casts)
            else:
                n = batch["input_ids"].shape[0]
                mini = n // lc.mini_batches_per_step
                if updates > 1:  # the behaviour policy's logprobs, before any update of this step
                    batch = dict(batch, old_logp=self._padded_logprobs(batch))
                for _epoch in range(lc.epochs_per_step):
                    for m in range(lc.mini_batches_per_step):
                        part = {k: v[m * mini:(m + 1) * mini] for k, v in batch.items()}
                        mbs = micro_batches(part, lc.micro_batch_size)
                        g_tok, g_seq = self._global_counts(mbs)
                        for i, mb in enumerate(mbs):
                            casts.open()
                            add(self._micro_step(mb, g_tok, g_seq, scale, offpolicy if i == 0 else ()))
                            count += 1
                            self._engine_step(casts)
        offp = tuple(f"{p.name}/" for p in offpolicy)  # once per update, not per micro-batch

        def mean(k, v):
            if k in ("loss", "pg_loss", "kl_loss") or k.endswith("/forward_time_s") or k.endswith("/loss"):
                return v
            return v / (updates if k.startswith(offp) else count)

        metrics = {k: mean(k, v) for k, v in sums.items()}
        # "loss" etc. are sums of globally normalised micro-batch terms: the step loss of this rank's
        # share; the driver sums over ranks and divides by the number of updates.
        metrics["updates"] = updates
        norm = self._grad_norm if self.clips else self.engine.get_global_grad_norm()
        metrics["grad_norm"] = float(norm or 0.0)
        metrics["lr"] = float(self.scheduler.get_last_lr()[0])
        metrics["train_time_s"] = time.perf_counter() - t0
        return metrics

    def _engine_step(self, casts: CastOncePerUpdate) -> None:
        """DeepSpeed's step after a micro-batch; at an update (the accumulation boundary) the weights
        change, so the cast region closes first."""
        if self.engine.is_gradient_accumulation_boundary():
            casts.close()
            if self.clips:  # the norm before clipping, as DeepSpeed reports it elsewhere
                params = [p for p in self.engine.module.parameters() if p.grad is not None]
                if self.cfg.learner.grad_clip > 0:
                    norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.learner.grad_clip, foreach=True)
                else:
                    norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
                self._grad_norm = float(norm)
        self.engine.step()

    @torch.no_grad()
    def _padded_logprobs(self, batch) -> torch.Tensor:
        out = torch.zeros(batch["input_ids"].shape[0], batch["input_ids"].shape[1] - 1)
        s = 0
        for mb in micro_batches(batch, self.cfg.learner.micro_batch_size):
            lp = self._logprobs(self.engine, mb, self._sampling_temperature).cpu()
            out[s:s + lp.shape[0], : lp.shape[1]] = lp
            s += lp.shape[0]
        return out

    def _micro_step(self, mb, g_tok, g_seq, scale, offpolicy) -> dict:
        ac = self.cfg.algo
        mask = train_mask(mb).to(self.device)
        logp = self._logprobs(self.engine, mb, self._sampling_temperature)
        old = mb["old_logp"][:, : logp.shape[1]].to(self.device) if "old_logp" in mb else logp.detach()
        adv = mb["advantages"].to(self.device)
        pg_tok, pg_stats = ppo_clip_loss(logp, old, adv, mask, clip_low=ac.clip_low, clip_high=ac.clip_high)
        tis_stats = {}
        if "behavior_logp" in mb:  # the engine sampled from another policy (an older one when asynchronous)
            weight, tis_stats = truncated_is_weight(old, mb["behavior_logp"][:, : logp.shape[1]].to(self.device),
                                                    mask, ac.tis_cap)
            pg_tok = pg_tok * weight
        pg = aggregate(pg_tok, mask, ac.loss_agg, global_tokens=g_tok, num_sequences=g_seq)
        loss = pg
        stats = {"pg_loss": pg.item(), "clipfrac": float(pg_stats["clipfrac"]), "ratio_mean": float(pg_stats["ratio_mean"]),
                 **tis_stats}
        if self.ref is not None:
            with torch.no_grad():
                ref_logp = self._logprobs(self.ref, mb, self._sampling_temperature)
            kl_tok = kl_estimate(logp, ref_logp, ac.kl_estimator, mask=mask)
            kl = aggregate(kl_tok, mask, ac.loss_agg, global_tokens=g_tok, num_sequences=g_seq)
            loss = loss + ac.kl_coef * kl
            stats["kl_loss"] = kl.item()
            stats["kl"] = float((kl_tok * mask).sum() / mask.sum().clamp(min=1))
        loss = ac.rl_weight * loss  # w_rl (the off-policy terms carry their own weights)
        self.engine.backward(loss * scale)
        stats["loss"] = loss.item()
        for prep in offpolicy:  # after the on-policy backward: one graph alive at a time
            from oorl.learner.offpolicy import offpolicy_backward

            value, ostats = offpolicy_backward(self, prep, scale)
            stats["loss"] += value
            stats.update(ostats)
        return stats

    def offpolicy_eval(self, batch: dict, beta: float) -> list[dict]:
        """Held-out IR groups: per group, the winners' and losers' mean implicit reward (the GEPO eval)."""
        from oorl.learner.offpolicy import group_margins

        return group_margins(self, batch, beta)

    # ------------------------------------------------------------------ weight sync
    def init_weight_sync(self, rollout_handles: list, plan) -> None:
        """Open the transfer to the engines (``plan``: an ``oorl.weight_sync.SyncPlan``)."""
        from vllm.distributed.weight_transfer.factory import WeightTransferTrainerFactory

        from oorl.weight_sync import DTYPES, register_backends
        from oorl.weight_sync.backends import trainer_init_info
        from oorl.weight_sync.client import EngineClient
        from oorl.weight_sync.source import ZeroWeightSource

        register_backends()
        source = ZeroWeightSource(self.engine.module, DTYPES[plan.dtype], self.cfg.learner.zero_stage)
        info = trainer_init_info(plan, self.rank)
        self.sync_client = EngineClient(rollout_handles) if self.rank == 0 else None
        self.weight_engine = WeightTransferTrainerFactory.trainer_init(info, client=self.sync_client, source=source)

    def sync_weights(self) -> dict:
        """Send the weights; ``lost_engines``: engines that died or restarted during the transfer
        (rank 0, the sender, knows; the driver brings them back and syncs again)."""
        t0 = time.perf_counter()
        self.weight_engine.send_weights()
        stats = dict(getattr(self.weight_engine, "last_stats", {}))
        stats["sync_time_s"] = time.perf_counter() - t0
        stats["lost_engines"] = sorted(self.sync_client.lost) if self.sync_client is not None else []
        return stats

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, ckpt_dir: str, tokenizer_dir: str) -> None:
        """HF weights + tokenizer (rank 0) and the DeepSpeed state of every rank, for resume."""
        path = Path(ckpt_dir)
        self.engine.save_checkpoint(str(path / "deepspeed"), tag="state")
        if self.cfg.learner.zero_stage == 3:
            state = self.engine._zero3_consolidated_16bit_state_dict()
        else:
            state = self.engine.module.state_dict() if self.rank == 0 else None
        if self.rank == 0:
            self.engine.module.save_pretrained(path, state_dict=state, safe_serialization=True)
            for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                      "vocab.json", "merges.txt", "generation_config.json"):
                src = Path(tokenizer_dir) / f
                if src.exists() and not (path / f).exists():
                    shutil.copy(src, path / f)

    def load_checkpoint(self, ckpt_dir: str) -> None:
        load_path, _ = self.engine.load_checkpoint(str(Path(ckpt_dir) / "deepspeed"), tag="state",
                                                   load_optimizer_states=True, load_lr_scheduler_states=True)
        if load_path is None:
            raise RuntimeError(f"no DeepSpeed state in {ckpt_dir}")

    def ping(self) -> int:
        return self.rank

    def check_storage(self, run_dir: str, token: str, model_dir: str) -> tuple[str, str | None]:
        """(this node's address, what is wrong or None): the driver's marker in ``run_dir`` must be
        readable here, a marker of this rank writable, and ``model_dir`` present (see
        ``oorl.placement.check_shared_storage``)."""
        import ray

        node = ray.util.get_node_ip_address() if ray.is_initialized() else "local"
        marker = Path(run_dir) / f".oorl-storage-{token}"
        try:
            if marker.read_text() != token:
                return node, f"the driver's marker {str(marker)!r} has other contents here"
            marker.with_name(f"{marker.name}-rank{self.rank}").write_text(token)
        except OSError as e:
            return node, f"the output directory {run_dir!r} is not the driver's here ({e.strerror}: {str(marker)!r})"
        if not (Path(model_dir) / "config.json").exists():
            return node, f"the model directory {model_dir!r} does not exist here"
        return node, None
