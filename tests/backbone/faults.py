"""Helpers of the fault tests: run ``oorl train`` in the background and ``kill -9`` one of its Ray
actors while it runs a given method (Ray titles an actor's process ``ray::Class.method`` while the
method runs). Only processes of that run's own private Ray cluster are considered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.conftest import OORL, ROOT


def start_oorl(*args: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    out = log.open("w")
    return subprocess.Popen([OORL, *args, "placement.ray_address=local"], stdout=out, stderr=subprocess.STDOUT,
                            cwd=ROOT, env=env, text=True)


def steps_logged(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return sum(1 for ln in path.read_text().splitlines() if ln.strip()) if path.exists() else 0


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def kill_actor(proc: subprocess.Popen, title: str, timeout: float = 300) -> int:
    """SIGKILL the first descendant of ``proc`` whose title starts with ``title`` (e.g.
    ``ray::RewardWorker.score``); returns its pid."""
    deadline = time.monotonic() + timeout
    root = psutil.Process(proc.pid)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {proc.returncode}) before a {title} process was seen")
        for p in root.children(recursive=True):
            try:
                cmd = p.cmdline()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if cmd and cmd[0].startswith(title):
                os.kill(p.pid, signal.SIGKILL)
                return p.pid
        time.sleep(0.005)
    raise AssertionError(f"no {title} process within {timeout} s")


def wait_for(cond, timeout: float = 600, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Worker:
    """A Ray actor for the dispatch tests (defined here: Ray's workers import it by module name)."""

    def __init__(self):
        self.calls = 0

    def pid(self):
        return os.getpid()

    def work(self, x, sleep=0.0):
        self.calls += 1
        time.sleep(sleep)
        return x * 10

    def fail(self):
        raise ValueError("a bug in the method, not a dead actor")

    def collective(self, sleep):
        time.sleep(sleep)  # stands for a rank blocked in a collective that waits for a dead peer
        return "done"
