"""Where a run writes: metrics.jsonl, timeline.jsonl, the plots, the metric loggers, and what the terminal shows."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from oorl.errors import UserError
from oorl.plots import TIMELINE_FILE, plot_run, plot_timeline


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


PHASE_ABBREV = {"generate": "gen", "wait_generate": "wait"}


def phase_split(spans: list) -> dict[str, float]:
    """Seconds per phase of a step's spans (``[name, start, end]`` or ``{"phase", "start", "end"}``), in order."""
    out: dict[str, float] = {}
    for span in spans or []:
        name, start, end = phase_span(span)
        out[name] = out.get(name, 0.0) + (end - start)
    return out


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class MetricsLog:
    """One JSON object per step in ``metrics.jsonl`` (the step's phase spans go to ``timeline.jsonl``
    and ``timeline.png``), mirrored to the configured loggers (``trainer.loggers``: TensorBoard by
    default, W&B, MLflow) and to the terminal: a progress bar with ETA on a TTY, else one line per step
    (as in a Ray job's log) with the phase split. The PNGs (``training_curves.png``, ``timeline.png``)
    are redrawn after the first training step, then at most every ``trainer.plot_every_s`` seconds, after each
    eval and at the end. ``close`` prints where the run's outputs are."""

    def __init__(self, run_dir: Path, total_steps: int, first_step: int = 1, cfg=None) -> None:
        from oorl.loggers import make_loggers

        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self.samples_path = run_dir / "samples.jsonl"
        self.timeline_path = run_dir / TIMELINE_FILE
        from oorl.config import TrainerConfig

        t = cfg.trainer if cfg is not None else TrainerConfig()  # no config: the default loggers
        self.loggers = make_loggers(t.loggers, run_dir, cfg.model_dump(mode="json") if cfg is not None else {},
                                    run_dir.name, t.logger_kwargs)
        self.total = total_steps
        self.first = first_step
        self.started = time.monotonic()
        self.done = 0  # steps logged by this process (for the ETA)
        self.last_step = first_step - 1
        self.plot_every_s = t.plot_every_s
        self.plotted = None  # time.monotonic() of the last redraw; None: nothing drawn yet
        self.unplotted = False  # rows logged (or dropped on resume) since the last redraw
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
        for path in (self.path, self.samples_path, self.timeline_path):
            if path.exists():
                lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
                keep = [ln for ln in lines if json.loads(ln)["step"] <= step]
                path.write_text("".join(ln + "\n" for ln in keep))
                self.unplotted |= len(keep) < len(lines)  # the plots still show the dropped steps

    def samples(self, records: list[dict]) -> None:
        """Append rollout samples (one JSON object each, with their ``step``) to ``samples.jsonl``."""
        if records:
            with self.samples_path.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)

    def log(self, metrics: dict) -> None:
        metrics = dict(metrics)
        spans = metrics.pop("spans", None) or []
        step = metrics["step"]
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
        if spans:
            row = {"step": step, "spans": [{"phase": n, "start": a, "end": b} for n, a, b in
                                           (phase_span(sp) for sp in spans)]}
            with self.timeline_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        self.unplotted = True
        first_training = "step_time_s" in metrics and self.done == 0  # an eval-only step 0 may come first
        if (self.plotted is None or first_training or any(k.startswith("eval/") for k in metrics)
                or time.monotonic() - self.plotted >= self.plot_every_s):
            self.plot()
        numbers = {k: float(v) for k, v in metrics.items() if k != "step" and isinstance(v, (int, float))
                   and not isinstance(v, bool) and math.isfinite(v)}
        for lg in self.loggers:
            lg.log(numbers, step)
        self._console(metrics, spans)

    def plot(self) -> None:
        """Redraw ``training_curves.png`` and ``timeline.png`` from the logs; a failure warns (it must
        neither stop the run nor hide its outcome)."""
        try:
            plot_run(self.run_dir)
            plot_timeline(self.run_dir)
        except Exception as e:  # noqa: BLE001
            print(f"oorl: drawing the run's plots failed: {e}", file=sys.stderr)
        self.plotted, self.unplotted = time.monotonic(), False

    def _console(self, metrics: dict, spans: list) -> None:
        step = metrics["step"]
        split = phase_split(spans)
        phases = " ".join(f"{PHASE_ABBREV.get(k, k)} {v:.1f}" for k, v in split.items())
        acc = metrics.get("eval/reward_mean", metrics.get("eval/accuracy"))
        ev = f"  eval {acc:.3f}" if isinstance(acc, (int, float)) else ""
        if isinstance(metrics.get("eval/gepo/accuracy"), (int, float)):
            ev += f"  IR-groups eval {metrics['eval/gepo/accuracy']:.3f} (margin {metrics['eval/gepo/margin']:+.3f})"
        if "step_time_s" not in metrics:  # an eval-only row (before training)
            took = f"  {sum(split.values()):.1f}s ({phases})" if phases else ""
            self.message(f"step {step}:{ev or '  eval done'}{took}")
            return
        self.done += 1
        self.last_step = step
        onpolicy = (f"  reward {metrics['reward_mean']:.3f}" if "reward_mean" in metrics else "")
        offpolicy = "".join(f"  {name} {metrics[f'{name}/loss']:.4f} acc {metrics.get(f'{name}/accuracy', 0):.2f}"
                            for name in ("gepo", "dpo") if f"{name}/loss" in metrics)
        gen = f"  {metrics['gen_tokens_per_s']:.0f} tok/s" if "gen_tokens_per_s" in metrics else ""
        keys = (f"{onpolicy}{offpolicy}  loss {metrics.get('loss', 0):+.4f}"
                f"  logp_diff {metrics.get('logprob_diff_max', 0):.1e}{gen}")
        took = f"  {metrics.get('step_time_s', 0):.1f}s" + (f" ({phases})" if phases else "")
        if self.progress is not None:  # the bar shows the ETA; eval results stay above it
            self.progress.update(self.task, completed=step, description=(keys + took).strip())
            if ev:
                self.message(f"step {step}:{ev}")
            return
        left = self.total - step
        eta = f"  ETA {_duration((time.monotonic() - self.started) / self.done * left)}" if left > 0 else ""
        print(f"step {step}/{self.total}{keys}{took}{ev}{eta}", flush=True)

    def message(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, highlight=False)
        else:
            print(text, flush=True)

    def where_to_look(self, head: str = "") -> list[str]:
        """Lines saying where the run's outputs are (those that exist), the first one starting with ``head``."""
        run = self.run_dir
        rows = [("metrics.jsonl", "per-step metrics" + (", curves in training_curves.png"
                                                        if (run / "training_curves.png").exists() else "")),
                ("timeline.png", "phases of each role per step (data: timeline.jsonl)"),
                ("samples.jsonl", "completions with their rewards"),
                ("logs", "vLLM, Ray and DeepSpeed output of each actor"),
                ("checkpoints", "Hugging Face checkpoints")]
        lines = [f"{head}run directory {run}:"]
        lines += [f"  {name + ('/' if (run / name).is_dir() else ''):16s}{what}" for name, what in rows
                  if (run / name).exists()]
        lines += [f"  {w}" for w in (lg.where() for lg in self.loggers) if w]
        return lines

    def close(self) -> None:
        """Stop the bar, close the loggers (a run ending on an exception is marked failed) and say where to look."""
        failed = sys.exc_info()[0] is not None
        if self.progress is not None:
            self.progress.stop()
        if self.unplotted:
            self.plot()
        for lg in self.loggers:
            try:
                lg.close(failed=failed)
            except Exception as e:  # noqa: BLE001 - a logger failing to close must not hide the run's outcome
                print(f"oorl: closing the {type(lg).__name__} failed: {e}", file=sys.stderr)
        took = _duration(time.monotonic() - self.started)
        head = (f"stopped after step {self.last_step} ({took})" if failed
                else f"{self.done} step{'s' if self.done != 1 else ''} in {took}")
        print("\n".join(self.where_to_look(head + "; ")), flush=True)


def phase_span(span) -> tuple[str, float, float]:
    """``(name, start, end)`` of a span given as a list or as ``{"phase", "start", "end"}``."""
    if isinstance(span, dict):
        return span["phase"], span["start"], span["end"]
    name, start, end = span
    return name, start, end
