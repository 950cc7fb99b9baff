"""Checkpoints in a run directory: ``checkpoints/step_N/`` with the learner ranks' DeepSpeed state, the
Hugging Face weights and tokenizer (rank 0), ``trainer_state.json`` and, for an asynchronous run,
the samples already generated for the next step.

A checkpoint is written under ``.step_N.partial`` and renamed when complete: a run killed while
saving leaves its previous checkpoints intact and no half-written ``step_N`` for ``--resume``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from oorl.types import Sample

# what a generated sample carries into the next step (kept in an asynchronous run's checkpoint)
PENDING_FIELDS = ("response_ids", "logprobs", "text", "finish_reason", "weight_version", "engine")


def latest_checkpoint(run_dir: Path) -> Path | None:
    done = [p for p in (run_dir / "checkpoints").glob("step_*") if (p / "trainer_state.json").exists()]
    return max(done, key=lambda p: int(p.name.split("_")[1]), default=None)


def save_checkpoint(run_dir: Path, step: int, seed: int, learners, model_dir: str, keep: int,
                    pending: list[Sample] | None = None) -> Path:
    """``learners`` (a LearnerGroup) write their state; ``pending``: the next step's generated samples;
    only the last ``keep`` complete checkpoints stay."""
    ckpt = run_dir / "checkpoints" / f"step_{step}"
    partial = ckpt.with_name(f".{ckpt.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    learners.save(str(partial), model_dir)
    if pending is not None:
        (partial / "pending_samples.json").write_text(json.dumps([{k: getattr(x, k) for k in PENDING_FIELDS}
                                                                  for x in pending]))
    (partial / "trainer_state.json").write_text(json.dumps({"step": step, "seed": seed}))
    if ckpt.exists():  # saved again (a resumed run's last step): the new one replaces it
        old = ckpt.with_name(f".{ckpt.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        ckpt.rename(old)
        partial.rename(ckpt)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(ckpt)
    done = sorted((p for p in (run_dir / "checkpoints").glob("step_*") if (p / "trainer_state.json").exists()),
                  key=lambda p: int(p.name.split("_")[1]))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return ckpt


def load_pending(ckpt: Path, samples: list[Sample]) -> bool:
    """Fill ``samples`` (the next step's, as the trainer makes them) with the responses kept in
    ``ckpt``; False when it kept none."""
    path = ckpt / "pending_samples.json"
    if not path.exists():
        return False
    for x, row in zip(samples, json.loads(path.read_text()), strict=True):
        for k in PENDING_FIELDS:
            setattr(x, k, row[k])
    return True
