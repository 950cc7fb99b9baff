"""The ``multipl_e`` eval scorer: MultiPL-E problems judged as MultiPL-E runs them (prompt +
completion + tests, or an instruct model's whole function + tests: :mod:`oorl.reward.multipl_e`).

pass@1 and unbiased pass@k per language, the average over languages (``average_pass@1``, as the OORL
paper's table reports it), failures by kind. Tasks come from the ``multipl_e`` data format.
"""

from __future__ import annotations

from oorl.eval.scorers import SCORERS, Outcome, Scorer

# the OORL paper's table order; other languages follow
PAPER_ORDER = ("py", "cpp", "java", "php", "sh", "js", "ts", "cs")
KINDS = ("wrong_answer", "compile_error", "runtime_error", "timeout", "no_code", "infra_error")


@SCORERS.register("multipl_e")
class MultiplEScorer(Scorer):
    failure_kinds = KINDS
    breakdown = ("language", "benchmark")

    def judge(self, tasks, completions, rewards=()):
        from oorl.reward.multipl_e import failure_kind, judge_completions

        problems = [{"name": t["name"], "language": t["language"], "prompt": t["problem_prompt"], "tests": t["tests"],
                     "stop_tokens": t["stop_tokens"]} for t, cs in zip(tasks, completions) for _ in cs]
        flat = [c for cs in completions for c in cs]
        results = iter(judge_completions(problems, flat))
        out = []
        for cs in completions:
            row = []
            for _ in cs:
                r = next(results)
                kind = {"passed": "correct", "sandbox_error": "infra_error"}.get(failure_kind(r), failure_kind(r))
                row.append(Outcome(r.passed, kind, detail=(r.detail or "")[:300]))
            out.append(row)
        return out

    def summarize(self, tasks, outcomes):
        m = super().summarize(tasks, outcomes)
        langs = m.get("by_language", {})
        ordered = [c for c in PAPER_ORDER if c in langs] + sorted(c for c in langs if c not in PAPER_ORDER)
        m["by_language"] = {c: langs[c] for c in ordered}
        if langs:
            m["average_pass@1"] = sum(v["pass@1"] for v in langs.values()) / len(langs)
        return m
