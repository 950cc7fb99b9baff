"""The rollout worker: a Ray actor around one vLLM engine.

It generates completions (token ids and their logprobs) for prompts given as token ids, scores fixed
sequences for the logprob probe, and exposes the control-plane methods of vLLM's weight-transfer
interface (the ones ``RayVLLMWeightSyncClient`` calls), so every sync backend drives it the same way.
On CPU the engine runs in the actor's own process (no engine-core subprocess): the ``oorl_cpu``
backend then hands bucket tensors straight to the model.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any


class RolloutWorker:
    def __init__(self, model_dir: str, rollout: dict, dtype: str, seed: int, backend: str, use_gpu: bool,
                 max_model_len: int, enable_sleep: bool = False) -> None:
        if not use_gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(rollout["cpu_kv_cache_gib"]))
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        from vllm import LLM
        from vllm.config import WeightTransferConfig

        from oorl.weight_sync.backends import register_backends

        register_backends()
        kwargs: dict[str, Any] = dict(
            model=model_dir, dtype=dtype, seed=seed, enforce_eager=rollout["enforce_eager"],
            tensor_parallel_size=rollout["tensor_parallel_size"], max_model_len=max_model_len,
            weight_transfer_config=WeightTransferConfig(backend=backend),
            worker_extension_cls="oorl.rollout.vllm_ext.OorlWorkerExtension",
        )
        if rollout["temperature"] != 1.0 or rollout["top_p"] < 1.0:
            # the logprobs of the distribution the tokens were drawn from (after temperature and top-p),
            # which importance sampling needs; with neither the raw ones are the same
            kwargs["logprobs_mode"] = "processed_logprobs"
        if not use_gpu:
            # vLLM rewinds a request's seeded generator after a chunked (partial) prefill step, which a
            # torch CPU generator refuses ("CPU Generator does not use offset"): a large seeded batch
            # (an eval of many tasks x samples) would crash the engine. Whole prefills only on CPU.
            kwargs["enable_chunked_prefill"] = False
        if use_gpu:
            kwargs["gpu_memory_utilization"] = rollout["gpu_memory_utilization"]
            kwargs["enable_sleep_mode"] = enable_sleep
            if rollout["tensor_parallel_size"] > 1:
                kwargs["distributed_executor_backend"] = "ray"
        kwargs.update(rollout.get("extra_engine_kwargs") or {})
        self.llm = LLM(**kwargs)
        self.sleeping = False
        # a new id each time the actor starts: the driver tells a restarted engine (which holds the
        # starting weights again) from the one it synced
        self.incarnation = uuid.uuid4().hex

    def get_incarnation(self) -> str:
        return self.incarnation

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
                 top_p: float, stop_token_ids: list[int] | None = None, logprobs: bool = True) -> dict:
        """One completion per prompt (repeat a prompt for a group), each with its own seed; with
        ``logprobs``, the engine's logprob of each completion token (else empty lists: vLLM then skips
        a log-softmax over the vocabulary per token, 5% of a CPU generation)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        t0 = time.perf_counter()
        params = [SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=s,
                                 logprobs=0 if logprobs else None, stop_token_ids=stop_token_ids) for s in seeds]
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        rows = []
        for o in outs:
            c = o.outputs[0]
            lps = [lp[t].logprob for lp, t in zip(c.logprobs or [], c.token_ids)]
            rows.append({"token_ids": list(c.token_ids), "text": c.text, "logprobs": lps,
                         "finish_reason": c.finish_reason})
        return {"rows": rows, "time_s": time.perf_counter() - t0, "start": time.time() - (time.perf_counter() - t0),
                "incarnation": self.incarnation}

    def generate_batch(self, payload: dict, max_new_tokens: int, temperature: float, top_p: float) -> dict:
        """:meth:`generate` on ``{"prompts", "seeds", "logprobs"}`` (one object in Ray's store per engine
        and step)."""
        return self.generate(payload["prompts"], payload["seeds"], max_new_tokens, temperature, top_p,
                             logprobs=payload["logprobs"])

    def prompt_logprobs_batch(self, payload: dict) -> dict:
        return {"rows": self.prompt_logprobs(payload["seqs"], payload["starts"]), "incarnation": self.incarnation}

    def prompt_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[list[float]]:
        """logp of each token of ``seqs[i][starts[i]:]`` given what precedes it (the probe check)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        outs = self.llm.generate([TokensPrompt(prompt_token_ids=s) for s in seqs],
                                 SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0), use_tqdm=False)
        rows = []
        for o, s, st in zip(outs, seqs, starts):
            rows.append([o.prompt_logprobs[t][s[t]].logprob for t in range(st, len(s))])
        return rows

    # ------------------------------------------------------------------ colocated GPUs
    def sleep(self) -> None:
        if not self.sleeping:
            self.llm.sleep(level=1)
            self.sleeping = True

    def wake_up(self) -> None:
        if self.sleeping:
            self.llm.wake_up()
            self.sleeping = False

    # ------------------------------------------------------------------ weight transfer control plane
    def init_weight_transfer_engine(self, request) -> None:
        self.llm.collective_rpc("init_weight_transfer_engine", args=(request.init_info,))

    def start_weight_update(self) -> None:
        self.llm.collective_rpc("start_weight_update")

    def update_weights(self, request) -> None:
        self.llm.collective_rpc("update_weights", args=(request.update_info,))

    def finish_weight_update(self) -> None:
        self.llm.collective_rpc("finish_weight_update")
        self.llm.reset_prefix_cache()  # cached KV was computed with the old weights

    def shutdown_weight_transfer_engine(self) -> None:
        self.llm.collective_rpc("shutdown_weight_transfer_engine")

    def update_weight_version(self, version: str) -> None:
        self.weight_version = version

    def weight_checksum(self, name: str) -> float:
        """Sum of one parameter as the engine holds it (for tests)."""
        return self.llm.collective_rpc("oorl_param_sum", args=(name,))[0]
