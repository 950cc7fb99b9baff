"""How calls survive dead actors (oorl.dispatch) and the async overlap figure, with real Ray actors
killed with SIGKILL, no model."""

import os
import signal
import time

import pytest

from oorl.dispatch import call_all, gather
from oorl.errors import TrainingError
from oorl.step_metrics import overlap_metrics
from tests.backbone.faults import Worker
from tests.conftest import ROOT


def test_overlap_metrics():
    assert overlap_metrics((10.0, 12.0), (11.0, 20.0)) == {"async/overlap_s": 1.0, "async/overlap_share": 0.5}
    assert overlap_metrics((10.0, 12.0), (0.0, 5.0))["async/overlap_s"] == 0.0
    assert overlap_metrics((10.0, 12.0), None)["async/overlap_share"] == 0.0


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})  # the workers import tests.backbone.faults
    yield ray
    ray.shutdown()


def test_a_call_on_a_killed_actor_is_resubmitted_after_on_lost(ray_local):
    ray = ray_local
    workers = [ray.remote(Worker).options(max_restarts=2, max_task_retries=0).remote() for _ in range(2)]
    pid = ray.get(workers[1].pid.remote())
    lost = []

    def on_lost(w):
        lost.append(w)
        for _ in range(60):  # wait until Ray has restarted it (calls fail fast meanwhile)
            try:
                return ray.get(workers[w].pid.remote())
            except ray.exceptions.ActorUnavailableError:
                time.sleep(0.5)

    refs_started = time.monotonic()
    import threading

    threading.Timer(0.5, lambda: os.kill(pid, signal.SIGKILL)).start()
    out = call_all(workers, "work", [(0, (1,)), (1, (2, 3.0))], on_lost=on_lost)
    assert out == [10, 20] and lost == [1]
    assert time.monotonic() - refs_started < 60
    assert ray.get(workers[1].pid.remote()) != pid
    # an error raised by the method itself is not a death: it propagates, nothing is resubmitted
    with pytest.raises(ValueError, match="a bug in the method"):
        call_all(workers, "fail", [(0, ())], on_lost=on_lost)
    assert lost == [1]


def test_gather_stops_at_the_first_dead_rank(ray_local):
    ray = ray_local
    ranks = [ray.remote(Worker).remote() for _ in range(2)]
    pid = ray.get(ranks[1].pid.remote())
    refs = [ranks[0].collective.remote(120), ranks[1].collective.remote(120)]
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(TrainingError, match=r"learner rank 1 died during collective.*go on like this") as e:
        gather(refs, "learner rank", "collective", "; go on like this")
    assert time.monotonic() - t0 < 30  # not after rank 0's 120 s
    assert "\n" not in str(e.value)
    ray.kill(ranks[0])
