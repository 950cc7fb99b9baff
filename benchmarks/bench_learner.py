"""How well the learner uses this CPU: one training step of the bench setting, its FLOPs, its FLOP/s
next to this machine's matmul peak at the same dtype and thread count, and where the time goes.

The setting is configs/bench-cpu.yaml's learner (SmolLM2-135M-Instruct, ZeRO stage 0, one rank,
4 prompts x 8 samples, micro-batches of 8, one optimizer update), fed a batch of that shape made on the
spot: each prompt ``--prompt-tokens`` random tokens shared by its 8 rows, each completion
``--response-tokens`` random tokens, random advantages (the work does not depend on the token values).
The step is OORL's own ``LearnerWorker.train_step`` (DeepSpeed engine, shared-prompt forward, PPO-clip
loss), run in a fresh process per dtype.

Per dtype:

* **peak**: ``a @ b`` at the learner's matmul shapes (rows = the completion forward's 8 x response
  tokens; hidden -> q/o, k/v, MLP, LM head) and one large square one, best of ``--reps``, at
  ``--threads`` torch threads; the peak is the fastest of them;
* **FLOPs** of one step: ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and attention, forward
  and backward; elementwise work is not counted), run eager (``learner.compile`` compiles on the next
  step, which is not timed);
* **timers** of ``--steps`` steps (the fastest is reported): forward (the model plus the vocabulary log-softmax, of which the
  log-softmax alone; with ``learner.fused_logprobs``, the default, the LM head's matmul with it), ``engine.backward``, ``engine.step`` split into the AdamW update itself and
  DeepSpeed's work around it (gradient copies to the fp32 master weights, norm and clipping, copying the
  master weights back to the model), and the rest of ``train_step``;
* **profile** of one more step (``torch.profiler``, self CPU time of the calling thread), by kind:
  matmul, attention (SDPA's kernels, or eager attention's batched matmuls and softmax, forward and
  backward), vocabulary log-softmax (forward and its backward nodes; the fused head's matmuls count as
  matmuls), optimizer step
  (everything under ``engine.step``), other (norms, activations, casts, loss, bookkeeping).

Usage: ``.venv/bin/python benchmarks/bench_learner.py [--dtypes float32 bfloat16] [--threads 2]
[--json out.json]``. The machine's other load is printed with the figures (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "bench-cpu.yaml"))
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. learner.zero_stage=2")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--threads", type=int, default=2, help="torch threads (bench-cpu.yaml: learner.cpus_per_worker)")
    p.add_argument("--prompt-tokens", type=int, default=40)
    p.add_argument("--response-tokens", type=int, default=64)
    p.add_argument("--lengths", choices=["fixed", "bimodal"], default="fixed",
                   help="completion lengths: all --response-tokens, or bimodal (3 of 4 near that cap, the rest "
                        "short; learner.length_chunks then groups rows by length)")
    p.add_argument("--reps", type=int, default=5, help="matmul repetitions per shape (best counts)")
    p.add_argument("--steps", type=int, default=2, help="timed training steps per dtype (the fastest counts)")
    p.add_argument("--allocator", choices=["auto", "tcmalloc", "system"], default="auto",
                   help="memory allocator of the learner process (placement.cpu_allocator; auto: tcmalloc where installed)")
    p.add_argument("--top-ops", type=int, default=0, metavar="N",
                   help="also list the N ops with the most self CPU time in the profile's 'other' kind")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------- child process
def learner_matmul_shapes(hf, rows: int) -> dict[str, tuple[int, int, int]]:
    """The learner's matmuls as ``(m, k, n)`` for ``rows`` token rows of a micro-batch (attention
    projections, MLP, LM head), and one large square one."""
    h, inter, vocab = hf.hidden_size, hf.intermediate_size, hf.vocab_size
    kv = h // hf.num_attention_heads * hf.num_key_value_heads
    return {f"q,o  ({rows} tok) x{h} -> {h}": (rows, h, h), f"k,v  ({rows} tok) x{h} -> {kv}": (rows, h, kv),
            f"mlp  ({rows} tok) x{h} -> {inter}": (rows, h, inter), f"down ({rows} tok) x{inter} -> {h}": (rows, inter, h),
            f"head ({rows} tok) x{h} -> {vocab}": (rows, h, vocab), "square 2048^3": (2048, 2048, 2048)}


def matmul_peak(shapes: dict[str, tuple[int, int, int]], dtype, reps: int) -> dict[str, float]:
    """GFLOP/s of ``(m, k) @ (k, n)`` per named shape, best of ``reps`` timed runs after a warm-up."""
    import torch

    out = {}
    for name, (m, k, n) in shapes.items():
        a = torch.randn(m, k).to(dtype)
        b = torch.randn(k, n).to(dtype)
        a @ b
        t0 = time.perf_counter()
        a @ b
        inner = max(1, int(0.05 / max(time.perf_counter() - t0, 1e-6)))  # a rep of >= ~50 ms
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                a @ b
            best = min(best, (time.perf_counter() - t0) / inner)
        out[name] = 2 * m * k * n / best / 1e9
    return out


def count_cpu_attention() -> None:
    """Teach FlopCounterMode the CPU flash-attention ops (SDPA's CPU kernel, which torch's table lacks),
    with the formulas it uses for the CUDA ones (full Lq x Lk, the causal mask's savings not deducted)."""
    import torch
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    fwd, bwd = aten._scaled_dot_product_flash_attention_for_cpu, aten._scaled_dot_product_flash_attention_for_cpu_backward
    if fwd.default in fc.flop_registry or fwd in fc.flop_registry:
        return
    fc.register_flop_formula(fwd)(lambda q, k, v, *a, out_shape=None, **kw: fc.sdpa_flop_count(q, k, v))
    fc.register_flop_formula(bwd)(lambda g, q, k, v, *a, out_shape=None, **kw: fc.sdpa_backward_flop_count(g, q, k, v))


def make_batch(cfg, vocab: int, prompt_tokens: int, response_tokens: int, seed: int = 0,
               lengths: str = "fixed") -> dict:
    """The bench batch. ``lengths``: ``fixed``, every completion ``response_tokens`` long; ``bimodal``,
    as GRPO completions under a token cap often are: in each group 3 of 4 run to within 4 tokens of
    the cap, the rest stop early (8 to cap/2 tokens)."""
    import torch

    from oorl.learner.batch import build_batch

    g = torch.Generator().manual_seed(seed)
    rc = cfg.rollout
    prompts, responses = [], []
    for _ in range(rc.prompts_per_step):
        prompt = torch.randint(10, vocab, (prompt_tokens,), generator=g).tolist()
        for i in range(rc.n_samples):
            n = response_tokens
            if lengths == "bimodal":
                half = max(response_tokens // 2, 1)
                lo, hi = (max(response_tokens - 4, 1), response_tokens) if i % 4 else (min(8, half), half)
                n = int(torch.randint(lo, hi + 1, (), generator=g))
            prompts.append(prompt)
            responses.append(torch.randint(10, vocab, (n,), generator=g).tolist())
    adv = torch.randn(len(prompts), generator=g).tolist()
    return build_batch(prompts, responses, adv, pad_id=0)


class Timers:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def wrap(self, key: str, fn):
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.t[key] = self.t.get(key, 0.0) + time.perf_counter() - t0
        return timed


def mark_eager_attention() -> None:
    """Name eager attention's forward in the profile (learner.attn_implementation: eager, the CPU
    default): its ops are a plain bmm and softmax otherwise counted as matmul and other."""
    import torch
    import transformers.models.llama.modeling_llama as llama

    real = llama.eager_attention_forward

    def marked(*args, **kw):
        with torch.profiler.record_function("oorl.attention"):
            return real(*args, **kw)

    llama.eager_attention_forward = marked


def attention_flops(flops_by_op: dict[str, int]) -> int:
    """SDPA's FLOPs, or eager attention's (the model's only batched matmuls: scores and values; the
    rotary embedding's tiny outer product is one too)."""
    return sum(v for k, v in flops_by_op.items() if "scaled_dot_product" in k or "flash_attention" in k or "bmm" in k)


def categorize(prof) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds of self CPU time on the stepping thread by kind (see the module docstring), and the
    'other' kind's seconds by op name."""
    vocab_marks = ("oorl.vocab_logsoftmax", "LogsumexpBackward0", "GatherBackward0", "_HeadLogprobsBackward")
    matmul = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm"}
    out = {"matmul": 0.0, "attention": 0.0, "vocab log-softmax": 0.0, "optimizer step": 0.0, "other": 0.0}
    other: dict[str, float] = {}
    events = prof.events()
    main = max({e.thread for e in events}, key=lambda th: sum(e.self_cpu_time_total for e in events if e.thread == th))
    for e in events:
        if e.thread != main:
            continue
        chain, p = [], e
        while p is not None:
            chain.append(p.name)
            p = p.cpu_parent
        if any(any(m in n for m in vocab_marks) for n in chain):  # the fused head's matmuls count as matmuls
            kind = "matmul" if e.name in matmul else "vocab log-softmax"
        elif any(n == "oorl.optimizer_step" for n in chain):
            kind = "optimizer step"
        elif ("scaled_dot_product" in e.name or "flash_attention" in e.name
              or any(n == "oorl.attention" or "BmmBackward" in n or "SoftmaxBackward" in n for n in chain)):
            kind = "attention"
        elif e.name in matmul:
            kind = "matmul"
        else:
            kind = "other"
            other[e.name] = other.get(e.name, 0.0) + e.self_cpu_time_total / 1e6
        out[kind] += e.self_cpu_time_total / 1e6
    return out, other


TURNS = lambda steps: steps + 4  # peak, warm-up, each timed step, profile, the end  # noqa: E731


def turn() -> None:
    """Tell the parent the last phase is over and wait for its go: the dtypes' processes take turns, so
    each phase of one meets the same other load as the same phase of the other."""
    print("@@done", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("bench_learner: the parent went away")


def child(a: argparse.Namespace) -> dict:
    import socket

    import torch

    import oorl.learner.forward as fwd
    from oorl.config import load_config
    from oorl.learner.worker import LearnerWorker
    from oorl.models import resolve_model

    dtype_name = a._child
    cfg = load_config(a.config, [*a.set, f"model.dtype={dtype_name}", "weight_sync.probe_size=0"])
    model_dir = resolve_model(cfg.model.path, cfg.model.cache_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    worker = LearnerWorker(cfg.model_dump(), model_dir, 0, 1, "127.0.0.1", port, use_gpu=False, num_threads=a.threads)
    dtype = torch.bfloat16 if dtype_name == "bfloat16" else torch.float32
    hf = worker.engine.module.config
    shapes = learner_matmul_shapes(hf, cfg.learner.micro_batch_size * a.response_tokens)
    turn()
    peak = matmul_peak(shapes, dtype, a.reps)
    batch = make_batch(cfg, hf.vocab_size, a.prompt_tokens, a.response_tokens, lengths=a.lengths)

    # timers: patch this process's functions and the engine's methods (the step's code is unchanged)
    timers = Timers()
    def vocab_marked(fn):
        def marked(*args, **kw):
            with torch.profiler.record_function("oorl.vocab_logsoftmax"):
                return fn(*args, **kw)
        return timers.wrap("vocab log-softmax (fwd)", marked)

    fwd.gather_logprobs = vocab_marked(fwd.gather_logprobs)
    fwd.head_logprobs = vocab_marked(fwd.head_logprobs)  # learner.fused_logprobs: the LM head's matmul with it
    worker._logprobs = timers.wrap("forward", worker._logprobs)
    worker.engine.backward = timers.wrap("backward", worker.engine.backward)
    real_step = worker.engine.step

    def step_marked(*args, **kw):
        with torch.profiler.record_function("oorl.optimizer_step"):
            return real_step(*args, **kw)

    worker.engine.step = timers.wrap("engine.step", step_marked)
    basic = worker.engine.basic_optimizer
    basic.step = timers.wrap("AdamW update", basic.step)

    from torch.utils.flop_counter import FlopCounterMode

    count_cpu_attention()
    mark_eager_attention()
    turn()
    t0 = time.perf_counter()
    # the warm-up step, counted, eager: compiling (learner.compile) inside a dispatch mode leaves a graph
    # that runs ~10% slower afterwards; the FLOPs are the same. Then the compiled pieces' first step.
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as fc:
        worker.train_step(batch)
    warm_s = time.perf_counter() - t0
    compile_s = None
    if cfg.learner.compile:
        t0 = time.perf_counter()
        worker.train_step(batch)
        compile_s = time.perf_counter() - t0
    flops = fc.get_total_flops()
    by_op = {str(k): v for k, v in fc.get_flop_counts().get("Global", {}).items()}

    steps = []  # (seconds, timers) of each timed step; the fastest one is reported (the least disturbed)
    for _ in range(a.steps):
        turn()
        timers.t.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        metrics = worker.train_step(batch)
        steps.append((time.perf_counter() - t0, dict(timers.t), time.process_time() - c0))
    step_s, timed, cpu_s = min(steps, key=lambda x: x[0])

    turn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        worker.train_step(batch)
        prof_s = time.perf_counter() - t0
    turn()
    kinds, other_ops = categorize(prof)
    tokens = int(batch["attention_mask"].sum())
    from oorl.allocator import allocator_in_use

    return {"dtype": dtype_name, "zero_stage": cfg.learner.zero_stage, "threads": torch.get_num_threads(),
            "allocator": allocator_in_use(), "precision": worker.precision(),
            "attention_kernel": worker.attn or "sdpa (Hugging Face's default)",
            "peak_gflops": peak, "flops": flops, "flops_by_op": by_op, "warmup_step_s": warm_s, "compile_step_s": compile_s,
            "step_s": step_s, "all_steps_s": [x[0] for x in steps], "cpu_s": cpu_s,
            "all_steps_cpu_s": [x[2] for x in steps], "timers": timed, "profiled_step_s": prof_s, "profile": kinds,
            "profile_other_ops": dict(sorted(other_ops.items(), key=lambda kv: -kv[1])[:50]), "tokens": tokens,
            "loss": metrics.get("loss"), "loadavg": os.getloadavg(), "lengths": a.lengths,
            "length_chunks": cfg.learner.length_chunks,
            "padded_tokens": int(batch["attention_mask"].shape[0] * batch["attention_mask"].shape[1])}


# ----------------------------------------------------------------------------------- report
def report(results: list[dict], top_ops: int = 0) -> None:
    print(f"\nload average (1/5/15 min) at the end: {' '.join('%.1f' % x for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    for r in results:
        p = r["precision"]
        print(f"\n== {r['dtype']}: ZeRO stage {r['zero_stage']}, {r['threads']} threads; {p['compute']} compute, {p['master']} master weights, "
              f"{p['optimizer_state']} Adam state ({p['optimizer']}); {r['attention_kernel']} attention; {r.get('allocator', '?')} "
              f"allocator; {r['tokens']} tokens in the batch ({r.get('lengths', 'fixed')} completion lengths, "
              f"{r.get('padded_tokens', '?')} padded; learner.length_chunks {r.get('length_chunks', '?')})")
        print("matmul peak (GFLOP/s, best of reps):")
        for name, g in r["peak_gflops"].items():
            print(f"  {name:<34} {g:8.1f}")
        peak = max(r["peak_gflops"].values())
        achieved = r["flops"] / r["step_s"] / 1e9
        att = attention_flops(r["flops_by_op"])
        print(f"step FLOPs (FlopCounterMode): {r['flops'] / 1e9:.1f} GFLOP ({att / 1e9:.2f} of them attention)")
        print(f"timed steps {', '.join('%.2f' % x for x in r['all_steps_s'])} s wall, "
              f"{', '.join('%.2f' % x for x in r['all_steps_cpu_s'])} s CPU (all threads); the fastest:")
        print(f"step time {r['step_s']:.2f} s -> {achieved:.1f} GFLOP/s achieved = {100 * achieved / peak:.1f}% "
              f"of the {peak:.1f} GFLOP/s matmul peak; {r['tokens'] / r['step_s']:.0f} tokens/s")
        print(f"  CPU time of that step {r['cpu_s']:.2f} s ({r['cpu_s'] / r['step_s']:.2f} of {r['threads']} threads busy): "
              f"{r['flops'] / r['cpu_s'] / 1e9:.1f} GFLOP per CPU-second (less sensitive to other load than wall time)")
        t = r["timers"]
        fwd, lsm, bwd = t.get("forward", 0), t.get("vocab log-softmax (fwd)", 0), t.get("backward", 0)
        step, adam = t.get("engine.step", 0), t.get("AdamW update", 0)
        rest = r["step_s"] - fwd - bwd - step
        print("timers (one step):")
        for name, v in (("forward (model + vocab log-softmax)", fwd), ("  of which vocab log-softmax", lsm),
                        ("backward", bwd), ("engine.step", step), ("  AdamW update", adam),
                        ("  DeepSpeed around it", step - adam), ("rest of train_step", rest),
                        ("total", r["step_s"])):
            print(f"  {name:<38} {v:7.2f} s {100 * v / r['step_s']:5.1f}%")
        total = sum(r["profile"].values())
        print(f"profile (another step, {r['profiled_step_s']:.2f} s; self CPU time on the stepping thread):")
        for name, v in r["profile"].items():
            print(f"  {name:<38} {v:7.2f} s {100 * v / total:5.1f}%")
        if top_ops:
            print(f"  the 'other' kind's {top_ops} largest ops:")
            for name, v in list(r.get("profile_other_ops", {}).items())[:top_ops]:
                print(f"    {name:<36} {v:7.3f} s")
    if len(results) == 2:
        a, b = results
        print(f"\n{b['dtype']} vs {a['dtype']}: step {a['step_s'] / b['step_s']:.2f}x faster (wall), "
              f"{a['cpu_s'] / b['cpu_s']:.2f}x less CPU time, matmul peak "
              f"{max(b['peak_gflops'].values()) / max(a['peak_gflops'].values()):.2f}x")


def main() -> None:
    a = parse_args()
    if a._child:
        res = child(a)
        Path(a._out).write_text(json.dumps(res))
        return
    procs, outs, logs = [], [], []
    from oorl.allocator import cpu_allocator_env

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), DS_ACCELERATOR="cpu", **cpu_allocator_env(a.allocator))
    for dt in a.dtypes:  # one process per dtype, loaded side by side, then taking turns phase by phase
        out = Path(f"/tmp/bench_learner_{os.getpid()}_{dt}.json")
        log = Path(f"/tmp/bench_learner_{os.getpid()}_{dt}.log")
        cmd = [sys.executable, __file__, "--_child", dt, "--_out", str(out), "--config", a.config,
               "--threads", str(a.threads), "--prompt-tokens", str(a.prompt_tokens),
               "--response-tokens", str(a.response_tokens), "--lengths", a.lengths, "--reps", str(a.reps), "--steps", str(a.steps),
               "--set", *a.set]
        procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=log.open("w"), text=True))
        outs.append(out)
        logs.append(log)

    def wait_done(i: int) -> None:
        for line in procs[i].stdout:
            if line.strip() == "@@done":
                return
        procs[i].wait()
        sys.exit(f"bench_learner: the {a.dtypes[i]} run failed:\n{logs[i].read_text()[-3000:]}")

    print(f"loading {', '.join(a.dtypes)} ...", flush=True)
    for i in range(len(procs)):
        wait_done(i)  # loaded: each now waits for its turn
    for phase in range(TURNS(a.steps)):
        for i, proc in enumerate(procs):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            if phase < TURNS(a.steps) - 1:
                wait_done(i)
    results = []
    for i, proc in enumerate(procs):
        if proc.wait() != 0:
            sys.exit(f"bench_learner: the {a.dtypes[i]} run failed:\n{logs[i].read_text()[-3000:]}")
        results.append(json.loads(outs[i].read_text()))
        outs[i].unlink()
        logs[i].unlink()
    report(results, a.top_ops)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
