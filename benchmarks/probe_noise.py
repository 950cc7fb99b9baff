"""The probe check's noise floor: |logp_engine - logp_learner| with the same weights on both sides.

vLLM's CPU engine (in-process) and the learner's logprob code (``oorl.learner.forward``, a Hugging Face
model) score the same sequences in ``--dtype``: the prompts of a run's ``probe.json`` with their greedy
completions (what the probe check scores) and ``--samples`` sampled completions of each (temperature 1,
less likely tokens). Prints the largest gap per sequence and overall; ``weight_sync.logprob_tolerance:
auto`` (``oorl.config.AUTO_LOGPROB_TOLERANCE``) was set from these figures.

Usage: ``.venv/bin/python benchmarks/probe_noise.py --probe runs/<run>/probe.json --dtype bfloat16``
"""

import argparse
import json
import os

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--probe", required=True, help="a run's probe.json")
    p.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=159)
    a = p.parse_args()
    import torch
    from transformers import AutoModelForCausalLM
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from oorl.learner.batch import build_batch
    from oorl.learner.forward import micro_batch_logprobs
    from oorl.models import resolve_model

    model_dir = resolve_model(a.model, "~/.cache/oorl/models")
    probe = json.load(open(a.probe))
    llm = LLM(model=model_dir, dtype=a.dtype, enforce_eager=True, max_model_len=1024, seed=1,
              enable_chunked_prefill=False)
    sampled = [p for p in probe["prompts"] for _ in range(a.samples)]
    outs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in sampled],
                        [SamplingParams(max_tokens=a.max_new_tokens, temperature=1.0, seed=i) for i in range(len(sampled))],
                        use_tqdm=False)
    prompts = probe["prompts"] + sampled
    resps = probe["responses"] + [list(o.outputs[0].token_ids) for o in outs]
    seqs = [x + y for x, y in zip(prompts, resps)]
    scored = llm.generate([TokensPrompt(prompt_token_ids=s) for s in seqs],
                          SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0), use_tqdm=False)
    engine = [[o.prompt_logprobs[t][s[t]].logprob for t in range(len(pr), len(s))]
              for o, s, pr in zip(scored, seqs, prompts)]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, a.dtype)).eval()
    gaps = []
    with torch.no_grad():
        for pr, r, e in zip(prompts, resps, engine):
            b = build_batch([pr], [r], [0.0], pad_id=0)
            lp = micro_batch_logprobs(model, b, "cpu", share_prompt=False)[0]
            mine = lp[b["loss_mask"][0, 1:].bool()].tolist()
            gaps.append(max(abs(x - y) for x, y in zip(e, mine)))
    n = len(probe["prompts"])
    print(f"{a.dtype}: {len(seqs)} sequences, {sum(len(r) for r in resps)} completion tokens")
    print(f"  greedy (the probe's): largest gap per sequence {[round(g, 4) for g in gaps[:n]]}")
    print(f"  sampled:              largest gap per sequence {[round(g, 4) for g in gaps[n:]]}")
    print(f"  largest gap {max(gaps):.3g}")


if __name__ == "__main__":
    main()
