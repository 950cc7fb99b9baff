import pytest
import torch

from oorl.weight_sync import resolve_backend
from oorl.weight_sync.buckets import bucketize, from_wire, pack, to_wire, unpack


def test_buckets_respect_the_byte_budget():
    items = [(f"p{i}", torch.zeros(n)) for i, n in enumerate([10, 10, 30, 5, 100])]
    # 40 bytes, 40, 120, 20, 400 with a 100-byte budget: the 120- and 400-byte tensors go alone
    assert [names for names, _ in bucketize(items, 100)] == [["p0", "p1"], ["p2"], ["p3"], ["p4"]]
    assert [names for names, _ in bucketize(items, 10**6)] == [["p0", "p1", "p2", "p3", "p4"]]
    assert list(bucketize([], 100)) == []


def test_buckets_are_lazy_over_the_stream():
    """Under ZeRO-3 the stream gathers parameters as it goes: a bucket is yielded as soon as the next
    tensor does not fit, before the rest of the stream is read."""
    read = []

    def stream():
        for i in range(4):
            read.append(i)
            yield f"p{i}", torch.zeros(25)  # 100 bytes each

    it = bucketize(stream(), 200)
    assert next(it)[0] == ["p0", "p1"] and read == [0, 1, 2]


def test_pack_unpack_round_trip_casts_and_keeps_order():
    a, b = torch.arange(6.0).view(2, 3), torch.tensor([7.0, 8.0])
    flat = pack([a, b], torch.bfloat16)
    assert flat.dtype == torch.bfloat16 and flat.numel() == 8
    out = unpack(flat, ["a", "b"], [[2, 3], [2]])
    assert [n for n, _ in out] == ["a", "b"]
    assert torch.equal(out[0][1].float(), a) and torch.equal(out[1][1].float(), b)
    with pytest.raises(ValueError, match="metadata"):
        unpack(flat, ["a"], [[2, 3]])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float16])
def test_wire_round_trip_is_exact_and_zero_copy(dtype):
    """A bucket crosses Ray as a uint8 NumPy array (buckets.to_wire), which the reading side gets
    read-only out of the object store, and comes back as the same values in its dtype, over the same
    memory (the end-to-end runs cross a real Ray)."""
    flat = pack([torch.randn(3, 5), torch.tensor([1e-3, -2.5, 65504.0])], dtype)
    arr = to_wire(flat).copy()
    arr.setflags(write=False)
    back = from_wire(arr, str(flat.dtype))
    assert back.dtype == dtype and torch.equal(back, flat)
    assert back.data_ptr() == arr.ctypes.data  # a view, not a copy


def test_wire_rejects_what_it_did_not_make():
    flat = pack([torch.ones(4)], torch.bfloat16)
    with pytest.raises(TypeError, match="uint8 NumPy array"):
        from_wire(flat, "bfloat16")
    with pytest.raises(ValueError, match="unknown weight bucket dtype"):
        from_wire(to_wire(flat), "bfloat17")


def test_auto_backend_follows_placement():
    assert resolve_backend("auto", "colocate", use_gpu=False) == "oorl_cpu"
    assert resolve_backend("auto", "colocate", use_gpu=True) == "ipc"
    assert resolve_backend("auto", "split", use_gpu=True) == "nccl"
    assert resolve_backend("cpu", "split", use_gpu=False) == "oorl_cpu"
