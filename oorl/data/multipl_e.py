"""MultiPL-E as eval tasks (``data.eval: {path: DIR, format: multipl_e, kwargs: {...}}``).

A MultiPL-E directory holds ``<benchmark>-<language>.jsonl[.gz]`` files (read by
:func:`oorl.reward.multipl_e.load_benchmark`). **Evaluation only**: MultiPL-E's licence forbids
training on it, so this format refuses the ``train`` split. Each problem becomes a task whose chat
prompt asks an instruct model to complete the function in a fenced block; the judge takes either
answer style (a continuation of the prompt, or the whole function).

kwargs: ``benchmark`` (``humaneval`` | ``mbpp``; default: both that the directory has),
``languages`` (MultiPL-E codes or names; default: all), ``prompt_style`` (``instruct``: an
instruction and the signature in a fenced block; ``completion``: the bare MultiPL-E prompt, for base
models).
"""

from __future__ import annotations

from pathlib import Path

from oorl.data.registry import Task, register_format
from oorl.errors import UserError

# MultiPL-E code -> (fence tag, name in the instruction)
LANGUAGE_NAMES = {"py": ("python", "Python"), "cpp": ("cpp", "C++"), "cs": ("csharp", "C#"), "java": ("java", "Java"),
                  "js": ("javascript", "JavaScript"), "php": ("php", "PHP"), "sh": ("bash", "Bash"),
                  "ts": ("typescript", "TypeScript"), "go": ("go", "Go"), "rs": ("rust", "Rust"),
                  "prolog": ("prolog", "Prolog")}
STYLES = ("instruct", "completion")


def instruct_prompt(problem: dict) -> list[dict]:
    tag, name = LANGUAGE_NAMES.get(problem["language"], (problem["language"], problem["language"]))
    text = (f"Complete the following {name} function. Answer with the complete function (and anything it needs) "
            f"in one ```{tag} code block.\n\n```{tag}\n{problem['prompt'].rstrip()}\n```")
    return [{"role": "user", "content": text}]


@register_format("multipl_e")
def load_multipl_e(path: Path, split: str = "eval", benchmark: str | None = None, languages=None,
                   prompt_style: str = "instruct") -> list[Task]:
    from oorl.reward.multipl_e import load_benchmark

    if split == "train":
        raise UserError(f"{path}: MultiPL-E is evaluation-only by its licence; use it in data.eval, never data.train")
    if prompt_style not in STYLES:
        raise UserError(f"multipl_e: prompt_style must be one of {', '.join(STYLES)} (got {prompt_style!r})")
    tasks = []
    for code, problems in load_benchmark(path, benchmark, [languages] if isinstance(languages, str) else languages).items():
        for name, p in problems.items():
            prompt = instruct_prompt(p) if prompt_style == "instruct" else [{"role": "user", "content": p["prompt"]}]
            tasks.append({"id": f"{p['benchmark']}/{code}/{name}", "prompt": prompt, "name": name, "language": code,
                          "benchmark": p["benchmark"], "problem_prompt": p["prompt"], "tests": p["tests"],
                          "stop_tokens": p["stop_tokens"]})
    return tasks
