"""The vLLM rollout worker in-process on CPU with the tiny model."""

import os

from oorl.config import load_config
from oorl.models import resolve_model


def test_a_large_seeded_batch_generates(model_cache):
    """More prompt tokens than one engine step takes: with chunked prefill, vLLM rewound the seeded
    CPU generators of the partially prefilled requests and the engine died."""
    from oorl.rollout.worker import RolloutWorker

    cfg = load_config("configs/smoke-cpu.yaml")
    d = resolve_model("tiny", model_cache, cfg.model.tiny.model_dump(), cfg.seed)
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
    w = RolloutWorker(d, cfg.rollout.model_dump(), "float32", 1, "oorl_cpu", False, 512)
    prompts = [[1 + (i % 50)] * 400 for i in range(64)]  # 25.6k prompt tokens in one call
    out = w.generate(prompts, list(range(64)), 4, 1.0, 1.0)
    assert len(out["rows"]) == 64 and all(1 <= len(r["token_ids"]) <= 4 for r in out["rows"])
    # without logprobs (the trainer asks for them only with truncated importance sampling): the same
    # seeded tokens, no logprobs
    with_lp = w.generate(prompts[:8], list(range(8)), 6, 1.0, 1.0)
    without = w.generate(prompts[:8], list(range(8)), 6, 1.0, 1.0, logprobs=False)
    assert [r["token_ids"] for r in without["rows"]] == [r["token_ids"] for r in with_lp["rows"]]
    assert all(len(r["logprobs"]) == len(r["token_ids"]) for r in with_lp["rows"])
    assert all(r["logprobs"] == [] for r in without["rows"])
