"""The ``unit_tests`` reward (OORL on-policy signal): 1.0 when the answer has the required format,
compiles and passes the target language's tests, else 0.0.

Columns (lists, one entry per completion):
  language     target language (any registered name or alias: python, cpp, java, js, ts, go, rust,
               php, bash, csharp, prolog)
  tests        test code in that language (HumanEval-X's ``test`` field works as is)
  test_setup   optional, prepended to the tests (HumanEval-X Go's package/import header)
  layout       optional, "generic" (default) or "humaneval-x"
  prompt, declaration, import
               optional, used by the humaneval-x layout, where the completion continues the
               declaration instead of being a complete program
  problem_prompt, stop_tokens, entry_point
               optional, used by the multipl-e layout (``problem_prompt`` is the problem's own
               prompt, passed on as the layout's ``prompt`` field: a task's ``prompt`` is its chat
               messages)
  inputs, outputs
               optional, stdin/stdout cases (lists of strings): the answer is a complete program run
               once per case and must print each expected output (``oorl/reward/io_cases.py``);
               ``tests`` is then not needed

A sandbox error (the jail itself failed) scores ``nan``: the sample is not judged, and the trainer
leaves it out of the loss instead of rewarding it 0.

Format: the code is the first fenced block tagged with the target language (```python ... ```),
else the first fenced block, else the whole completion. An empty answer scores 0.

Judging goes through the process-wide judge (``oorl.reward.judge.get_judge``): batched, deduplicated,
cached, jailed. ``unit_test_verdicts`` returns the full results for evaluation and logging.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from oorl.errors import UserError
from oorl.reward import io_cases
from oorl.reward.functions import register_reward
from oorl.reward.harness import JudgeRequest, extract_code
from oorl.reward.judge import get_judge
from oorl.reward.sandbox import RunResult, SandboxLimits, Verdict

_OPTIONAL = ("test_setup", "prompt", "declaration", "import", "stop_tokens", "entry_point")
_RENAMED = {"problem_prompt": "prompt"}  # column -> layout field


def _column(columns: dict[str, Any], name: str, n: int, required: bool) -> list[Any]:
    col = columns.get(name)
    if col is None:
        if required:
            raise UserError(f"reward unit_tests needs a column {name!r} (the dataset rows have: "
                            f"{', '.join(sorted(columns)) or 'none'})")
        return [None] * n
    if isinstance(col, (str, bytes)) or not isinstance(col, Sequence):
        col = [col] * n
    if len(col) != n:
        raise UserError(f"reward unit_tests: column {name!r} has {len(col)} entries for {n} completions")
    return list(col)


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # chat format: [{"role": "assistant", "content": ...}]
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion or "")


def _field(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, tuple)) else value


def unit_test_verdicts(prompts: list[Any], completions: list[Any], *, limits: SandboxLimits | None = None,
                       **columns: Any) -> list[RunResult]:
    n = len(completions)
    languages = _column(columns, "language", n, True)
    inputs = _column(columns, "inputs", n, False)
    outputs = _column(columns, "outputs", n, False)
    tests = _column(columns, "tests", n, all(x is None for x in inputs))
    layouts = _column(columns, "layout", n, False)
    extra = {k: _column(columns, k, n, False) for k in _OPTIONAL}
    for col, name in _RENAMED.items():
        if columns.get(col) is not None:
            extra[name] = _column(columns, col, n, False)
    # one entry per completion: a list of requests (one, or one per stdin/stdout case), or None (no code)
    requests: list[list[JudgeRequest] | None] = []
    cases: list[list[str] | None] = []
    for i, completion in enumerate(completions):
        code = extract_code(_text(completion), languages[i]).strip("\n")
        want = None
        if inputs[i] is not None or outputs[i] is not None:
            stdins, want = io_cases.check_cases(inputs[i], outputs[i], f"reward unit_tests, completion {i}")
        cases.append(want)
        if not code.strip():
            requests.append(None)
        elif want is not None:
            requests.append(io_cases.case_requests(languages[i], code, stdins))
        else:
            fields = {k: _field(v[i]) for k, v in extra.items() if v[i]}
            requests.append([JudgeRequest.make(languages[i], code, str(tests[i] or ""), layouts[i] or "generic",
                                               **fields)])
    judge = get_judge(limits)
    todo = [r for rs in requests if rs is not None for r in rs]
    judged = iter(judge.judge(todo))
    out = []
    for i, rs in enumerate(requests):
        if rs is None:
            out.append(RunResult(Verdict.COMPILE_ERROR, str(languages[i]), detail="empty answer: no code found"))
            continue
        results = [next(judged) for _ in rs]
        out.append(io_cases.combine(results, cases[i]) if cases[i] is not None else results[0])
    return out


def verdict_reward(result: RunResult) -> float:
    """1 for passed, 0 for any answer that did not pass, ``nan`` (not judged) for a sandbox error:
    a broken jail must not teach the policy that its answer was wrong."""
    if result.status is Verdict.SANDBOX_ERROR:
        return math.nan
    return 1.0 if result.passed else 0.0


@register_reward("unit_tests")
def unit_tests(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
    return [verdict_reward(r) for r in unit_test_verdicts(prompts, completions, **columns)]
