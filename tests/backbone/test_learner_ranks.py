"""The real LearnerWorker on two DeepSpeed ranks (gloo, one process per rank), each rank with its own data.

What only several ranks show: at ZeRO stage 0 the learner clips the gradient itself, which is right only
after DeepSpeed's all-reduce (clipping each rank's own gradient would step on a smaller, different
norm); and an update that carries the off-policy loss alone must back-propagate on the accumulation
boundary, the only micro-step where stages 0 and 1 all-reduce (before, each rank stepped on its own
gradient and the ranks' weights drifted apart).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backbone.clusters import free_ports

ROOT = Path(__file__).resolve().parents[2]

RANK = """
import json, sys, torch
from oorl.config import load_config
from oorl.data.ir_groups.stream import shard_groups
from oorl.learner.batch import build_batch
from oorl.learner.worker import LearnerWorker
from oorl.models import resolve_model
from tests.backbone.optimizer_probe import record_stepped_norms
rank, port, cache = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
GROUPS = [{"prompt": [1, 5, 6], "winners": [[7, 8], [7, 9, 10], [12]], "losers": [[11, 12, 13]]},
          {"prompt": [2, 3], "winners": [[4, 4]], "losers": [[5], [6, 7]]},
          {"prompt": [9, 3, 4], "winners": [[20, 21, 22]], "losers": [[23], [24, 25], [26, 27, 28]]},
          {"prompt": [8], "winners": [[30], [31, 32]], "losers": [[33, 34]]}]
out = {}
for case, extra in (("clip", ["learner.grad_clip=0.001", "rollout.prompts_per_step=2"]),  # one micro-batch per rank
                    ("offpolicy_only", ["algo.rl_weight=0", "algo.offpolicy=gepo", "algo.gepo.path=groups.jsonl",
                                        "algo.gepo.weight=1.0", "algo.gepo.beta=1.0", "algo.gepo.micro_batch_size=2",
                                        "rollout.prompts_per_step=4"])):  # 2 micro-batches per update
    cfg = load_config("configs/smoke-cpu.yaml", [f"model.cache_dir={cache}", "learner.world_size=2", "learner.zero_stage=0",
                      "rollout.n_samples=8", "learner.micro_batch_size=8", "learner.lr=1e-2", *extra])
    model_dir = resolve_model(cfg.model.path, cfg.model.cache_dir, cfg.model.tiny.model_dump(), cfg.seed)
    w = LearnerWorker(cfg.model_dump(), model_dir, rank, 2, "127.0.0.1", port, use_gpu=False)
    stepped = record_stepped_norms(w)  # the norm of the gradient the optimizer steps with
    before = sum(float(p.detach().double().sum()) for p in w.engine.module.parameters())
    if case == "clip":  # each rank its own rows: different gradients before the all-reduce
        g = torch.Generator().manual_seed(100 + rank)
        prompts = [[1, 5, 6, 7]] * 8
        responses = [torch.randint(10, 150, (int(torch.randint(2, 7, (1,), generator=g)),), generator=g).tolist()
                     for _ in prompts]
        m = w.train_step(build_batch(prompts, responses, torch.randn(8, generator=g).tolist(), pad_id=0))
    else:
        m = w.train_step(None, {"gepo": shard_groups(GROUPS, 2, chunk=2)[rank]})
    after = [p.detach().double() for p in w.engine.module.parameters()]
    out[case] = {"grad_norm": m["grad_norm"], "stepped": stepped, "gas": cfg.grad_accum_steps,
                 "moved": sum(float(t.sum()) for t in after) != before,
                 "checksum": sum(float((t * (1 + (i % 7))).sum()) for i, t in enumerate(after))}
print("RESULT", json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_ranks(model_cache):
    port = free_ports(1)[0]
    env = dict(os.environ, DS_ACCELERATOR="cpu", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", RANK, str(r), str(port), model_cache], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            assert p.returncode == 0, stderr[-3000:]
            outs.append(json.loads(stdout.split("RESULT")[1]))
    finally:  # a rank that failed leaves the other waiting in a collective
        for p in procs:
            p.kill()
    return outs


def test_stage0_clips_the_all_reduced_gradient(two_ranks):
    r0, r1 = two_ranks[0]["clip"], two_ranks[1]["clip"]
    assert r0["gas"] == 1 and r0["moved"] and r1["moved"]
    # the same norm on both ranks (the all-reduced gradient's), reported before clipping
    assert r0["grad_norm"] > 0.01 and r0["grad_norm"] == pytest.approx(r1["grad_norm"], rel=1e-6), (r0, r1)
    # both stepped with that gradient clipped to learner.grad_clip, and so on the same weights
    assert r0["stepped"] == [pytest.approx(0.001, rel=0.02)] and r1["stepped"] == [pytest.approx(0.001, rel=0.02)]
    assert r0["checksum"] == pytest.approx(r1["checksum"], rel=1e-9, abs=1e-9), (r0, r1)


def test_offpolicy_only_update_all_reduces(two_ranks):
    r0, r1 = two_ranks[0]["offpolicy_only"], two_ranks[1]["offpolicy_only"]
    assert r0["gas"] == 2 and r0["moved"] and r1["moved"]  # several micro-steps per update, weights changed
    assert len(r0["stepped"]) == len(r1["stepped"]) == 1
    assert r0["stepped"][0] == pytest.approx(r1["stepped"][0], rel=1e-6), (r0, r1)
    assert r0["checksum"] == pytest.approx(r1["checksum"], rel=1e-9, abs=1e-9), (r0, r1)
