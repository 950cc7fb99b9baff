"""``learner.compile``: ``torch.compile`` on the elementwise-heavy pieces of the model, not on all of it.

In eager mode every elementwise op of a decoder layer is one more pass over the activations: RMSNorm
(cast, square, mean, rsqrt, two products), rotary embeddings (two products, a concatenation, a sum
for q and for k), SiLU times the up projection, the attention's mask, softmax and casts, and each of
their backward ops. On CPU they took as long as the matmuls (bench learner step: 1.27 s of matmuls,
1.27 s of other ops). Compiled, each piece runs as a few fused loops.

The pieces, looked up in the model's own modeling module (``transformers.models.llama.modeling_llama``
for a Llama): the ``forward`` of each submodule class whose name ends in ``MLP`` or ``RMSNorm``, and
the module's functions ``apply_rotary_pos_emb`` and ``eager_attention_forward`` (the latter runs with
``learner.attn_implementation: eager``, the CPU default). Each is compiled with dynamic shapes, so
the layers and the batch shapes share compiled graphs: one per grad mode (training, no-grad
passes) and per size-1 specialisation (a micro-batch with one prompt group), not one per shape;
Dynamo's recompile limit is raised to 64 so that these never fall back to eager (first step ~20 s
longer on 2 CPU cores). The whole decoder layer is not compiled: the shared-prompt forward passes it a KV cache, a
Python object that splits the graph, and measured slower (3.2-3.8 s against 3.0-3.3 s eager).

Under ZeRO-3 the submodules' parameters are partitioned and gathered by hooks around their forward,
so only the two parameter-free functions are compiled there.
"""

from __future__ import annotations

import sys

import torch

FUNCTIONS = ("apply_rotary_pos_emb", "eager_attention_forward")
MODULE_SUFFIXES = ("MLP", "RMSNorm")
RECOMPILE_LIMIT = 64  # graphs per compiled function (Dynamo's default, 8, is reachable: policy and reference,
#                       grad and no-grad, size-1 batches)


def compile_pieces(model: torch.nn.Module, zero3: bool = False) -> list[str]:
    """Compile ``model``'s pieces in place (the learner process's model and reference); the names of
    what was compiled, e.g. ``["LlamaMLP", "LlamaRMSNorm", "apply_rotary_pos_emb", ...]``."""
    import torch._dynamo

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    inner = getattr(model, "module", model)
    modeling = sys.modules.get(type(inner).__module__)
    done: list[str] = []
    if not zero3:
        compiled: dict[type, object] = {}
        for m in inner.modules():
            cls = type(m)
            if not cls.__name__.endswith(MODULE_SUFFIXES) or "forward" in vars(m):
                continue
            if cls not in compiled:
                compiled[cls] = torch.compile(cls.forward, dynamic=True)
                done.append(cls.__name__)
            m.forward = compiled[cls].__get__(m, cls)  # one compiled function for every instance
    for name in FUNCTIONS:
        fn = getattr(modeling, name, None)
        if not callable(fn):
            continue
        if not hasattr(fn, "_torchdynamo_orig_callable"):  # not compiled yet (the reference comes second)
            setattr(modeling, name, torch.compile(fn, dynamic=True))  # the forwards look it up at each call
        done.append(name)
    return done
