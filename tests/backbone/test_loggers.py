"""trainer.loggers: TensorBoard, Weights & Biases (offline) and MLflow (file store) get each step's metrics;
the console policy that keeps library chatter off the terminal."""

import glob
import json
import logging
import struct
import sys

import pytest

from oorl.config import load_config
from oorl.errors import UserError
from oorl.logs import ClusterMessagesOnce, ConsoleFilter
from oorl.runlog import MetricsLog
from tests.conftest import run_oorl

STEPS = [{"step": 1, "reward_mean": 0.25, "loss": 0.5, "eval/pass@1": 0.1, "spans": [["train", 1.0, 2.0]]},
         {"step": 2, "reward_mean": 0.75, "loss": float("nan"), "eval/pass@1": 0.3, "note": "text"}]


def _run(tmp_path, loggers, kwargs=None):
    overrides = [f"trainer.loggers=[{','.join(loggers)}]", f"output_dir={tmp_path / 'run'}"]
    if kwargs:
        overrides.append(f"trainer.logger_kwargs={json.dumps(kwargs)}")
    cfg = load_config("configs/smoke-cpu.yaml", overrides)
    run = tmp_path / "run"
    run.mkdir()
    log = MetricsLog(run, 2, cfg=cfg)
    try:
        for m in STEPS:
            log.log(m)
    finally:
        log.close()
    return run, log


def test_tensorboard_is_the_default(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config("configs/smoke-cpu.yaml", [])
    assert cfg.trainer.loggers == ["tensorboard"]
    run, _ = _run(tmp_path, cfg.trainer.loggers)
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("reward_mean")] == [(1, 0.25), (2, 0.75)]
    assert [e.step for e in acc.Scalars("loss")] == [1]  # NaN is not logged
    assert "spans" not in acc.Tags()["scalars"] and "note" not in acc.Tags()["scalars"]


def _wandb_history(path: str) -> list[dict]:
    """History rows of a W&B ``.wandb`` file: a LevelDB-style log (7-byte header, 32 KiB blocks of
    checksum/length/type records) of protobuf ``Record`` messages."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, part, records = 7, b"", []
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            part = chunk
        elif kind == 3:
            part += chunk
        elif kind == 4:
            records.append(part + chunk)
    rows = []
    for raw in records:
        rec = pb.Record()
        rec.ParseFromString(raw)
        if rec.WhichOneof("record_type") == "history":
            rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item})
    return rows


def test_wandb_offline_run_gets_the_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))  # nothing outside tmp
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    run, _ = _run(tmp_path, ["tensorboard", "wandb"], {"wandb": {"project": "oorl-test", "tags": ["ci"]}})
    files = glob.glob(str(run / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1
    rows = _wandb_history(files[0])
    assert [(r["_step"], r["reward_mean"]) for r in rows] == [(1, 0.25), (2, 0.75)]
    assert rows[0]["loss"] == 0.5 and "loss" not in rows[1] and rows[1]["eval/pass@1"] == 0.3
    out = capsys.readouterr().out
    assert "wandb: offline run in" in out and "wandb sync" in out
    assert "Run history" not in out  # W&B's own summary stays off the console


def test_mlflow_file_store_gets_the_metrics(tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    uri = f"file:{tmp_path / 'mlruns'}"
    run, log = _run(tmp_path, ["mlflow"], {"mlflow": {"tracking_uri": uri, "experiment_name": "oorl-test"}})
    client = MlflowClient(uri)
    (mlrun,) = client.search_runs([client.get_experiment_by_name("oorl-test").experiment_id])
    assert mlrun.info.status == "FINISHED" and mlrun.info.run_name == "run"
    assert mlrun.data.params["trainer.loggers"] == "['mlflow']" and mlrun.data.params["learner.zero_stage"] == "3"
    rid = mlrun.info.run_id
    assert [(m.step, m.value) for m in client.get_metric_history(rid, "reward_mean")] == [(1, 0.25), (2, 0.75)]
    assert [(m.step, m.value) for m in client.get_metric_history(rid, "eval/pass_at_1")] == [(1, 0.1), (2, 0.3)]
    assert [m.step for m in client.get_metric_history(rid, "loss")] == [1]
    assert not (run / "tensorboard").exists()  # only the listed loggers
    assert f"mlflow: run {rid} at {uri}" in capsys.readouterr().out


def test_mlflow_store_that_cannot_open_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses the file store then
    uri = f"file:{tmp_path / 'mlruns'}"
    with pytest.raises(UserError, match=rf"MLflow cannot start a run at {uri} \(.*filesystem tracking backend.*\); "
                                        r"set trainer.logger_kwargs.mlflow.tracking_uri"):
        _run(tmp_path, ["mlflow"], {"mlflow": {"tracking_uri": uri}})


def test_a_missing_logger_package_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # what Python does for a package that is not installed
    message = r"trainer.loggers lists wandb, but its package is not installed: `pip install 'oorl\[loggers\]'`"
    with pytest.raises(UserError, match=r"config field 'trainer.loggers'.*" + message):  # when the config loads
        load_config("configs/smoke-cpu.yaml", ["trainer.loggers=[tensorboard,wandb]"])
    from oorl.loggers import make_loggers

    with pytest.raises(UserError, match=message):  # and where the loggers start
        make_loggers(["tensorboard", "wandb"], tmp_path, {}, "run")
    assert not (tmp_path / "tensorboard").exists()  # checked before any logger starts
    # the user's view: `oorl train` with MLflow listed and absent says so in one line, exit status 2
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    r = run_oorl("train", "--config", "configs/smoke-cpu.yaml", "trainer.loggers=[mlflow]", "--output-dir",
                 str(tmp_path / "cli"), env={"PYTHONPATH": str(hide)}, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "trainer.loggers lists mlflow, but its package is not installed" in lines[0], lines


def test_logger_config_errors_name_the_field():
    with pytest.raises(UserError, match=r"trainer.loggers.*unknown logger 'tensorbord'"):
        load_config("configs/smoke-cpu.yaml", ["trainer.loggers=[tensorbord]"])
    with pytest.raises(UserError, match="logger_kwargs has options for 'wandb', which loggers does not list"):
        load_config("configs/smoke-cpu.yaml", ["trainer.logger_kwargs={wandb: {mode: offline}}"])


def _record(name, level):
    return logging.LogRecord(name, level, __file__, 1, "msg", None, None)


def test_console_policy():
    f = ConsoleFilter("ERROR")
    assert f.filter(_record("oorl.reward.jail", logging.WARNING))
    assert not f.filter(_record("oorl.trainer", logging.INFO))
    assert not f.filter(_record("vllm.engine", logging.WARNING))
    assert f.filter(_record("vllm.engine", logging.ERROR)) and f.filter(_record("DeepSpeed", logging.CRITICAL))
    rec = _record("ray", logging.ERROR)
    assert f.filter(rec) and not f.filter(rec)  # one record through two handlers: shown once
    assert ConsoleFilter("WARNING").filter(_record("vllm.engine", logging.WARNING))


def _disk_line(ts, gb):
    return (f"[2026-12-06 08:31:{ts},039 E 10782 10795] (raylet) file_system_monitor.cc:116: /tmp/ray/session_x "
            f"is over 95% full, available space: {gb} GB; capacity: 251.972 GB. Object creation will fail if "
            "spilling is required.")


def test_a_cluster_message_repeated_every_few_seconds_reaches_the_console_once():
    printed, recorded = [], []
    once = ClusterMessagesOnce(lambda data: printed.append(data), recorded.append)
    for ts, gb in ((36, "11.6941"), (46, "11.6939"), (56, "11.6901")):  # the raylet: every 10 s
        once({"pid": "raylet", "ip": "10.0.0.1", "is_err": True, "lines": [_disk_line(ts, gb)]})
    once({"pid": "raylet", "ip": "10.0.0.1", "is_err": True, "lines": ["[08:32:00 E] (raylet) worker died"]})
    actor = {"pid": 4242, "ip": "10.0.0.1", "is_err": True, "actor_name": "RewardWorker", "lines": ["x", "x"]}
    once(actor)
    once(actor)
    shown = [ln for d in printed for ln in d["lines"]]
    assert len(shown) == 2 + 4  # the disk message once, the other raylet message, the actor's lines untouched
    assert "available space: 11.6941 GB" in shown[0] and "repeats in logs/driver.log" in shown[0]
    assert "worker died" in shown[1] and printed[-1] is actor
    assert len(recorded) == 4 and all(r.startswith("(raylet) ") for r in recorded)  # every occurrence
