"""Where a run writes: metrics.jsonl, TensorBoard events, and what the terminal shows."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from oorl.errors import UserError


def prepare_run_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"output directory {str(path)!r} cannot be written ({e.strerror}); "
                        "pass --output-dir to a writable place") from None
    return path


class MetricsLog:
    """One JSON object per step in ``metrics.jsonl``, mirrored to TensorBoard and the terminal."""

    def __init__(self, run_dir: Path, total_steps: int, first_step: int = 1) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = run_dir / "metrics.jsonl"
        self.samples_path = run_dir / "samples.jsonl"
        self.tb = SummaryWriter(str(run_dir / "tensorboard"))
        self.total = total_steps
        self.tty = sys.stdout.isatty()
        self.progress = None
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.description}"))
            self.task = self.progress.add_task("starting", total=total_steps, completed=first_step - 1)
            self.progress.start()

    def truncate_after(self, step: int) -> None:
        """On resume, drop lines logged after the checkpoint we resume from."""
        for path in (self.path, self.samples_path):
            if path.exists():
                keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
                path.write_text("".join(ln + "\n" for ln in keep))

    def samples(self, records: list[dict]) -> None:
        """Append rollout samples (one JSON object each, with their ``step``) to ``samples.jsonl``."""
        if records:
            with self.samples_path.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)

    def log(self, metrics: dict) -> None:
        step = metrics["step"]
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
        for k, v in metrics.items():
            if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                self.tb.add_scalar(k, v, step)
        self.tb.flush()
        acc = metrics.get("eval/reward_mean", metrics.get("eval/accuracy"))
        ev = f"  eval {acc:.3f}" if isinstance(acc, (int, float)) else ""
        if isinstance(metrics.get("eval/gepo/accuracy"), (int, float)):
            ev += f"  IR-groups eval {metrics['eval/gepo/accuracy']:.3f} (margin {metrics['eval/gepo/margin']:+.3f})"
        if "step_time_s" not in metrics:  # an eval-only row (before training)
            self.message(f"step {step}:{ev or '  eval done'}")
            return
        onpolicy = (f"  reward {metrics['reward_mean']:.3f}" if "reward_mean" in metrics else "")
        offpolicy = "".join(f"  {name} {metrics[f'{name}/loss']:.4f} acc {metrics.get(f'{name}/accuracy', 0):.2f}"
                            for name in ("gepo", "dpo") if f"{name}/loss" in metrics)
        gen = f"  {metrics['gen_tokens_per_s']:.0f} tok/s" if "gen_tokens_per_s" in metrics else ""
        line = (f"step {step}/{self.total}{onpolicy}{offpolicy}  loss {metrics.get('loss', 0):+.4f}"
                f"  logp_diff {metrics.get('logprob_diff_max', 0):.2e}{gen}  {metrics.get('step_time_s', 0):.1f}s{ev}")
        if self.progress is not None:
            self.progress.update(self.task, completed=step, description=line)
        else:
            print(line, flush=True)

    def message(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.tb.close()
