import pytest
import torch

from oorl.learner.batch import build_batch, micro_batches, shard, token_logprobs
from oorl.data.sampling import PromptSampler


def test_build_batch_masks_response_tokens():
    b = build_batch([[1, 2], [3]], [[4, 5, 6], [7]], [0.5, -1.0], pad_id=0)
    assert b["input_ids"].tolist() == [[1, 2, 4, 5, 6], [3, 7, 0, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert b["loss_mask"].tolist() == [[0, 0, 1, 1, 1], [0, 1, 0, 0, 0]]
    assert b["advantages"].tolist() == [0.5, -1.0]


def test_shard_and_micro_batches_trim_padding():
    b = build_batch([[1]] * 4, [[2], [2, 3, 4], [5], [6]], [0.0] * 4, pad_id=0)
    parts = shard(b, 2)
    assert [p["input_ids"].shape[0] for p in parts] == [2, 2]
    mbs = micro_batches(parts[1], 1)
    assert [m["input_ids"].shape[1] for m in mbs] == [2, 2]  # each trimmed to its own row


def test_token_logprobs_matches_log_softmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    ids = torch.randint(0, 7, (2, 4))
    lp = token_logprobs(logits, ids)
    ref = torch.log_softmax(logits, -1)
    for b in range(2):
        for t in range(3):
            assert torch.isclose(lp[b, t], ref[b, t, ids[b, t + 1]], atol=1e-6)


def test_prompt_sampler_is_deterministic_and_covers_epochs():
    s = PromptSampler(n=10, per_step=4, seed=3)
    assert s.indices(2) == PromptSampler(10, 4, 3).indices(2)
    first_epoch = s.indices(1) + s.indices(2) + s.indices(3)[:2]
    assert sorted(first_epoch) == list(range(10))
    assert s.indices(1) != PromptSampler(10, 4, 4).indices(1)


def test_behavior_logprobs_line_up_with_the_learner_logprobs():
    """``behavior_logp[b, t-1]`` is the engine's logprob of token t (as ``logp[:, t-1]``), NaN elsewhere."""
    import math

    b = build_batch([[1, 2], [3]], [[4, 5, 6], [7]], [0.0, 0.0], pad_id=0,
                    behavior_logp=[[-0.1, -0.2, -0.3], [-0.4]])
    beh = b["behavior_logp"]
    assert beh.shape == (2, 4)
    assert beh[0, 1:4].tolist() == pytest.approx([-0.1, -0.2, -0.3]) and math.isnan(beh[0, 0])
    assert beh[1, 0].item() == pytest.approx(-0.4) and all(math.isnan(x) for x in beh[1, 1:].tolist())
    # the positions where behavior logprobs are known are exactly the loss positions
    assert ((~beh.isnan()).float() == b["loss_mask"][:, 1:]).all()
