"""Metric loggers beside ``metrics.jsonl``: TensorBoard (the default), Weights & Biases, MLflow.

``trainer.loggers`` lists them; ``trainer.logger_kwargs.<name>`` passes options to the library's own
entry point (``wandb.init`` keywords such as ``project``, ``entity``, ``mode``, ``group``, ``tags``;
MLflow's ``tracking_uri``, ``experiment_name``, ``run_name``, ``tags``; ``SummaryWriter`` keywords).
The libraries' environment variables work as their users expect (``WANDB_MODE=offline``,
``WANDB_API_KEY``, ``MLFLOW_TRACKING_URI``, ...). Every logger gets each step's finite numbers (the
same keys as metrics.jsonl), the resolved config once at the start, and is closed at the end with
the run's outcome. A logger is a class registered with :func:`register_logger`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any, Callable

from oorl.errors import UserError

LOGGERS: dict[str, Callable[..., "MetricLogger"]] = {}
PIP_NAMES = {"wandb": "wandb", "mlflow": "mlflow-skinny"}  # what `pip install oorl[loggers]` brings


def register_logger(name: str):
    def deco(cls):
        LOGGERS[name] = cls
        return cls
    return deco


class MetricLogger:
    """One backend. ``where()`` is the line the end-of-run summary prints for it (None: nothing)."""

    def log(self, metrics: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def close(self, failed: bool = False) -> None:
        pass

    def where(self) -> str | None:
        return None


def missing_package(name: str) -> str | None:
    """The one-line error for a listed logger whose package is not installed (None: it is, or needs none).
    Found without importing it, so the config check stays quick."""
    if name not in PIP_NAMES:
        return None
    present = sys.modules[name] is not None if name in sys.modules else importlib.util.find_spec(name) is not None
    if present:
        return None
    return (f"trainer.loggers lists {name}, but its package is not installed: `pip install 'oorl[loggers]'` "
            f"(or `pip install {PIP_NAMES[name]}`), or remove {name} from trainer.loggers")


def _import(name: str):
    """The logger's library, or a one-line error saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise UserError(missing_package(name) or f"trainer.loggers: {name} cannot be imported") from None


def make_loggers(names: list[str], run_dir: Path, config: dict, run_name: str,
                 kwargs: dict[str, dict[str, Any]] | None = None) -> list[MetricLogger]:
    """The listed loggers, started (each library's package is checked before any starts)."""
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise UserError(f"trainer.loggers: unknown logger {unknown[0]!r}; known: {', '.join(sorted(LOGGERS))}")
    for n in names:
        if n in PIP_NAMES:
            _import(n)
    return [LOGGERS[n](run_dir, config, run_name, dict((kwargs or {}).get(n, {}))) for n in names]


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


@register_logger("tensorboard")
class TensorBoardLogger(MetricLogger):
    """Event files in ``<run_dir>/tensorboard`` (``tensorboard --logdir``)."""

    def __init__(self, run_dir: Path, config: dict, run_name: str, kwargs: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.dir = run_dir / "tensorboard"
        self.writer = SummaryWriter(str(self.dir), **kwargs)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def close(self, failed: bool = False) -> None:
        self.writer.close()

    def where(self) -> str:
        return f"tensorboard --logdir {self.dir}"


@register_logger("wandb")
class WandbLogger(MetricLogger):
    """A W&B run (project ``oorl`` unless given; its files under ``<run_dir>/wandb``). A resumed run
    starts a new W&B run in the same group (the run directory's name)."""

    def __init__(self, run_dir: Path, config: dict, run_name: str, kwargs: dict) -> None:
        wandb = _import("wandb")
        # silent: the end-of-run summary prints where the run is; W&B's own lines would be console chatter
        opts = {"project": "oorl", "name": run_name, "group": run_name, "dir": str(run_dir), "config": config,
                "settings": wandb.Settings(silent=True), **kwargs}
        Path(opts["dir"]).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(**opts)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def close(self, failed: bool = False) -> None:
        import wandb

        self.run.finish(exit_code=1 if failed else 0)
        # finish() can return before W&B's service has written the run's file (seen offline: the
        # .wandb file still at its 7-byte header); teardown waits for the service to finish
        wandb.teardown()

    def where(self) -> str:
        if self.run.settings.mode == "offline" or getattr(self.run, "offline", False) or not self.run.url:
            return f"wandb: offline run in {Path(self.run.dir).parent} (upload: wandb sync {Path(self.run.dir).parent})"
        return f"wandb: {self.run.url}"


@register_logger("mlflow")
class MlflowLogger(MetricLogger):
    """An MLflow run in experiment ``oorl`` unless given (``experiment_name``), at ``tracking_uri`` or
    MLflow's own default (``MLFLOW_TRACKING_URI``). The config goes in as flattened params and as
    ``config.json``."""

    def __init__(self, run_dir: Path, config: dict, run_name: str, kwargs: dict) -> None:
        mlflow = _import("mlflow")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        known = {"tracking_uri", "experiment_name", "run_name", "tags"}
        extra = set(kwargs) - known
        if extra:
            raise UserError(f"trainer.logger_kwargs.mlflow: unknown option {sorted(extra)[0]!r}; known: {', '.join(sorted(known))}")
        self.uri = kwargs.get("tracking_uri") or mlflow.get_tracking_uri()
        name = kwargs.get("experiment_name", "oorl")
        tags = {"oorl.run_dir": str(run_dir), **{k: str(v) for k, v in (kwargs.get("tags") or {}).items()}}
        try:
            self.client = MlflowClient(self.uri)
            exp = self.client.get_experiment_by_name(name)
            self.experiment = exp.experiment_id if exp is not None else self.client.create_experiment(name)
            run = self.client.create_run(self.experiment, run_name=kwargs.get("run_name", run_name), tags=tags)
        except Exception as e:  # noqa: BLE001 - MLflow's store errors are long; the user needs the URI and the way out
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            raise UserError(f"trainer.loggers: MLflow cannot start a run at {self.uri} ({first}); set "
                            "trainer.logger_kwargs.mlflow.tracking_uri or MLFLOW_TRACKING_URI to an http(s):// "
                            "tracking server, or to file:<dir> with MLFLOW_ALLOW_FILE_STORE=true (the sqlite "
                            "default needs the full `mlflow` package)") from None
        self.run_id = run.info.run_id
        params = [Param(k, str(v)[:500]) for k, v in _flatten(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])
        self.client.log_dict(self.run_id, config, "config.json")

    @staticmethod
    def key(name: str) -> str:
        """MLflow's metric names allow letters, digits, ``_ - . / : `` and spaces: ``pass@1`` -> ``pass_at_1``."""
        name = name.replace("@", "_at_")
        return "".join(c if c.isalnum() or c in "_-./: " else "_" for c in name)

    def log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        items = [Metric(self.key(k), v, ts, step) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=items[i:i + 1000])

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")

    def where(self) -> str:
        return f"mlflow: run {self.run_id} at {self.uri} (mlflow ui --backend-store-uri {self.uri})"
