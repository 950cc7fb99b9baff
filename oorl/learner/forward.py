"""The learner's forward pass: per-token logprobs of a micro-batch, computing only what the loss needs.

GRPO-style batches hold several completions of the same prompt, and the prompt is usually longer
than the completions (a one-shot Prolog prompt is ~280 tokens, a completion ~100). Two savings,
both exact:

* **Shared prompt.** When every row of a micro-batch has the same prompt, the prompt goes through
  the model once (batch 1, keeping its key/value cache, with gradients) and the completions then run
  as a batch on top of that cache, expanded to the batch. Gradients reach the prompt's activations
  through the cache. A group of 8 completions of 100 tokens after a 280-token prompt costs 1080
  token-forwards instead of 3040.
* **Logits where they are used.** The LM head (vocab x hidden, 21% of SmolLM2's forward) and the
  log-softmax run only from the last prompt position on, not over the prompt.

The result has the layout of :func:`oorl.learner.batch.token_logprobs` (``[B, T-1]``, column
``t-1`` is token ``t``), with zeros where ``loss_mask`` is 0 before the first completion token, so
callers mask it exactly as before.
"""

from __future__ import annotations

from typing import Callable

import torch

from oorl.learner.batch import gather_logprobs


def shared_prompt_len(mb: dict[str, torch.Tensor], min_rows: int = 2) -> int:
    """Length of the prompt shared by every row of ``mb``, or 0 when rows differ (or there are fewer
    than ``min_rows`` rows: one row gains nothing).

    A row's prompt is the tokens before its first ``loss_mask`` position.
    """
    mask = mb["loss_mask"]
    if mask.shape[0] < min_rows or bool((mask.sum(1) == 0).any()):
        return 0
    starts = mask.argmax(1)
    p = int(starts[0])
    if p < 1 or not bool((starts == p).all()):
        return 0
    head = mb["input_ids"][:, :p]
    if not bool((head == head[:1]).all()) or not bool(mb["attention_mask"][:, :p].all()):
        return 0
    return p


def _first_response_col(mb: dict[str, torch.Tensor]) -> int:
    """The first logprob column any row needs (one before its first completion token), at least 0."""
    mask = mb["loss_mask"]
    has = mask.sum(1) > 0
    if not bool(has.any()):
        return 0
    return max(int(mask[has].argmax(1).min()) - 1, 0)


def micro_batch_logprobs(model, mb: dict[str, torch.Tensor], device, share_prompt: bool = True,
                         temperature: float = 1.0, agree: Callable[[bool], bool] | None = None) -> torch.Tensor:
    """log p(token t | tokens < t) for columns t-1 = 0..T-2 of ``mb``; float32 ``[B, T-1]``.

    ``p`` is softmax(logits / temperature): the distribution vLLM sampled from at that temperature.
    Columns before the first completion token of the micro-batch are 0 (not computed).

    ``agree`` (ZeRO-3 over several ranks): every rank must run the same number of model forwards
    (each one gathers the parameters collectively), so the choice of the shared-prompt path (two
    forwards) or the plain one (one) is made by all ranks together: ``agree(mine)`` is true when
    every rank can share. One-row micro-batches then count as shareable, so that the IR groups'
    chunks (one prompt each, one row or more) agree.
    """
    ids = mb["input_ids"].to(device)
    att = mb["attention_mask"].to(device)
    b, t = ids.shape
    inner = getattr(model, "module", model)  # a DeepSpeed engine wraps the HF model
    if inner.training and getattr(inner, "is_gradient_checkpointing", False):
        share_prompt = False  # HF drops the key/value cache of checkpointed layers
    p = shared_prompt_len(mb, min_rows=1 if agree else 2) if share_prompt else 0
    shared = 0 < p < t
    if share_prompt and agree is not None:  # two forwards (prompt, completions) on every rank, or one
        shared = agree(shared and p < t - 1)
    if shared:
        return _shared_prompt_logprobs(model, ids, att, p, temperature)
    start = _first_response_col(mb)
    keep = torch.arange(start, t - 1, device=device)
    out = model(input_ids=ids, attention_mask=att, logits_to_keep=keep)
    lp = gather_logprobs(_tempered(out.logits, temperature), ids[:, start + 1:])
    return torch.cat([lp.new_zeros(b, start), lp], dim=1)


def _tempered(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return logits if temperature == 1.0 else logits.float() / temperature


def _shared_prompt_logprobs(model, ids: torch.Tensor, att: torch.Tensor, p: int, temperature: float) -> torch.Tensor:
    b, t = ids.shape
    pre = model(input_ids=ids[:1, :p], attention_mask=att[:1, :p], use_cache=True, logits_to_keep=1)
    first = pre.logits[:, -1:].expand(b, -1, -1)  # predicts each row's first completion token
    logits = first
    if t - p > 1:  # the completions, minus their last token (it predicts nothing we score)
        cache = pre.past_key_values
        if cache is None or cache.get_seq_length() != p:
            raise RuntimeError("the model kept no key/value cache of the shared prompt; "
                               "set learner.share_prompt=false")
        cache.batch_repeat_interleave(b)
        body = ids[:, p:-1]
        positions = torch.arange(p, t - 1, device=ids.device).unsqueeze(0).expand(b, -1)
        out = model(input_ids=body, attention_mask=att[:, : t - 1], position_ids=positions,
                    past_key_values=cache, use_cache=True)
        logits = torch.cat([first, out.logits], dim=1)
    lp = gather_logprobs(_tempered(logits, temperature), ids[:, p:])
    return torch.cat([lp.new_zeros(b, p - 1), lp], dim=1)
