"""Synchronous vs asynchronous rollouts (``trainer.async_steps``) on the same CPU setting.

Both runs use ``configs/bench-cpu.yaml`` (SmolLM2-135M-Instruct, fp32, 4 prompts x 8 samples of at
most 64 new tokens, letter_match reward, one update per step) with split placement and one core per
role: the learner rank trains on one core, the vLLM engine generates on the other
(``learner.cpus_per_worker=1``, one engine). Synchronous, a step is generate -> reward -> train ->
sync -> probe, so one core idles while the other works; asynchronous, the engine generates step k+1
while the learner trains on step k. After ``--warmup`` steps, ``--steps`` steps are measured: the mean
step time (the loop's wall clock per step), the phases, how much of each generation ran during the
previous update (``async/overlap_share``) and how stale the trained samples were.

    python benchmarks/bench_async.py [--steps 5] [--warmup 1] [--json out.json] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OORL = str(Path(sys.executable).parent / "oorl")


def run(mode: str, steps: int, work: Path, extra: list[str]) -> dict:
    out = work / mode
    args = [OORL, "train", "--config", "configs/bench-cpu.yaml", "--output-dir", str(out),
            "placement.mode=split", "learner.cpus_per_worker=1", "placement.ray_address=local",
            f"trainer.async_steps={1 if mode == 'async' else 0}", f"trainer.steps={steps}", "weight_sync.probe_size=4",
            *extra]
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if r.returncode != 0:
        sys.exit(f"{mode} run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    metrics = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    timeline = [json.loads(ln) for ln in (out / "timeline.jsonl").read_text().splitlines() if ln.strip()]
    return {"metrics": metrics, "timeline": timeline, "wall_s": time.perf_counter() - t0, "dir": str(out)}


def summarize(res: dict, warmup: int) -> dict:
    m = res["metrics"][warmup:]
    ends = {row["step"]: max(sp["end"] for sp in row["spans"]) for row in res["timeline"]}
    first, last = m[0]["step"] - 1, m[-1]["step"]
    mean = lambda key: statistics.fmean(x.get(key, 0.0) for x in m)  # noqa: E731
    return {
        "steps": len(m),
        "s_per_step": (ends[last] - ends[first]) / len(m),  # the loop's wall clock between step ends
        "step_time_s": mean("step_time_s"),
        "generate_s": mean("time/generate_s"), "wait_generate_s": mean("time/wait_generate_s"),
        "reward_s": mean("time/reward_s"), "train_s": mean("time/train_s"), "sync_s": mean("time/sync_s"),
        "probe_s": mean("time/probe_s"), "overlap_share": mean("async/overlap_share"),
        "staleness_mean": mean("async/staleness_mean"), "reward_mean": mean("reward_mean"),
        "completion_tokens_per_s": sum(x["response_len_mean"] * 32 for x in m) / (ends[last] - ends[first]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--work-dir", type=Path)
    ap.add_argument("overrides", nargs="*", help="more config overrides for both runs")
    a = ap.parse_args()
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="bench-async-"))
    load0 = os.getloadavg()
    out = {"setting": "configs/bench-cpu.yaml, split placement, 1 learner core + 1 engine core",
           "machine": f"{os.cpu_count()} cores", "loadavg_before": load0}
    for mode in ("sync", "async"):
        res = run(mode, a.warmup + a.steps, work, a.overrides)
        out[mode] = summarize(res, a.warmup)
        out[mode]["dir"] = res["dir"]
    out["loadavg_after"] = os.getloadavg()
    out["speedup"] = out["sync"]["s_per_step"] / out["async"]["s_per_step"]
    print(f"setting: {out['setting']}; {a.steps} steps after {a.warmup} warm-up; load average "
          f"{load0[0]:.1f} before, {out['loadavg_after'][0]:.1f} after ({os.cpu_count()} cores)")
    print("| mode | s/step | completion tok/s | generate s | train s | reward s | sync+probe s | generation "
          "during the previous update | staleness |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in ("sync", "async"):
        s = out[mode]
        print(f"| {mode} | {s['s_per_step']:.2f} | {s['completion_tokens_per_s']:.1f} | {s['generate_s']:.2f} | "
              f"{s['train_s']:.2f} | {s['reward_s']:.2f} | {s['sync_s'] + s['probe_s']:.2f} | "
              f"{100 * s['overlap_share']:.0f}% | {s['staleness_mean']:.2f} |")
    print(f"async speed-up: {out['speedup']:.2f}x (sync s/step over async s/step)")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
