"""The learner's forward pass: per-token logprobs of a micro-batch, computing only what the loss needs.

GRPO-style batches hold several completions of each prompt, and the prompt is often longer than the
completions (a one-shot Prolog prompt is ~280 tokens, a completion ~100). Two savings, both exact:

* **Shared prompts.** Rows of a micro-batch that have the same prompt form a group. Each distinct
  prompt goes through the model once (a batch of the distinct prompts, keeping their key/value
  cache, with gradients), and every row's completion then runs on top of its prompt's cache, expanded
  to the rows. Gradients reach the prompts' activations through the cache. A group of 8 completions
  of 100 tokens after a 280-token prompt costs 1080 token-forwards instead of 3040, and a micro-batch
  may hold several groups (``learner.micro_batch_size`` a multiple of ``rollout.n_samples``).
* **Logits where they are used.** The LM head (vocab x hidden, 21% of SmolLM2's forward) and the
  log-softmax run only from each row's last prompt position on, not over the prompts.

The result has the layout of :func:`oorl.learner.batch.token_logprobs` (``[B, T-1]``, column
``t-1`` is token ``t``), with zeros where ``loss_mask`` is 0 before a row's first completion token
and after its last token, so callers mask it exactly as before.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch

from oorl.learner.batch import gather_logprobs
from oorl.learner.head import fused_head, head_logprobs, head_returns_hidden


# key/value cache layers (transformers' cache_utils) that replace their tensors when reordered or
# extended, so that a shallow copy of one reorders without touching the original; static layers
# advance a shared position tensor in place
COPYABLE_LAYERS = ("DynamicLayer", "DynamicSlidingWindowLayer")


@dataclass(frozen=True)
class PromptGroups:
    """How the rows of a micro-batch share prompts."""

    starts: torch.Tensor  # [B] each row's first completion position (its prompt's length)
    group: torch.Tensor  # [B] each row's prompt, an index into ``rows``
    rows: torch.Tensor  # [G] one row holding each distinct prompt, in order of first appearance


def prompt_groups(mb: dict[str, torch.Tensor], min_rows: int = 2) -> PromptGroups | None:
    """The distinct prompts of ``mb`` and which rows share each, or None when sharing does not apply:
    fewer than ``min_rows`` rows, a row without completion tokens or with a prompt shorter than 2
    tokens or padded, or (with 2 rows or more) no two rows sharing a prompt, where it gains nothing.

    A row's prompt is its tokens before its first ``loss_mask`` position.
    """
    mask = mb["loss_mask"]
    b = mask.shape[0]
    if b < min_rows or bool((mask.sum(1) == 0).any()):
        return None
    starts = mask.argmax(1)
    if int(starts.min()) < 2:
        return None
    seen: dict[tuple[int, ...], int] = {}
    group, rows = [], []
    for r, (s, ids, att) in enumerate(zip(starts.tolist(), mb["input_ids"].tolist(), mb["attention_mask"].tolist())):
        if not all(att[:s]):
            return None
        g = seen.setdefault(tuple(ids[:s]), len(seen))
        if g == len(rows):
            rows.append(r)
        group.append(g)
    if len(rows) == b and b > 1:
        return None
    return PromptGroups(starts, torch.tensor(group), torch.tensor(rows))


def length_chunks(lengths: list[int], overhead: float) -> list[list[int]]:
    """Rows grouped by length so that each group's forward pads only to its own longest row.

    A forward over rows padded to the longest costs ``rows x longest`` token-forwards; each more forward
    costs ``overhead`` token-forwards of fixed work (dispatch of every layer's ops, smaller matmuls).
    The result minimises ``sum(rows x longest) + overhead x (groups - 1)``: rows sorted by length, split
    at the cheapest points (a split into contiguous runs of the sorted order is optimal), by dynamic
    programming, O(rows^2). Groups come longest first; each lists its row indices, shortest first;
    a single group lists the rows in order. ``overhead`` 0 gives one group per distinct length.
    """
    n = len(lengths)
    if n == 0:
        return []
    if overhead == float("inf"):
        return [list(range(n))]
    order = sorted(range(n), key=lambda r: (lengths[r], r))
    best = [0.0] + [float("inf")] * n  # best[j]: the cost of the first j sorted rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]  # sorted: the run's last row is its longest
        for i in range(j):
            c = best[i] + (j - i) * longest + (overhead if i else 0.0)
            if c < best[j]:
                best[j], cut[j] = c, i
    groups, j = [], n
    while j:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups if len(groups) > 1 else [list(range(n))]


def _first_response_col(mb: dict[str, torch.Tensor]) -> int:
    """The first logprob column any row needs (one before its first completion token), at least 0."""
    mask = mb["loss_mask"]
    has = mask.sum(1) > 0
    if not bool(has.any()):
        return 0
    return max(int(mask[has].argmax(1).min()) - 1, 0)


def micro_batch_logprobs(model, mb: dict[str, torch.Tensor], device, share_prompt: bool = True,
                         temperature: float = 1.0, agree: Callable[[bool], bool] | None = None,
                         fused: bool = True, chunk_overhead: float = float("inf")) -> torch.Tensor:
    """log p(token t | tokens < t) for columns t-1 = 0..T-2 of ``mb``; float32 ``[B, T-1]``.

    ``p`` is softmax(logits / temperature): the distribution vLLM sampled from at that temperature.
    Columns before the first completion token of the micro-batch are 0 (not computed).

    ``agree`` (ZeRO-3 over several ranks): every rank must run the same number of model forwards
    (each one gathers the parameters collectively), so the choice of the shared-prompt path (two
    forwards) or the plain one (one) is made by all ranks together: ``agree(mine)`` is true when
    every rank can share. One-row micro-batches then count as shareable, so that the IR groups'
    chunks (one prompt each, one row or more) agree.

    ``fused``: the LM head and the log-softmax in one function where the model allows it
    (:mod:`oorl.learner.head`; same values, less memory traffic); on the shared-prompt path over the
    completion tokens only, not the padding.

    ``chunk_overhead`` (shared prompts, without ``agree``): the completions run in groups of rows of
    similar length (:func:`length_chunks`, a forward's fixed cost counted as this many token-forwards)
    instead of all padded to the longest; ``inf``: one forward.
    """
    ids = mb["input_ids"].to(device)
    att = mb["attention_mask"].to(device)
    b, t = ids.shape
    inner = getattr(model, "module", model)  # a DeepSpeed engine wraps the HF model
    if inner.training and getattr(inner, "is_gradient_checkpointing", False):
        share_prompt = False  # HF drops the key/value cache of checkpointed layers
    groups = prompt_groups(mb, min_rows=1 if agree else 2) if share_prompt else None
    shared = groups is not None
    if share_prompt and agree is not None:  # two forwards (prompts, completions) on every rank, or one
        shared = agree(shared)
    head = fused_head(model) if fused else None
    if shared:
        overhead = chunk_overhead if agree is None else float("inf")  # ZeRO-3 ranks must run alike
        return _shared_prompt_logprobs(model, ids, att, groups, temperature, head, overhead)
    start = _first_response_col(mb)
    keep = torch.arange(start, t - 1, device=device)
    lp = _scored(model, head, ids[:, start + 1:], temperature, input_ids=ids, attention_mask=att, logits_to_keep=keep)
    return torch.cat([lp.new_zeros(b, start), lp], dim=1)


def _scored(model, head, targets: torch.Tensor, temperature: float, scored: torch.Tensor | None = None,
            **inputs) -> torch.Tensor:
    """A forward of ``model`` on ``inputs``, and the logprobs of ``targets`` at the positions whose
    logits it returns; through :func:`head_logprobs` when ``head`` is the model's LM head, there only
    at the positions where ``scored`` (a bool mask the shape of ``targets``) is true, 0 elsewhere."""
    if head is None:
        logits = model(**inputs).logits
        return gather_logprobs(logits if temperature == 1.0 else logits.float() / temperature, targets)
    with head_returns_hidden(head):
        hidden = model(**inputs).logits
    if scored is None or bool(scored.all()):
        return head_logprobs(hidden, head.weight, targets, temperature)
    lp = head_logprobs(hidden[scored], head.weight, targets[scored], temperature)
    return lp.new_zeros(targets.shape).masked_scatter(scored, lp)


def _shared_prompt_logprobs(model, ids: torch.Tensor, att: torch.Tensor, groups: PromptGroups,
                            temperature: float, head, chunk_overhead: float = float("inf")) -> torch.Tensor:
    """Two forwards or more: every distinct prompt but its last token (batch G), then every row from its
    prompt's last token on, on its prompt's key/value cache (batch B, or several batches of rows of
    similar length: :func:`length_chunks`). The last prompt token runs with the completion so that
    its logits, which score the first completion token, come out of the second forward with the rest;
    it costs one token-forward per row.

    The prompts are left-padded in the cache, so that a query's distance to a cached key in cache
    slots is its distance in the row: sliding-window masks, which Hugging Face builds from slots, and
    caches that keep only a window's last slots then stay exact."""
    b, t = ids.shape
    dev = ids.device
    starts, group, rows = groups.starts.to(dev), groups.group.to(dev), groups.rows.to(dev)
    plen = starts[rows] - 1  # [G] tokens of each prompt in the cache
    width = int(plen.max())
    index = torch.arange(width, device=dev) - (width - plen)[:, None]  # [G, width] prompt token in each slot, < 0: pad
    prompt_att = (index >= 0).long()
    pre = model(input_ids=ids[rows].gather(1, index.clamp(min=0)), attention_mask=prompt_att,
                position_ids=index.clamp(min=0), use_cache=True, logits_to_keep=1)
    cache = pre.past_key_values
    if cache is None or cache.get_seq_length() != width:
        raise RuntimeError("the model kept no key/value cache of the shared prompt; set learner.share_prompt=false")
    n = att.sum(1) - starts  # completion tokens of each row
    if not all(type(layer).__name__ in COPYABLE_LAYERS for layer in getattr(cache, "layers", [None])):
        chunk_overhead = float("inf")  # a cache whose copies would share state (static layers): one forward
    chunks = length_chunks(n.tolist(), chunk_overhead)
    outs = []
    for k, chunk in enumerate(chunks):
        sel = torch.tensor(chunk, device=dev)
        # row r attends to its prompt's keys and values (index_select: gradients flow); the last chunk
        # reorders the prompts' cache itself, the others a copy of it
        rows_cache = _cache_rows(cache, group[sel], in_place=k == len(chunks) - 1)
        outs.append(_completion_logprobs(model, head, ids[sel], starts[sel], n[sel], prompt_att[group[sel]],
                                         rows_cache, temperature))
    order = [r for c in chunks for r in c]
    if order == list(range(b)):
        return torch.cat(outs) if len(outs) > 1 else outs[0]
    where = torch.empty(b, dtype=torch.long, device=dev)
    where[torch.tensor(order, device=dev)] = torch.arange(b, device=dev)
    return torch.cat(outs)[where]  # back to row order


def _cache_rows(cache, index: torch.Tensor, in_place: bool):
    """``cache`` with its batch rows ``index`` (gradients flow to the selected keys and values)."""
    if not in_place:  # a copy whose reorder leaves the original's tensors (and lists of them) as they are
        cache = copy.copy(cache)
        cache.layers = [_shallow_copy(layer) for layer in cache.layers]
    cache.reorder_cache(index)
    return cache


def _shallow_copy(obj):
    new = copy.copy(obj)
    for k, v in vars(obj).items():
        if isinstance(v, (list, dict)):
            setattr(new, k, copy.copy(v))
    return new


def _completion_logprobs(model, head, ids, starts, n, prompt_att, cache, temperature) -> torch.Tensor:
    """``[B, T-1]`` logprobs of rows ``ids`` (each ``n`` completion tokens from ``starts``), run from
    their last prompt token on over ``cache`` (their prompts, ``prompt_att`` marking its real slots)."""
    b, t = ids.shape
    dev = ids.device
    steps = int(n.max())
    pos = (starts - 1)[:, None] + torch.arange(steps, device=dev)  # [B, C] positions in the row
    valid = pos < (starts + n - 1)[:, None]
    body = ids.gather(1, pos.clamp(max=t - 1))
    targets = ids.gather(1, (pos + 1).clamp(max=t - 1))
    lp = _scored(model, head, targets, temperature, scored=valid, input_ids=body, past_key_values=cache,
                 use_cache=True, attention_mask=torch.cat([prompt_att, valid.long()], dim=1),
                 position_ids=pos.clamp(max=t - 1))  # padding cells: no position past the plain forward's
    lp = lp.masked_fill(~valid, 0.0)
    cols = max(t - 1, int(pos.max()) + 1)
    return lp.new_zeros(b, cols).scatter(1, pos, lp)[:, : t - 1]
