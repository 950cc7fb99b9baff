"""The ``oorl`` command line: train, eval, data, and the reward tools (sandbox, judge, doctor)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from oorl.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="OORL: RL for code LLMs in low-resource programming languages (Ray + vLLM + DeepSpeed).")


@app.command(context_settings={"allow_extra_args": False})
def train(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (see configs/)"),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="run directory (default runs/<name>)"),
    resume: bool = typer.Option(False, "--resume", help="continue from the latest checkpoint in the run directory"),
    overrides: Optional[list[str]] = typer.Argument(None, help="dotted overrides, e.g. learner.lr=1e-5"),
) -> None:
    """Train a policy with GRPO / REINFORCE++ (and GEPO) on Ray."""
    from oorl.config import load_config

    ov = list(overrides or [])
    if output_dir is not None:
        ov.append(f"output_dir={output_dir}")
    cfg = load_config(config, ov)
    from oorl.logs import route_driver_output
    from oorl.runlog import prepare_run_dir

    # before the heavy imports: what DeepSpeed, vLLM and transformers say on import goes to logs/
    route_driver_output(prepare_run_dir(cfg.run_dir()) / "logs", cfg.trainer.library_log_level)
    from oorl.trainer import Trainer

    trainer = Trainer(cfg, resume=resume)
    last = trainer.run()
    print(f"done: run directory {trainer.run_dir}; last checkpoint {last}")


@app.command("eval")
def eval_command(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config; its data.eval section is used"),
    model: str = typer.Option(..., "--model", "-m", help="model directory or checkpoints/step_N"),
    samples: int = typer.Option(1, "--samples", "-k", min=1, help="completions per task"),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="where eval.json/eval.md go"),
    overrides: Optional[list[str]] = typer.Argument(None),
) -> None:
    """Evaluate a model or checkpoint on the config's eval tasks (JSON + Markdown report)."""
    from oorl.config import load_config
    from oorl.eval.run import run_eval

    cfg = load_config(config, list(overrides or []))
    out = output_dir or (Path(model) / "eval" if Path(model).is_dir() else Path("runs") / "eval")
    metrics, paths = run_eval(cfg, model, samples, out)
    for k in sorted(metrics):
        if not k.startswith("eval/by_") and not k.startswith("eval/failures"):
            print(f"{k:40s} {metrics[k]:.4f}")
    print("report: " + ", ".join(str(p) for p in paths))


@app.command("compare")
def compare_command(
    before: Path = typer.Argument(..., help="an `oorl eval` output directory (or its eval_samples.jsonl)"),
    after: Path = typer.Argument(..., help="the same tasks evaluated on another model"),
    by: Optional[list[str]] = typer.Option(None, "--by", help="breakdown columns (default: language)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the comparison as JSON"),
) -> None:
    """Pair two evaluations of the same tasks: solved by both / only before / only after, the accuracy
    difference with a 95% interval and McNemar's exact p-value."""
    import json

    from oorl.eval.compare import compare, to_markdown

    result = compare(before, after, tuple(by or ("language",)))
    print(to_markdown(result), end="")
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n")


data_app = typer.Typer(no_args_is_help=True, help="Datasets: show a config's tasks; build translated tests and IR groups.")
app.add_typer(data_app, name="data")


@data_app.command("show")
def data_show(
    config: Optional[Path] = typer.Option(None, "--config", "-c"),
    split: str = typer.Option("train", help="train or eval"),
    show: int = typer.Option(3, help="tasks to print"),
    overrides: Optional[list[str]] = typer.Argument(None),
) -> None:
    """Load the config's dataset and show a few tasks (checks data files and formats)."""
    import json

    from oorl.config import load_config
    from oorl.data.registry import load_tasks

    cfg = load_config(config, list(overrides or []))
    d = cfg.data.train if split == "train" else cfg.data.eval
    if d is None:
        raise UserError(f"the config has no data.{split} section")
    tasks = load_tasks(d.name, d.path, d.format, d.split, d.limit, **d.kwargs)
    print(f"{len(tasks)} tasks")
    for t in tasks[:show]:
        print(json.dumps(t, default=str)[:2000])


def _mount_optional() -> None:
    """Commands whose modules live elsewhere in the package."""
    try:
        from oorl.reward import cli as reward_cli
    except ImportError:
        return
    app.add_typer(reward_cli.sandbox_app, name="sandbox")
    app.command("judge")(reward_cli.judge_command)
    app.command("doctor")(reward_cli.doctor_command)
    from oorl.data.ir_groups.cli import ir_groups_command, mini_cpp_command
    from oorl.data.translate_cli import translate_tests_command

    data_app.command("translate-tests")(translate_tests_command)
    data_app.command("ir-groups")(ir_groups_command)
    data_app.command("mini-cpp")(mini_cpp_command)


def _unwrap(e: BaseException) -> BaseException:
    from oorl.errors import TrainingError

    cause = getattr(e, "cause", None)  # ray.exceptions.RayTaskError / RayActorError
    return cause if isinstance(cause, (UserError, TrainingError)) else e


def main() -> None:
    _mount_optional()
    try:
        app()
    except Exception as e:  # noqa: BLE001 - user errors become one line, exit 2
        err = _unwrap(e)
        if isinstance(err, UserError):
            print(f"oorl: error: {err}", file=sys.stderr)
            sys.exit(2)
        from oorl.errors import TrainingError

        from oorl.logs import log_dir

        if log_dir() is not None:  # an actor's own account of a failure is in its log file
            print(f"oorl: the output of each actor (vLLM, Ray, DeepSpeed) is in {log_dir()}/", file=sys.stderr)
        if isinstance(err, TrainingError):
            print(f"oorl: training stopped: {err}", file=sys.stderr)
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
