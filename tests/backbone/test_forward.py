"""The learner's shared-prompt / response-only forward gives the same logprobs and gradients as the
plain full forward, on a tiny real Llama, with either attention kernel the learner uses (sdpa; eager,
the CPU default of learner.attn_implementation)."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from oorl.learner.batch import build_batch, token_logprobs
from oorl.learner.forward import length_chunks, micro_batch_logprobs, prompt_groups


def _tiny(attn: str):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True)
    m = LlamaForCausalLM(cfg).float()
    m.config._attn_implementation = attn
    return m


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def model(request):
    return _tiny(request.param)


def test_eager_and_sdpa_attention_agree_on_padded_shared_prompt_batches():
    eager, sdpa = _tiny("eager"), _tiny("sdpa")
    for mb in (_group(list(range(30, 52)), [[11, 12, 13], [14], [15, 16, 17, 18, 19]]),  # shared prompt
               build_batch([list(range(30, 40)), list(range(40, 46))], [[11, 12, 13], [14, 15]], [0.0, 0.0], pad_id=0)):
        mask = mb["loss_mask"][:, 1:].bool()
        a, b = micro_batch_logprobs(eager, mb, "cpu"), micro_batch_logprobs(sdpa, mb, "cpu")
        assert torch.allclose(a[mask], b[mask], atol=1e-5)


def _group(prompt, responses, adv=None):
    return build_batch([prompt] * len(responses), responses, adv or [0.0] * len(responses), pad_id=0)


def _plain(model, mb):
    return token_logprobs(model(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits,
                          mb["input_ids"])


def _grads(model, mb, fn):
    model.zero_grad()
    lp = fn(model, mb)
    mask = mb["loss_mask"][:, 1:]
    ((lp * mask).sum() / mask.sum()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def _logprobs_and_forward_shapes(model, mb, **kw):
    """``micro_batch_logprobs`` on ``mb``, and the ``input_ids`` shape of each model forward it ran."""
    shapes = []
    hook = model.register_forward_pre_hook(lambda m, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                           with_kwargs=True)
    try:
        return micro_batch_logprobs(model, mb, "cpu", **kw), shapes
    finally:
        hook.remove()


def _assert_grads_match_plain(model, mb, **kw):
    g_want = _grads(model, mb, _plain)
    g_got = _grads(model, mb, lambda m, b: micro_batch_logprobs(m, b, "cpu", **kw))
    for name, g in g_want.items():
        assert torch.allclose(g_got[name], g, atol=1e-5, rtol=1e-4), name


def test_prompt_groups():
    g = prompt_groups(_group([5, 6, 7], [[1, 2], [3], [4, 4, 4]]))
    assert g.starts.tolist() == [3, 3, 3] and g.group.tolist() == [0, 0, 0] and g.rows.tolist() == [0]
    two = build_batch([[5, 6, 7], [5, 6, 8, 9], [5, 6, 7], [5, 6, 8, 9]], [[1], [2], [3], [4]], [0.0] * 4, pad_id=0)
    g = prompt_groups(two)
    assert g.starts.tolist() == [3, 4, 3, 4] and g.group.tolist() == [0, 1, 0, 1] and g.rows.tolist() == [0, 1]
    assert prompt_groups(build_batch([[5, 6, 7], [5, 6, 8]], [[1], [2]], [0.0, 0.0], pad_id=0)) is None  # all differ
    assert prompt_groups(_group([5, 6], [[1, 2]])) is None  # a single row gains nothing
    assert prompt_groups(_group([5, 6], [[1, 2]]), min_rows=1) is not None  # unless ranks must agree
    assert prompt_groups(_group([5], [[1, 2], [3]])) is None  # a one-token prompt leaves nothing to cache
    empty = _group([5, 6, 7], [[1, 2], [3]])
    empty["loss_mask"][1] = 0
    assert prompt_groups(empty) is None


@pytest.mark.parametrize("responses", [[[11, 12, 13], [14], [15, 16, 17, 18, 19]], [[20], [21]]])
def test_shared_prompt_matches_plain_forward(model, responses):
    mb = _group(list(range(30, 52)), responses)
    mask = mb["loss_mask"][:, 1:].bool()
    want = _plain(model, mb)
    got, shapes = _logprobs_and_forward_shapes(model, mb)
    width = max(len(r) for r in responses)
    assert shapes == [(1, 21), (len(responses), width)]  # the prompt once (all but its last token), then the rows
    assert got.shape == want.shape
    assert torch.allclose(got[mask], want[mask], atol=1e-5)
    assert (got[:, : 22 - 1 - 1] == 0).all()  # prompt columns are not computed
    _assert_grads_match_plain(model, mb)


def test_mixed_prompts_use_response_only_logits(model):
    mb = build_batch([list(range(30, 40)), list(range(40, 46))], [[11, 12, 13], [14, 15]], [0.0, 0.0], pad_id=0)
    mask = mb["loss_mask"][:, 1:].bool()
    want = _plain(model, mb)
    got = micro_batch_logprobs(model, mb, "cpu")
    assert torch.allclose(got[mask], want[mask], atol=1e-5)
    _assert_grads_match_plain(model, mb)


@pytest.mark.parametrize("order", ["grouped", "interleaved"])
def test_several_prompt_groups_in_one_micro_batch_match_plain_forward(model, order):
    """Prompts of different lengths, each shared by some rows, responses of different lengths: each
    distinct prompt runs once, and logprobs and gradients are those of the plain forward."""
    p1, p2, p3 = list(range(30, 52)), list(range(60, 67)), list(range(70, 85))
    rows = [(p1, [11, 12, 13]), (p1, [14]), (p1, [15, 16, 17, 18, 19]), (p2, [20, 21]), (p2, [22, 23, 24, 25]),
            (p3, [26])]
    if order == "interleaved":
        rows = [rows[i] for i in (3, 0, 5, 4, 1, 2)]
    mb = build_batch([p for p, _ in rows], [r for _, r in rows], [0.0] * len(rows), pad_id=0)
    mask = mb["loss_mask"][:, 1:].bool()
    got, shapes = _logprobs_and_forward_shapes(model, mb)
    assert shapes == [(3, 21), (6, 5)]  # three distinct prompts once, then the six rows
    want = _plain(model, mb)
    assert torch.allclose(got[mask], want[mask], atol=1e-5)
    assert (got[~mask] == 0).all()  # nothing outside the completions
    _assert_grads_match_plain(model, mb)


def _chunk_cost(lengths, groups, overhead):
    return sum(len(g) * max(lengths[r] for r in g) for g in groups) + overhead * (len(groups) - 1)


def _partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1:]]


def test_length_chunks():
    assert length_chunks([], 32) == []
    assert length_chunks([5, 64, 64, 7], float("inf")) == [[0, 1, 2, 3]]  # one group, row order
    assert length_chunks([64, 9, 64, 12, 63], 0) == [[0, 2], [4], [3], [1]]  # one group per distinct length
    # bimodal, as GRPO completions often are (some hit max_new_tokens, some stop early)
    assert length_chunks([64, 10, 64, 12, 64, 64, 11, 64], 32) == [[0, 2, 4, 5, 7], [1, 6, 3]]
    assert length_chunks([64, 60, 62, 64], 32) == [[0, 1, 2, 3]]  # too little padding to pay a forward: row order
    rng = torch.Generator().manual_seed(0)
    for _ in range(60):  # optimal over every partition of the rows, not only runs of the sorted order
        n = int(torch.randint(1, 7, (), generator=rng))
        lengths = torch.randint(1, 40, (n,), generator=rng).tolist()
        overhead = float(torch.randint(0, 30, (), generator=rng))
        got = length_chunks(lengths, overhead)
        assert sorted(r for g in got for r in g) == list(range(n))
        best = min(_chunk_cost(lengths, p, overhead) for p in _partitions(list(range(n))))
        assert _chunk_cost(lengths, got, overhead) == best


def test_length_chunks_forward_matches_plain_forward(model):
    """Completions of very different lengths over two shared prompts, run in length groups (each its own
    forward over a copy of the prompts' cache): the plain forward's logprobs and gradients."""
    p1, p2 = list(range(30, 52)), list(range(60, 67))
    long = list(range(11, 23))
    rows = [(p1, long), (p2, [20]), (p1, [14]), (p2, long[::-1]), (p1, [15, 16]), (p2, long)]
    mb = build_batch([p for p, _ in rows], [r for _, r in rows], [0.0] * len(rows), pad_id=0)
    mask = mb["loss_mask"][:, 1:].bool()
    got, shapes = _logprobs_and_forward_shapes(model, mb, chunk_overhead=4)
    assert shapes == [(2, 21), (3, 12), (3, 2)]  # the prompts once, then the long rows, then the short ones
    want = _plain(model, mb)
    assert torch.allclose(got[mask], want[mask], atol=1e-5)
    assert (got[~mask] == 0).all()
    _assert_grads_match_plain(model, mb, chunk_overhead=4)
    one, shapes = _logprobs_and_forward_shapes(model, mb, chunk_overhead=float("inf"))
    assert shapes == [(2, 21), (6, 12)] and torch.allclose(one[mask], got[mask], atol=1e-5)


def test_length_chunks_only_over_caches_that_copy_safely(model, monkeypatch):
    """A cache layer type not known to replace its tensors when reordered (static layers advance a
    shared position in place): one completion forward, whatever the lengths."""
    import oorl.learner.forward as fwd

    monkeypatch.setattr(fwd, "COPYABLE_LAYERS", ())
    long = list(range(11, 23))
    mb = _group(list(range(30, 52)), [long, [14], long, [15]])
    mask = mb["loss_mask"][:, 1:].bool()
    got, shapes = _logprobs_and_forward_shapes(model, mb, chunk_overhead=0.0)
    assert shapes == [(1, 21), (4, 12)]
    assert torch.allclose(got[mask], _plain(model, mb)[mask], atol=1e-5)


def test_gradient_checkpointing_falls_back_to_the_plain_forward(model):
    mb = _group(list(range(30, 52)), [[11, 12, 13], [14, 15]])
    mask = mb["loss_mask"][:, 1:].bool()
    want = _plain(model, mb)
    model.gradient_checkpointing_enable()
    model.train()
    try:
        got = micro_batch_logprobs(model, mb, "cpu")
    finally:
        model.gradient_checkpointing_disable()
    assert torch.allclose(got[mask], want[mask], atol=1e-5)


@pytest.mark.parametrize("prompts", [[list(range(30, 52))] * 2, [list(range(30, 40)), list(range(40, 52))]],
                         ids=["shared", "mixed"])
def test_temperature_scores_the_tempered_policy(model, prompts):
    mb = build_batch(prompts, [[11, 12, 13], [14, 15]], [0.0, 0.0], pad_id=0)
    mask = mb["loss_mask"][:, 1:].bool()
    logits = model(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits
    want = token_logprobs(logits / 0.6, mb["input_ids"])
    got = micro_batch_logprobs(model, mb, "cpu", temperature=0.6)
    assert torch.allclose(got[mask], want[mask], atol=1e-5)
    assert not torch.allclose(got[mask], token_logprobs(logits, mb["input_ids"])[mask], atol=1e-3)


@pytest.mark.parametrize("rows,others_can", [(1, True), (2, True), (2, False)])
def test_ranks_agree_on_one_path(model, rows, others_can):
    """ZeRO-3 over several ranks: the path (two forwards or one) is what every rank can take; one-row
    batches count as shareable then. The values are the same on either path."""
    mb = _group(list(range(30, 52)), [[11, 12, 13], [14, 15]][:rows])
    mask = mb["loss_mask"][:, 1:].bool()
    asked, calls = [], []
    hook = model.register_forward_pre_hook(lambda m, a, kw: calls.append(1), with_kwargs=True)
    try:
        got = micro_batch_logprobs(model, mb, "cpu", agree=lambda mine: asked.append(mine) or (mine and others_can))
    finally:
        hook.remove()
    assert asked == [True] and len(calls) == (2 if others_can else 1)
    assert torch.allclose(got[mask], _plain(model, mb)[mask], atol=1e-5)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-head", "plain-head"])
def test_fused_and_plain_head_paths(model, fused, monkeypatch):
    """learner.fused_logprobs: the fused LM head + log-softmax runs (on both paths: shared prompts
    and plain) only when asked, and either way gives the plain forward's logprobs."""
    import oorl.learner.forward as fwd

    calls = []
    real = fwd.head_logprobs
    monkeypatch.setattr(fwd, "head_logprobs", lambda *a, **k: calls.append(1) or real(*a, **k))
    shared = _group(list(range(30, 52)), [[11, 12, 13], [14]])
    mixed = build_batch([list(range(30, 40)), list(range(40, 46))], [[11, 12, 13], [14, 15]], [0.0, 0.0], pad_id=0)
    for mb in (shared, mixed):
        mask = mb["loss_mask"][:, 1:].bool()
        got = micro_batch_logprobs(model, mb, "cpu", fused=fused)
        assert torch.allclose(got[mask], _plain(model, mb)[mask], atol=1e-5)
    assert len(calls) == (2 if fused else 0)


@pytest.mark.parametrize("overhead", [float("inf"), 0.0], ids=["one-forward", "length-chunks"])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_sliding_window_model_with_prompts_of_different_lengths(attn, overhead):
    """A sliding-window model (a tiny Mistral, window 6) whose rows are longer than the window, with
    prompts of different lengths in one micro-batch: the cached prompts are left-padded, so the
    window counts the same tokens as in the plain forward."""
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    cfg = MistralConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, sliding_window=6, tie_word_embeddings=True)
    model = MistralForCausalLM(cfg).float()
    model.config._attn_implementation = attn
    p1, p2 = list(range(30, 40)), list(range(60, 64))
    rows = [(p1, [11, 12, 13, 14, 15, 16, 17]), (p2, [20, 21, 22, 23, 24, 25, 26, 27, 28]), (p1, [18]), (p2, [29, 30])]
    mb = build_batch([p for p, _ in rows], [r for _, r in rows], [0.0] * 4, pad_id=0)
    mask = mb["loss_mask"][:, 1:].bool()
    got = micro_batch_logprobs(model, mb, "cpu", chunk_overhead=overhead)
    assert torch.allclose(got[mask], _plain(model, mb)[mask], atol=1e-5)
    _assert_grads_match_plain(model, mb, chunk_overhead=overhead)
