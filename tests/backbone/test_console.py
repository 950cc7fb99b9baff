"""What the user sees: a real run (the session's smoke run, tests/backbone/conftest.py) prints OORL's
lines only; vLLM/Ray/DeepSpeed output is in logs/."""

import json
import re


def test_console_keeps_oorl_lines_and_actor_output_goes_to_logs(smoke_run):
    out, r = smoke_run
    console = r.stdout + r.stderr
    lines = [ln for ln in console.splitlines() if ln.strip()]

    # OORL's own lines: the cluster, one line per step with the phase split, where to look
    assert lines[0].startswith("ray: started a local cluster") and f"{out}/logs/" in lines[0]
    steps = [ln for ln in lines if ln.startswith("step ")]
    assert len(steps) == 50 and "ETA" in steps[0]
    assert re.search(r"\d+\.\ds \(gen [\d.]+ reward [\d.]+ train [\d.]+ sync [\d.]+ probe [\d.]+\)", steps[1])
    assert any(ln.startswith("50 steps in ") and str(out) in ln for ln in lines)
    assert any("timeline.png" in ln for ln in lines) and any("tensorboard --logdir" in ln for ln in lines)
    # an actor's OORL warning and a library's error reach the console (forwarded by Ray) ...
    assert "OORL-WARNING-FROM-ACTOR" in console and "LIBRARY-ERROR-FROM-ACTOR" in console
    # ... its library warning and prints do not, nor vLLM, Ray, DeepSpeed or torch chatter
    for chatter in ("LIBRARY-WARNING-FROM-ACTOR", "PRINT-FROM-ACTOR", "Failed to load weights", "vllm",
                    "Token authentication", "Started a local Ray instance", "[WARNING]", "real_accelerator", "[W",
                    "Triton", "Writing model shards",
                    "(LearnerWorker", "(RolloutWorker pid"):
        assert chatter not in console, chatter
    # a raylet error repeated every 10 s (the disk is "full"): once on the console, each time in driver.log
    disk = [ln for ln in lines if "file_system_monitor" in ln]
    assert len(disk) == 1 and "repeats in logs/driver.log" in disk[0], disk
    assert (out / "logs" / "driver.log").read_text().count("file_system_monitor") >= 3
    other = [ln for ln in lines if not ln.startswith("step ") and "-FROM-ACTOR" not in ln]  # the loud reward: each step
    assert len(other) <= 10, "\n".join(other)

    # everything else is in logs/: one file per actor, named after it, and the driver's
    logs = out / "logs"
    files = {p.name.split("-")[0]: p for p in logs.iterdir()}
    assert sorted(p.name.split("-")[0] for p in logs.iterdir()) == [
        "LearnerWorker", "LearnerWorker", "RewardWorker", "RolloutWorker", "driver.log"], sorted(files)
    learner = "".join(p.read_text() for p in logs.iterdir() if p.name.startswith("LearnerWorker"))
    assert "tcmalloc allocator" in learner  # placement.cpu_allocator auto: setup installs it
    rollout = files["RolloutWorker"].read_text()
    assert "Initializing a V1 LLM engine" in rollout and "WARNING vllm." in rollout
    assert ":actor_name:" not in rollout  # Ray's labels went to Ray, not into the log
    reward = files["RewardWorker"].read_text()
    for mark in ("OORL-WARNING-FROM-ACTOR", "LIBRARY-WARNING-FROM-ACTOR", "LIBRARY-ERROR-FROM-ACTOR",
                 "PRINT-FROM-ACTOR"):
        assert mark in reward, mark
    assert "Started a local Ray instance" in files["driver.log"].read_text()
    # the benign vLLM reload warning is silenced at its source (oorl.weight_sync.cpu), not just moved
    assert not any("Failed to load weights" in p.read_text() for p in logs.iterdir())

    # the run's timeline
    timeline = [json.loads(ln) for ln in (out / "timeline.jsonl").read_text().splitlines()]
    assert [t["step"] for t in timeline] == list(range(1, 51))
    assert [s["phase"] for s in timeline[0]["spans"]] == ["generate", "reward", "train", "sync", "probe"]
    assert (out / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert not any("spans" in json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines())
