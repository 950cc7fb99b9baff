"""The driver loop: prompts -> rollouts -> rewards -> advantages -> update -> weight sync -> probe."""

from __future__ import annotations

import inspect
import json
import random
import shutil
import time
from pathlib import Path

import ray
import torch

from oorl.algo.advantages import ADV_ESTIMATORS, compute_advantages
from oorl.config import Config, save_config
from oorl.data.registry import load_tasks
from oorl.learner.batch import build_batch, shard
from oorl.models import check_context, resolve_model
from oorl.placement import connect, create_roles
from oorl.plots import plot_run
from oorl.runlog import MetricsLog, prepare_run_dir


class TrainingError(RuntimeError):
    """A run that must stop (e.g. the rollout engine and the learner disagree)."""


class PromptSampler:
    """Deterministic prompt order: a fresh seeded permutation per epoch; step k's prompts depend only
    on (seed, k), so a resumed run sees exactly what an uninterrupted one would."""

    def __init__(self, n: int, per_step: int, seed: int) -> None:
        self.n, self.per_step, self.seed = n, per_step, seed

    def indices(self, step: int) -> list[int]:
        out = []
        start = (step - 1) * self.per_step
        for pos in range(start, start + self.per_step):
            epoch, i = divmod(pos, self.n)
            perm = list(range(self.n))
            random.Random(f"{self.seed}-epoch-{epoch}").shuffle(perm)
            out.append(perm[i])
        return out


def sample_seed(seed: int, step: int, index: int) -> int:
    return random.Random(f"{seed}-{step}-{index}").getrandbits(31)


def encode_prompt(tokenizer, messages, max_tokens: int) -> list[int]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[-max_tokens:]


def latest_checkpoint(run_dir: Path) -> Path | None:
    done = [p for p in (run_dir / "checkpoints").glob("step_*") if (p / "trainer_state.json").exists()]
    return max(done, key=lambda p: int(p.name.split("_")[1]), default=None)


class Trainer:
    def __init__(self, cfg: Config, resume: bool = False) -> None:
        from transformers import AutoTokenizer

        from oorl.reward.functions import resolve_reward

        self.cfg = cfg
        for spec in cfg.reward.functions:  # fail before any actor starts
            resolve_reward(spec.name)
        compute_advantages(cfg.algo.advantage, torch.zeros(2), torch.zeros(2, dtype=torch.long),
                           **self._advantage_kwargs())  # an unknown name or keyword fails here
        self.run_dir = prepare_run_dir(cfg.run_dir())
        self.resume_from = latest_checkpoint(self.run_dir) if resume else None
        save_config(cfg, self.run_dir / "config.yaml")
        self.model_dir = resolve_model(cfg.model.path, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
        check_context(self.model_dir, cfg.rollout.max_prompt_tokens, cfg.rollout.max_new_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        d = cfg.data.train
        self.tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
        self.prompt_ids = [encode_prompt(self.tokenizer, t["prompt"], cfg.rollout.max_prompt_tokens) for t in self.tasks]
        self.sampler = PromptSampler(len(self.tasks), cfg.rollout.prompts_per_step, cfg.seed)

    # ------------------------------------------------------------------ setup
    def start(self) -> None:
        cfg = self.cfg
        connect(cfg)
        self.roles = create_roles(cfg, self.model_dir)
        r = self.roles
        ray.get([l.ping.remote() for l in r.learners])
        from oorl.rollout.weight_sync import resolve_backend

        backend = resolve_backend(cfg.weight_sync.backend, cfg.placement.mode, r.use_gpu)
        tp = cfg.rollout.tensor_parallel_size
        ray.get([l.init_weight_sync.remote(r.rollouts, backend, int(cfg.weight_sync.bucket_mb * 2**20), cfg.model.dtype,
                                           r.master_addr, r.master_port + 1, 1 + cfg.rollout.num_engines * tp)
                 for l in r.learners])
        self.step = 0
        if self.resume_from is not None:
            ray.get([l.load_checkpoint.remote(str(self.resume_from)) for l in r.learners])
            self.step = json.loads((self.resume_from / "trainer_state.json").read_text())["step"]
        self.probe = self._probe_batch()
        if self.resume_from is not None:  # the engines start from model_dir: bring them to the checkpoint
            self._sync()

    def _probe_batch(self) -> dict | None:
        """Fixed sequences (probe prompts + greedy completions of the initial policy), kept in the run dir."""
        n = self.cfg.weight_sync.probe_size
        if n == 0:
            return None
        path = self.run_dir / "probe.json"
        if path.exists():
            probe = json.loads(path.read_text())
        else:
            prompts = self.prompt_ids[:n]
            # one token short of the longest rollout: scoring a sequence's prompt logprobs asks the
            # engine for one more token, and the engine's context is max_prompt + max_new tokens
            out = ray.get(self.roles.rollouts[0].generate.remote(prompts, [0] * len(prompts),
                                                                 max(1, self.cfg.rollout.max_new_tokens - 1), 0.0, 1.0))
            probe = {"prompts": prompts, "responses": [row["token_ids"] or [self.tokenizer.eos_token_id]
                                                       for row in out["rows"]]}
            path.write_text(json.dumps(probe))
        return probe

    # ------------------------------------------------------------------ one step
    def _advantage_kwargs(self) -> dict:
        """``algo.norm_std`` for the estimators that take it, plus ``algo.advantage_kwargs``."""
        est = ADV_ESTIMATORS.get(self.cfg.algo.advantage)
        takes_std = est is not None and "norm_std" in inspect.signature(est).parameters
        return {**({"norm_std": self.cfg.algo.norm_std} if takes_std else {}), **self.cfg.algo.advantage_kwargs}

    def _generate(self, step: int, idx: list[int]) -> tuple[list, list, float]:
        cfg = self.cfg
        n = cfg.rollout.n_samples
        prompts = [self.prompt_ids[i] for i in idx for _ in range(n)]
        seeds = [sample_seed(cfg.seed, step, j) for j in range(len(prompts))]
        rows, t = self._fan_out(prompts, seeds, cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.rollout.top_p)
        return prompts, rows, t

    def _fan_out(self, prompts, seeds, max_new, temperature, top_p) -> tuple[list[dict], float]:
        """Spread requests round-robin over the engines; rows come back in request order."""
        engines = self.roles.rollouts
        k = len(engines)
        outs = ray.get([e.generate.remote(prompts[i::k], seeds[i::k], max_new, temperature, top_p)
                        for i, e in enumerate(engines)])
        rows = [None] * len(prompts)
        for i, out in enumerate(outs):
            rows[i::k] = out["rows"]
        return rows, max(o["time_s"] for o in outs)

    def _score(self, idx: list[int], rows: list[dict]) -> dict:
        cfg, r = self.cfg, self.roles
        n = cfg.rollout.n_samples
        tasks = [self.tasks[i] for i in idx for _ in range(n)]
        prompts = [self.tokenizer.decode(self.prompt_ids[i]) for i in idx for _ in range(n)]
        completions = [row["text"] for row in rows]
        cols = sorted({k for t in tasks for k in t if k not in ("id", "prompt")})
        k = len(r.rewards)
        parts = []
        for w in range(k):
            sl = slice(w, None, k)
            columns = {c: [t.get(c) for t in tasks[sl]] for c in cols}
            parts.append(r.rewards[w].score.remote(prompts[sl], completions[sl], columns))
        outs = ray.get(parts)
        rewards = [0.0] * len(rows)
        per_fn: dict[str, list[float]] = {}
        for w, out in enumerate(outs):
            rewards[w::k] = out["rewards"]
            for name, vals in out["per_function"].items():
                per_fn.setdefault(name, [0.0] * len(rows))[w::k] = vals
        return {"rewards": rewards, "per_function": per_fn}

    def _sync(self) -> dict:
        outs = ray.get([l.sync_weights.remote() for l in self.roles.learners])
        return outs[0]

    def _check_probe(self) -> float:
        if self.probe is None:
            return 0.0
        p = self.probe
        seqs = [a + b for a, b in zip(p["prompts"], p["responses"])]
        starts = [len(a) for a in p["prompts"]]
        engine_rows = ray.get([e.prompt_logprobs.remote(seqs, starts) for e in self.roles.rollouts])
        batch = build_batch(p["prompts"], p["responses"], [0.0] * len(seqs), self.tokenizer.pad_token_id or 0)
        learner_rows = ray.get([l.logprobs.remote(batch) for l in self.roles.learners])[0]
        diff = 0.0
        for rows in engine_rows:
            for a, b in zip(rows, learner_rows):
                diff = max(diff, max((abs(x - y) for x, y in zip(a, b)), default=0.0))
        return diff

    def train_step(self, step: int) -> dict:
        cfg, r = self.cfg, self.roles
        t_step = time.perf_counter()
        idx = self.sampler.indices(step)
        t0 = time.perf_counter()
        prompts, rows, _ = self._generate(step, idx)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        scored = self._score(idx, rows)
        t_reward = time.perf_counter() - t0
        rewards = torch.tensor(scored["rewards"], dtype=torch.float32)
        group_ids = torch.arange(len(idx)).repeat_interleave(cfg.rollout.n_samples)
        adv = compute_advantages(cfg.algo.advantage, rewards, group_ids, **self._advantage_kwargs())
        responses = [row["token_ids"] or [self.tokenizer.eos_token_id] for row in rows]
        batch = build_batch(prompts, responses, adv.tolist(), self.tokenizer.pad_token_id or 0)
        t0 = time.perf_counter()
        sleep = r.use_gpu and cfg.placement.mode == "colocate" and cfg.rollout.sleep_when_idle
        if sleep:  # colocated GPUs: vLLM frees its memory while the learner trains
            ray.get([e.sleep.remote() for e in r.rollouts])
        outs = ray.get([l.train_step.remote(s) for l, s in zip(r.learners, shard(batch, len(r.learners)))])
        if sleep:
            ray.get([e.wake_up.remote() for e in r.rollouts])
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        sync = self._sync()
        t_sync = time.perf_counter() - t0
        t0 = time.perf_counter()
        diff = self._check_probe()
        t_probe = time.perf_counter() - t0
        lens = [len(row["token_ids"]) for row in rows]
        updates = outs[0]["updates"]
        m = {
            "step": step,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std(unbiased=False)),
            "loss": sum(o["loss"] for o in outs) / updates,
            "pg_loss": sum(o["pg_loss"] for o in outs) / updates,
            "kl": sum(o.get("kl", 0.0) for o in outs) / len(outs),
            "logprob_diff_max": diff,
            "response_len_mean": sum(lens) / len(lens),
            "gen_tokens_per_s": sum(lens) / max(t_gen, 1e-9),
            "clipfrac": sum(o["clipfrac"] for o in outs) / len(outs),
            "grad_norm": outs[0]["grad_norm"],
            "lr": outs[0]["lr"],
            "adv_abs_mean": float(adv.abs().mean()),
            "time/generate_s": t_gen, "time/reward_s": t_reward, "time/train_s": t_train,
            "time/sync_s": t_sync, "time/probe_s": t_probe,
            "sync_bytes": sync.get("bytes", 0),
        }
        for name, vals in scored["per_function"].items():
            m[f"reward/{name}"] = sum(vals) / len(vals)
        self.last_samples = self._sample_records(step, idx, rows, rewards, adv, scored["per_function"])
        m["step_time_s"] = time.perf_counter() - t_step
        if diff > cfg.weight_sync.logprob_tolerance:
            raise TrainingError(
                f"step {step}: the rollout engine's logprobs differ from the learner's by {diff:.3g} "
                f"(> weight_sync.logprob_tolerance={cfg.weight_sync.logprob_tolerance}); the weight sync or the "
                "engine's numerics are off (dtype, kernels); see metrics.jsonl")
        return m

    def evaluate(self, step: int) -> dict:
        """Eval on the held-out tasks with the rollout engines (current weights)."""
        from oorl.eval import eval_tasks, sample, score

        if not hasattr(self, "_eval_tasks"):
            self._eval_tasks = eval_tasks(self.cfg)

        def generate(prompts, seeds, max_new, temperature, top_p):
            return self._fan_out(prompts, seeds, max_new, temperature, top_p)[0]

        t0 = time.perf_counter()
        completions = sample(generate, self.tokenizer, self.cfg, self._eval_tasks, self.cfg.trainer.eval_samples)
        metrics, _ = score(self.cfg, self._eval_tasks, completions)
        metrics["time/eval_s"] = time.perf_counter() - t0
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def save(self, step: int) -> Path:
        ckpt = self.run_dir / "checkpoints" / f"step_{step}"
        if ckpt.exists():
            shutil.rmtree(ckpt)
        ckpt.mkdir(parents=True)
        ray.get([l.save_checkpoint.remote(str(ckpt), self.model_dir) for l in self.roles.learners])
        (ckpt / "trainer_state.json").write_text(json.dumps({"step": step, "seed": self.cfg.seed}))
        done = sorted((p for p in (self.run_dir / "checkpoints").glob("step_*") if (p / "trainer_state.json").exists()),
                      key=lambda p: int(p.name.split("_")[1]))
        for old in done[: -self.cfg.trainer.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return ckpt

    def _sample_records(self, step: int, idx: list[int], rows: list[dict], rewards, adv, per_fn: dict) -> list[dict]:
        """``trainer.log_samples`` completions of this step, spread over its prompts, for samples.jsonl."""
        k = min(self.cfg.trainer.log_samples, len(rows))
        n = self.cfg.rollout.n_samples
        out = []
        for j in range(k):
            i = j * len(rows) // k
            task = self.tasks[idx[i // n]]
            prompt = task.get("prompt")
            if isinstance(prompt, list):  # chat messages: the last user turn is the question
                prompt = next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")
            out.append({"step": step, "task_id": task.get("id"), "prompt": prompt, "completion": rows[i]["text"],
                        "reward": float(rewards[i]), "advantage": float(adv[i]),
                        "rewards": {name: vals[i] for name, vals in per_fn.items()}})
        return out

    # ------------------------------------------------------------------ the loop
    def run(self) -> Path:
        cfg = self.cfg
        self.start()
        log = MetricsLog(self.run_dir, cfg.trainer.steps, self.step + 1)
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
                    metrics.update(self.evaluate(step))
                log.log(metrics)
                log.samples(self.last_samples)
                plot_run(self.run_dir)
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
