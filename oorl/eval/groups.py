"""The GEPO eval: on held-out IR groups (split by source problem), does the policy prefer the
equivalent IRs over the inequivalent ones, relative to the reference policy?

Per group, with the implicit reward ``r(y) = beta * (log pi(y|x) - log pi_ref(y|x))``: the margin
``mean_{Y_w} r - mean_{Y_l} r``. The summary: ``accuracy``, the share of groups whose margin is
positive (a tie counts one half, so the reference policy itself, where every margin is 0, scores
exactly 0.5: chance), with a Wilson 95% interval; ``margin``, the mean margin, with a normal 95%
interval; a two-sided sign test of "positive as often as negative" over the untied groups; and the
policy's own mean sequence log-probs of each side. Computed by the learner ranks during training
(``LearnerWorker.offpolicy_eval``) and in-process by ``oorl eval`` (``local_group_margins``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from oorl.eval.metrics import wilson_interval

TIE = 1e-6  # |margin| below this is a tie (the reference against itself gives exactly 0)


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` vs ``losses`` under p = 1/2."""
    n, k = wins + losses, max(wins, losses)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def group_metrics(per_group: Sequence[dict]) -> dict:
    """Summary of per-group results (``margin``, ``reward_w``, ``reward_l``, ``logp_w``, ``logp_l``)."""
    n = len(per_group)
    if n == 0:
        return {"groups": 0}
    margins = [g["margin"] for g in per_group]
    wins = sum(m > TIE for m in margins)
    losses = sum(m < -TIE for m in margins)
    ties = n - wins - losses
    acc = (wins + ties / 2) / n
    lo, hi = wilson_interval(round(wins + ties / 2), n)
    mean = sum(margins) / n
    sd = math.sqrt(sum((m - mean) ** 2 for m in margins) / (n - 1)) if n > 1 else 0.0
    half = 1.959964 * sd / math.sqrt(n)

    def avg(key):
        return sum(g[key] for g in per_group) / n

    return {"groups": n, "accuracy": acc, "accuracy_ci_low": lo, "accuracy_ci_high": hi, "wins": wins,
            "ties": ties, "losses": losses, "sign_test_p": sign_test_p(wins, losses), "margin": mean,
            "margin_ci_low": mean - half, "margin_ci_high": mean + half, "reward_w": avg("reward_w"),
            "reward_l": avg("reward_l"), "logp_w": avg("logp_w"), "logp_l": avg("logp_l")}


def metrics_for_log(m: dict, prefix: str = "eval/gepo/") -> dict[str, float]:
    return {prefix + k: float(v) for k, v in m.items()}


def to_markdown(m: dict, title: str = "GEPO eval: held-out IR groups") -> str:
    if not m.get("groups"):
        return f"# {title}\n\nno held-out group\n"
    return "\n".join([
        f"# {title}", "",
        f"{m['groups']} held-out groups; implicit reward r = beta (log pi - log pi_ref), margin = mean r(winners) "
        "- mean r(losers).", "",
        "| metric | value | 95% CI |", "|---|---|---|",
        f"| accuracy (margin > 0; ties half) | {100 * m['accuracy']:.1f}% | "
        f"{100 * m['accuracy_ci_low']:.1f}% - {100 * m['accuracy_ci_high']:.1f}% |",
        f"| mean margin | {m['margin']:.4f} | {m['margin_ci_low']:.4f} - {m['margin_ci_high']:.4f} |",
        f"| groups won / tied / lost | {m['wins']} / {m['ties']} / {m['losses']} | sign test p = {m['sign_test_p']:.2g} |",
        f"| mean log pi(winner) / log pi(loser) | {m['logp_w']:.2f} / {m['logp_l']:.2f} | |", ""])


def write_group_report(m: dict, per_group: Sequence[dict], out_dir: str | Path, extra: dict | None = None) -> list[Path]:
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    j, md = out / "groups.json", out / "groups.md"
    j.write_text(json.dumps({**(extra or {}), "metrics": m, "per_group": list(per_group)}, indent=2) + "\n")
    md.write_text(to_markdown(m))
    return [j, md]


class _LocalModels:
    """What ``oorl.learner.offpolicy.group_margins`` reads of a learner rank, over two plain HF models."""

    def __init__(self, cfg, policy, ref):
        import torch

        self.cfg, self.engine, self.ref, self.device = cfg, policy, ref, torch.device("cpu")

    def _logprobs(self, model, mb):
        from oorl.learner.forward import micro_batch_logprobs

        return micro_batch_logprobs(model, mb, self.device, share_prompt=True)


def local_group_margins(cfg, model_dir: str, ref_dir: str, tokenizer, stream) -> list[dict]:
    """``oorl eval``: the held-out groups' margins of ``model_dir`` against ``ref_dir`` in this process."""
    import torch
    from transformers import AutoModelForCausalLM

    from oorl.learner.offpolicy import group_margins

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[cfg.model.dtype]
    policy = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
    ref = policy if Path(model_dir).resolve() == Path(ref_dir).resolve() else \
        AutoModelForCausalLM.from_pretrained(ref_dir, dtype=dtype).eval()
    (batch,) = stream.eval_shards(1)
    return group_margins(_LocalModels(cfg, policy, ref), batch, cfg.algo.gepo.beta)
