"""The fused LM head + log-softmax (oorl.learner.head) against the plain path: values and gradients,
in fp32 and under bf16 autocast, with a temperature, over a row count that is not a chunk multiple."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from oorl.learner.batch import gather_logprobs
from oorl.learner.head import ROWS, fused_head, head_logprobs, head_returns_hidden


def _plain(hidden, weight, targets, temperature):
    logits = torch.nn.functional.linear(hidden, weight)
    return gather_logprobs(logits.float() / temperature, targets)


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_head_logprobs_match_the_plain_head_and_log_softmax(autocast, temperature):
    torch.manual_seed(0)
    n, hidden_size, vocab = 2 * ROWS + 22, 48, 301
    hidden = torch.randn(2, n // 2, hidden_size, requires_grad=True)
    weight = (torch.randn(vocab, hidden_size) * 0.3).requires_grad_()
    targets = torch.randint(0, vocab, (2, n // 2))
    upstream = torch.randn(2, n // 2)
    results = []
    for fn in (_plain, head_logprobs):
        hidden.grad = weight.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            lp = fn(hidden, weight, targets, temperature)
        (lp * upstream).sum().backward()
        results.append((lp.detach(), hidden.grad.clone(), weight.grad.clone()))
    (want, dh_want, dw_want), (got, dh_got, dw_got) = results
    assert got.dtype == torch.float32 and got.shape == targets.shape
    tol = dict(atol=2e-2, rtol=2e-2) if autocast else dict(atol=1e-5, rtol=1e-5)
    assert torch.allclose(got, want, **tol)
    assert torch.allclose(dh_got, dh_want, **tol) and torch.allclose(dw_got, dw_want, **tol)
    assert dw_got.dtype == weight.dtype and dh_got.dtype == hidden.dtype


def _tiny():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg)


def test_fused_head_only_where_the_model_returns_its_head_output():
    model = _tiny()
    assert fused_head(model) is model.lm_head
    assert fused_head(type("Engine", (), {"module": model})()) is model.lm_head  # a DeepSpeed engine
    model.config.model_type = "gemma2"  # soft-caps its logits after the head
    assert fused_head(model) is None
    model = _tiny()
    model.lm_head.weight.ds_id = 7  # a ZeRO-3 partitioned weight: gathered only inside the head's forward
    assert fused_head(model) is None
    model = _tiny()
    model.lm_head = torch.nn.Linear(64, 97, bias=True)
    assert fused_head(model) is None


def test_head_returns_hidden_only_while_open():
    model = _tiny()
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(RuntimeError):
        with head_returns_hidden(model.lm_head):
            assert model(input_ids=ids).logits.shape == (1, 3, 64)
            raise RuntimeError("boom")
    assert model(input_ids=ids).logits.shape == (1, 3, 97)
    assert "forward" not in vars(model.lm_head)


def test_a_forward_set_on_the_head_comes_back():
    model = _tiny()
    own = lambda x: x * 0  # noqa: E731  (e.g. a wrapper's hook set on the instance)
    model.lm_head.forward = own
    with head_returns_hidden(model.lm_head):
        assert model.lm_head.forward is not own
    assert model.lm_head.forward is own


def test_remote_code_under_a_listed_name_is_not_fused():
    model = _tiny()
    model.__class__ = type("RemoteLlama", (LlamaForCausalLM,), {"__module__": "transformers_modules.acme.modeling"})
    assert fused_head(model) is None
