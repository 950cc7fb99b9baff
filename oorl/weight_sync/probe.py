"""The probe check: after every sync, the engines' logprobs of a fixed batch must equal the learner's.

The probe is a few training prompts with the starting policy's greedy completions, made once and
kept in the run directory (``probe.json``), so a resumed run checks the same sequences. The largest
gap over every engine and token is logged as ``logprob_diff_max``; a gap over
``weight_sync.logprob_tolerance`` stops the run (the weight sync or the engine's numerics are off).
"""

from __future__ import annotations

import json
from pathlib import Path

from oorl.types import Sample


class Probe:
    def __init__(self, prompts: list[list[int]], responses: list[list[int]]) -> None:
        self.prompts, self.responses = prompts, responses

    @classmethod
    def load_or_make(cls, path: Path, rollouts, prompt_ids: list[list[int]], size: int, max_new_tokens: int,
                     eos_id: int) -> "Probe | None":
        if size == 0:
            return None
        if path.exists():
            data = json.loads(path.read_text())
            return cls(data["prompts"], data["responses"])
        samples = [Sample(p, group=i, task=i) for i, p in enumerate(prompt_ids[:size])]
        # one token short of the longest rollout: scoring a sequence's prompt logprobs asks the
        # engine for one more token, and the engine's context is max_prompt + max_new tokens
        rollouts.generate(samples, max(1, max_new_tokens - 1), 0.0, 1.0)
        probe = cls([s.prompt_ids for s in samples], [s.response_ids or [eos_id] for s in samples])
        path.write_text(json.dumps({"prompts": probe.prompts, "responses": probe.responses}))
        return probe

    def check(self, rollouts, learners) -> float:
        """The largest |logp_engine - logp_learner| over every engine and probe token."""
        seqs = [a + b for a, b in zip(self.prompts, self.responses)]
        engine_rows = rollouts.prompt_logprobs(seqs, [len(a) for a in self.prompts])
        learner_rows = learners.logprobs(self.prompts, self.responses)
        diff = 0.0
        for rows in engine_rows:
            for a, b in zip(rows, learner_rows):
                diff = max(diff, max((abs(x - y) for x, y in zip(a, b)), default=0.0))
        return diff
