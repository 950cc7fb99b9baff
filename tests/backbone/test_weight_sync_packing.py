import pytest
import torch

from oorl.rollout.weight_sync import ParamMeta, pack, plan_buckets, resolve_backend, unpack


def test_buckets_respect_the_byte_budget():
    metas = [ParamMeta(f"p{i}", torch.float32, (n,)) for i, n in enumerate([10, 10, 30, 5, 100])]
    # 40 bytes, 40, 120, 20, 400 with a 100-byte budget
    assert plan_buckets(metas, 100) == [[0, 1], [2], [3], [4]]
    assert plan_buckets(metas, 10**6) == [[0, 1, 2, 3, 4]]


def test_pack_unpack_round_trip_casts_and_keeps_order():
    a, b = torch.arange(6.0).view(2, 3), torch.tensor([7.0, 8.0])
    flat = pack([a, b], torch.bfloat16)
    assert flat.dtype == torch.bfloat16 and flat.numel() == 8
    out = unpack(flat, ["a", "b"], [[2, 3], [2]])
    assert [n for n, _ in out] == ["a", "b"]
    assert torch.equal(out[0][1].float(), a) and torch.equal(out[1][1].float(), b)
    with pytest.raises(ValueError, match="metadata"):
        unpack(flat, ["a"], [[2, 3]])


def test_auto_backend_follows_placement():
    assert resolve_backend("auto", "colocate", use_gpu=False) == "oorl_cpu"
    assert resolve_backend("auto", "colocate", use_gpu=True) == "ipc"
    assert resolve_backend("auto", "split", use_gpu=True) == "nccl"
