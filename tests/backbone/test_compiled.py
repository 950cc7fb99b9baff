"""learner.compile (oorl.learner.compiled): the compiled pieces give the eager model's values and
gradients, in fp32 and under bf16 autocast, and what is compiled depends on ZeRO-3."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from transformers.models.llama import modeling_llama

from oorl.learner.compiled import FUNCTIONS, compile_pieces


def _tiny():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, attn_implementation="eager")
    return LlamaForCausalLM(cfg)


def _loss_and_grads(model, ids, mask, autocast):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = model(input_ids=ids, attention_mask=mask).logits
    lp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    loss = -(lp * mask[:, 1:]).sum()
    loss.backward()
    return lp.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.fixture
def restored(monkeypatch):
    """compile_pieces replaces the modeling module's functions process-wide: put the eager ones back."""
    for name in FUNCTIONS:
        monkeypatch.setattr(modeling_llama, name, getattr(modeling_llama, name))


def test_compiled_pieces_match_eager_values_and_gradients(restored):
    model = _tiny()
    ids = torch.randint(0, 97, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # a padded row
    eager = {ac: _loss_and_grads(model, ids, mask, ac) for ac in (False, True)}
    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    names = compile_pieces(model)
    assert names == ["LlamaMLP", "LlamaRMSNorm", "apply_rotary_pos_emb", "eager_attention_forward"]
    assert compile_pieces(model) == names[2:]  # again: the modules are left as they are
    for autocast, tol in ((False, 1e-5), (True, 2e-2)):
        want_lp, want_g = eager[autocast]
        lp, grads = _loss_and_grads(model, ids, mask, autocast)
        assert torch.allclose(lp, want_lp, atol=tol, rtol=tol), (autocast, (lp - want_lp).abs().max())
        for n, g in grads.items():
            assert torch.allclose(g, want_g[n], atol=tol, rtol=tol), (autocast, n, (g - want_g[n]).abs().max())
    assert counters["stats"]["unique_graphs"] >= graphs + 4  # compiled code ran (no silent eager fallback)


def test_under_zero3_only_the_parameter_free_functions(restored):
    model = _tiny()
    assert compile_pieces(model, zero3=True) == ["apply_rotary_pos_emb", "eager_attention_forward"]
    assert not any("forward" in vars(m) for m in model.modules())
    assert all(hasattr(getattr(modeling_llama, name), "_torchdynamo_orig_callable") for name in FUNCTIONS)
