"""The driver loop: prompts -> rollouts -> rewards -> advantages -> update -> weight sync -> probe.

Each step is a short sequence of calls on the role groups, each one a synchronisation point:

    samples = make_samples(step)                      # driver: prompts, groups, seeds
    rollouts.generate(samples)                        # rollout group (vLLM engines), whole groups each
    rewards.score(samples)                            # reward pool (jailed judges), whole groups each
    batch = advantages + samples -> tensors           # driver: samples that could not be judged are masked
    offpolicy = groups.step_shards(step)              # driver: the step's IR groups (GEPO/DPO), whole per rank
    learners.train(batch, offpolicy)                  # learner group (DeepSpeed ranks): one update, both losses
    weights.sync(); probe.check()                     # weight sync, then engines vs learner logprobs

With ``trainer.async_steps: 1`` the engines generate step k+1 while the learner trains on step k
(:meth:`Trainer.generation`). Dead engines and reward workers are restarted by Ray and brought back
by the role groups (an engine through :meth:`Trainer._engine_restarted`); a dead learner rank stops
the run (``oorl.dispatch``). Checkpoints: ``oorl.checkpoints``; per-step figures: ``oorl.step_metrics``.
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import torch

from oorl.algo.advantages import ADV_ESTIMATORS, compute_advantages
from oorl.checkpoints import latest_checkpoint, load_pending, save_checkpoint
from oorl.config import Config, save_config
from oorl.data.ir_groups.stream import GroupStream
from oorl.data.registry import load_tasks
from oorl.data.sampling import PromptSampler, encode_prompt, sample_seed
from oorl.errors import TrainingError
from oorl.learner.batch import build_batch
from oorl.learner.group import LearnerGroup
from oorl.models import check_context, resolve_model
from oorl.placement import check_shared_storage, connect, create_roles
from oorl.reward.pool import RewardPool
from oorl.rollout.group import Pending, RolloutGroup
from oorl.runlog import MetricsLog, prepare_run_dir
from oorl.step_metrics import (assign_advantages, check_infra, overlap_metrics, sample_metrics, sample_records,
                               timed)
from oorl.types import Sample
from oorl.weight_sync import WeightSync, plan_sync
from oorl.weight_sync.probe import Probe


class Trainer:
    def __init__(self, cfg: Config, resume: bool = False) -> None:
        from transformers import AutoTokenizer

        from oorl.eval.run import eval_scorer
        from oorl.reward.functions import resolve_reward

        self.cfg = cfg
        for spec in cfg.reward.functions:  # bad names fail before any actor starts
            resolve_reward(spec.name)
        compute_advantages(cfg.algo.advantage, torch.zeros(2), torch.zeros(2, dtype=torch.long), **self._advantage_kwargs())
        self.scorer = eval_scorer(cfg) if cfg.data.eval is not None else None
        self.run_dir = prepare_run_dir(cfg.run_dir().expanduser().resolve())  # absolute: actors have other cwds
        self.resume_from = latest_checkpoint(self.run_dir) if resume else None
        save_config(cfg, self.run_dir / "config.yaml")
        self.model_dir = resolve_model(cfg.model.path, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
        check_context(self.model_dir, cfg.rollout.max_prompt_tokens, cfg.rollout.max_new_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.pad_id = self.tokenizer.pad_token_id or 0
        d = cfg.data.train
        self.tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
        self.prompt_ids = [encode_prompt(self.tokenizer, t["prompt"], cfg.rollout.max_prompt_tokens) for t in self.tasks]
        self.prompt_texts = [self.tokenizer.decode(p) for p in self.prompt_ids]  # what reward functions see
        self.sampler = PromptSampler(len(self.tasks), cfg.rollout.prompts_per_step, cfg.seed)
        self._eval_tasks = None
        self.groups = GroupStream(cfg.algo.gepo, self.tokenizer, cfg.seed) if cfg.algo.gepo.path else None

    # ------------------------------------------------------------------ setup
    def start(self) -> None:
        cfg = self.cfg
        connect(cfg)
        roles = create_roles(cfg, self.model_dir)
        (self.run_dir / "placement.json").write_text(json.dumps(roles.layout, indent=1))  # where each actor runs
        self.use_gpu = roles.use_gpu
        # the engines' token logprobs only where the update uses them (truncated importance sampling)
        self.rollouts = RolloutGroup(roles.rollouts, on_restart=self._engine_restarted, logprobs=cfg.use_tis)
        self.rewards = RewardPool(roles.rewards)
        self.learners = LearnerGroup(roles.learners, self.pad_id, lost_hint=self._resume_hint)
        self.learners.ping()
        check_shared_storage(self.run_dir, self.model_dir, self.learners)
        self.weights = WeightSync(self.learners, roles.rollouts,
                                  plan_sync(cfg, roles.use_gpu, roles.master_addr, (roles.master_port,)))
        self.step, self.pending, self.faults, self.last_train_span = 0, None, {}, None
        if self.resume_from is not None:
            self.learners.load(str(self.resume_from))
            self.step = json.loads((self.resume_from / "trainer_state.json").read_text())["step"]
            nxt = self.make_samples(self.step + 1) if cfg.trainer.async_steps else None
            if nxt is not None and load_pending(self.resume_from, nxt):  # generated before the checkpoint
                self.pending = Pending(self.step + 1, nxt, [], done=True)
        self.probe = Probe.load_or_make(self.run_dir / "probe.json", self.rollouts, self.prompt_ids,
                                        cfg.weight_sync.probe_size, cfg.rollout.max_new_tokens,
                                        self.tokenizer.eos_token_id)
        if self.resume_from is not None:  # the engines start from model_dir: bring them to the checkpoint
            self.sync_weights(self.step, {})

    def _resume_hint(self) -> str:
        last = latest_checkpoint(self.run_dir)
        return (f"; the last checkpoint is {last}: continue with `oorl train ... --resume`" if last is not None
                else "; no checkpoint was written yet")

    # ------------------------------------------------------------------ dead engines
    def sync_weights(self, version: int, t: dict) -> dict:
        """Push the learner's weights (``version``: the updates in them) to the engines; an engine
        that died or restarted during the transfer is brought back (:meth:`_engine_restarted`)."""
        with timed(t, "sync"):
            out = self.weights.sync()
            self.rollouts.version = version
            for e in out.get("lost_engines", []):
                self.rollouts.recover(e)
        return out

    def _engine_restarted(self, e: int) -> None:
        """Ray restarted engine ``e`` with the starting weights: reopen the transfer (the new actor has
        none), send the learner's current weights to the engines, and check the probe."""
        self.weights.open()
        self.sync_weights(self.rollouts.version, {})
        diff = self.probe.check(self.rollouts, self.learners) if self.probe is not None else 0.0
        self.check_probe(diff, f"after rollout engine {e} restarted")

    def check_probe(self, diff: float, when: str) -> None:
        if diff > self.cfg.weight_sync.logprob_tolerance:
            raise TrainingError(
                f"{when}: the rollout engine's logprobs differ from the learner's by {diff:.3g} "
                f"(> weight_sync.logprob_tolerance={self.cfg.weight_sync.logprob_tolerance}); the weight sync or the "
                "engine's numerics are off (dtype, kernels); see metrics.jsonl")

    def fault_metrics(self) -> dict:
        """Restarts seen since the last step (``faults/...``), per role."""
        now = {"faults/rollout_restarts": self.rollouts.restarts, "faults/reward_restarts": self.rewards.restarts}
        out = {k: v - self.faults.get(k, 0) for k, v in now.items()}
        self.faults = now
        return out

    # ------------------------------------------------------------------ one step
    def _advantage_kwargs(self) -> dict:
        """``algo.norm_std`` for the estimators that take it, plus ``algo.advantage_kwargs``."""
        est = ADV_ESTIMATORS.get(self.cfg.algo.advantage)
        takes_std = "norm_std" in inspect.signature(est).parameters
        return {**({"norm_std": self.cfg.algo.norm_std} if takes_std else {}), **self.cfg.algo.advantage_kwargs}

    def make_samples(self, step: int) -> list[Sample]:
        n = self.cfg.rollout.n_samples
        return [Sample(self.prompt_ids[t], group=g, task=t, seed=sample_seed(self.cfg.seed, step, g * n + j))
                for g, t in enumerate(self.sampler.indices(step)) for j in range(n)]

    def generation(self, step: int, t: dict) -> list[Sample]:
        """This step's samples, generated. Asynchronous (``trainer.async_steps: 1``): collect the
        generation started during the previous step (with the weights from before that step's update)
        and start the next one at once, so it runs while the learner trains on this one."""
        r = self.cfg.rollout
        args = (r.max_new_tokens, r.temperature, r.top_p)
        if not self.cfg.trainer.async_steps:
            samples = self.make_samples(step)
            with timed(t, "generate"):
                self.rollouts.generate(samples, *args)
            return samples
        if self.pending is None or self.pending.step != step:  # the run's first step
            self.pending = self.rollouts.start(self.make_samples(step), *args, step=step)
        current = self.pending
        with timed(t, "wait_generate"):
            t["time/generate_s"] = self.rollouts.finish(current)
        if current.window is not None:
            t["spans"].append(["generate", *current.window])
            t.update(overlap_metrics(current.window, self.last_train_span))
        if step < self.cfg.trainer.steps:
            self.pending = self.rollouts.start(self.make_samples(step + 1), *args, step=step + 1)
        return current.samples

    def rollout_batch(self, step: int, t: dict) -> tuple[list[Sample], dict | None]:
        """The on-policy half: generate, judge, advantages -> the learner's batch (none when w_rl = 0)."""
        cfg = self.cfg
        if cfg.algo.rl_weight == 0:
            return [], None
        samples = self.generation(step, t)
        with timed(t, "reward"):
            self.rewards.score(samples, self.tasks, self.prompt_texts)
        t["reward/infra_errors"] = check_infra(step, samples, cfg.reward.max_infra_error_share)
        stale = [step - 1 - s.weight_version for s in samples]  # updates the sampling weights lag behind
        t["async/staleness_mean"], t["async/staleness_max"] = sum(stale) / len(stale), max(stale)
        assign_advantages(samples, cfg.algo.advantage, self._advantage_kwargs())
        batch = build_batch([s.prompt_ids for s in samples], [s.response_ids or [self.tokenizer.eos_token_id] for s in samples],
                            [s.advantage for s in samples], self.pad_id, keep=[s.ok for s in samples],
                            behavior_logp=[s.logprobs for s in samples] if cfg.use_tis else None)
        return samples, batch

    def offpolicy_batch(self, step: int) -> list[dict] | None:
        """The off-policy half: this step's IR groups, one share per learner rank (``algo.offpolicy``)."""
        name = self.cfg.algo.offpolicy
        if name is None:
            return None
        return [{name: shard} for shard in self.groups.step_shards(step, self.cfg.learner.world_size)]

    def train_step(self, step: int) -> dict:
        cfg, t = self.cfg, {"spans": []}
        t_step = time.perf_counter()
        samples, batch = self.rollout_batch(step, t)
        offpolicy = self.offpolicy_batch(step)
        sleep = self.use_gpu and cfg.placement.mode == "colocate" and cfg.rollout.sleep_when_idle
        with timed(t, "train"):
            if sleep:  # colocated GPUs: vLLM frees its memory while the learner trains
                self.rollouts.sleep()
            out = self.learners.train(batch, offpolicy)
            if sleep:
                self.rollouts.wake_up()
        self.last_train_span = t["spans"][-1][1:]
        sync = self.sync_weights(step, t)
        with timed(t, "probe"):
            diff = self.probe.check(self.rollouts, self.learners) if self.probe is not None else 0.0
        m = {"step": step, **sample_metrics(samples, t.get("time/generate_s", 0.0)), **out,
             "logprob_diff_max": diff, **t, "sync_bytes": sync.get("bytes", 0), **self.rewards.stats(),
             **self.fault_metrics()}
        self.last_samples = sample_records(step, samples, self.tasks, cfg.trainer.log_samples)
        m["step_time_s"] = time.perf_counter() - t_step
        self.check_probe(diff, f"step {step}")
        return m

    def evaluate(self, step: int) -> dict:
        """Eval on the held-out tasks (the engines sample with the current weights, the reward pool
        judges) and on the held-out IR groups (the learner ranks score them against the reference)."""
        t: dict = {}
        with timed(t, "eval"):
            m = self._evaluate()
        return {**m, **t}

    def _evaluate(self) -> dict:
        from oorl.eval import groups as group_eval
        from oorl.eval.metrics import metrics_for_log
        from oorl.eval.run import eval_tasks, evaluate

        m: dict = {}
        if self.scorer is not None:
            if self._eval_tasks is None:
                self._eval_tasks = eval_tasks(self.cfg)
            result = evaluate(self.cfg, self._eval_tasks, self.scorer, self.rollouts, self.rewards, self.tokenizer,
                              self.cfg.trainer.eval_samples)
            judged = self.rewards.stats()  # eval's judge counters: kept apart from the next step's
            m.update({**metrics_for_log(result.metrics), "eval/judge/requests": judged.get("reward/judge/requests", 0.0),
                      "eval/judge/executed": judged.get("reward/judge/executed", 0.0)})
        if self.groups is not None and self.groups.heldout:
            t1 = time.perf_counter()
            per_group = self.learners.offpolicy_eval(self.groups.eval_shards(self.cfg.learner.world_size),
                                                     self.cfg.algo.gepo.beta)
            m.update(group_eval.metrics_for_log(group_eval.group_metrics(per_group)))
            m["time/eval_gepo_s"] = time.perf_counter() - t1
        return m

    # ------------------------------------------------------------------ checkpoints
    def save(self, step: int) -> Path:
        pending = self.pending if self.pending is not None and self.pending.step == step + 1 else None
        if pending is not None:  # generated for the next step, not trained yet: it goes in the checkpoint
            self.rollouts.finish(pending)
        return save_checkpoint(self.run_dir, step, self.cfg.seed, self.learners, self.model_dir,
                               self.cfg.trainer.keep_checkpoints, pending.samples if pending else None)

    # ------------------------------------------------------------------ the loop
    def run(self) -> Path:
        cfg = self.cfg
        self.start()
        log = MetricsLog(self.run_dir, cfg.trainer.steps, self.step + 1, cfg=cfg)
        log.truncate_after(self.step)
        if self.resume_from is not None:
            log.message(f"resumed from {self.resume_from} (step {self.step})")
        last = self.step
        try:
            if cfg.trainer.eval_before_train and self.step == 0:
                log.log({"step": 0, **self.evaluate(0)})  # the base model's point on the eval curve
            for step in range(self.step + 1, cfg.trainer.steps + 1):
                metrics = self.train_step(step)
                if cfg.trainer.eval_every and (step % cfg.trainer.eval_every == 0 or step == cfg.trainer.steps):
                    ev = self.evaluate(step)
                    metrics.update(ev, spans=metrics.get("spans", []) + ev["spans"])
                log.log(metrics)
                log.samples(self.last_samples)
                last = step
                stop = cfg.trainer.stop_after is not None and step >= cfg.trainer.stop_after
                if (cfg.trainer.save_every and step % cfg.trainer.save_every == 0) or step == cfg.trainer.steps or stop:
                    self.save(step)
                if stop:
                    log.message(f"stopping after step {step} (trainer.stop_after)")
                    break
        finally:
            log.close()
        return self.run_dir / "checkpoints" / f"step_{last}"
