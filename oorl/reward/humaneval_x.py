"""HumanEval-X on disk: load the problems, read samples, judge them, and tabulate pass rates.

A dataset directory holds ``humaneval_<lang>.jsonl`` or ``.jsonl.gz`` for lang in cpp, go, java, js,
python, rust (fields ``task_id``, ``prompt``, ``declaration``, ``canonical_solution``, ``test``,
and for Go ``import`` and ``test_setup``). Samples are JSONL with ``task_id`` and ``completion``
(``generation``, CodeGeeX's name, is accepted too): the completion continues the declaration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from oorl.errors import UserError
from oorl.jsonl import read_jsonl
from oorl.reward.harness import JudgeRequest
from oorl.reward.sandbox import RunResult

FILES = {"cpp": "cpp", "go": "go", "java": "java", "js": "javascript", "python": "python", "rust": "rust"}
PREFIX = {"CPP": "cpp", "Go": "go", "Java": "java", "JavaScript": "javascript", "Python": "python", "Rust": "rust"}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl(path)]


def load_problems(directory: str | Path, languages: Iterable[str] | None = None) -> dict[str, dict[str, dict]]:
    """{language: {task_id: problem}} for the requested (default: all six) languages."""
    d = Path(directory)
    if not d.is_dir():
        raise UserError(f"--humaneval-x {d}: no such directory (expected humaneval_<lang>.jsonl[.gz] files)")
    wanted = _languages(languages)
    out: dict[str, dict[str, dict]] = {}
    for short, lang in FILES.items():
        if lang not in wanted:
            continue
        path = next((p for p in (d / f"humaneval_{short}.jsonl.gz", d / f"humaneval_{short}.jsonl") if p.exists()), None)
        if path is None:
            raise UserError(f"{d}: humaneval_{short}.jsonl(.gz) is missing; drop {lang} from --languages or add the file")
        problems = {}
        for row in _read_jsonl(path):
            for key in ("task_id", "test"):
                if key not in row:
                    raise UserError(f"{path}: a row has no {key!r} field")
            problems[row["task_id"]] = row
        out[lang] = problems
    return out


def _languages(languages: Iterable[str] | None) -> set[str]:
    if not languages:
        return set(FILES.values())
    names = {a: v for a, v in FILES.items()} | {v: v for v in FILES.values()}
    out = set()
    for item in languages:
        for name in str(item).replace(",", " ").split():
            key = name.strip().lower()
            if key in ("c++", "cxx"):
                key = "cpp"
            if key not in names:
                raise UserError(f"--languages: {name!r} is not a HumanEval-X language "
                                f"(cpp, go, java, js, python, rust)")
            out.add(names[key])
    return out


def read_samples(path: str | Path) -> list[dict[str, str]]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"--samples {p}: no such file (JSONL with task_id and completion per line)")
    out = []
    for i, row in enumerate(_read_jsonl(p), 1):
        completion = row.get("completion", row.get("generation"))
        if "task_id" not in row or completion is None:
            raise UserError(f"{p}: sample {i} needs 'task_id' and 'completion' fields")
        out.append({"task_id": str(row["task_id"]), "completion": str(completion)})
    return out


def language_of(task_id: str) -> str:
    prefix = task_id.split("/", 1)[0]
    if prefix not in PREFIX:
        raise UserError(f"task_id {task_id!r}: unknown prefix (expected one of {', '.join(PREFIX)})")
    return PREFIX[prefix]


def request(problem: dict, language: str, completion: str) -> JudgeRequest:
    fields = {k: problem[k] for k in ("prompt", "declaration", "import", "test_setup") if problem.get(k)}
    return JudgeRequest.make(language, completion, problem["test"], "humaneval-x", **fields)


@dataclass
class Report:
    """Per-language pass counts and the failures."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    def add(self, language: str, task_id: str, result: RunResult) -> None:
        row = self.rows.setdefault(language, {"total": 0, "passed": 0})
        row["total"] += 1
        row[result.status.value] = row.get(result.status.value, 0) + 1
        if not result.passed:
            self.failures.append({"task_id": task_id, "language": language, "status": result.status.value,
                                  "detail": result.detail})

    def table(self) -> str:
        verdicts = sorted({k for r in self.rows.values() for k in r} - {"total", "passed"})
        head = ["language", "passed", "total", "pass%", *verdicts]
        lines = [head]
        for lang in sorted(self.rows):
            r = self.rows[lang]
            pct = 100.0 * r.get("passed", 0) / r["total"] if r["total"] else 0.0
            lines.append([lang, str(r.get("passed", 0)), str(r["total"]), f"{pct:.1f}",
                          *[str(r.get(v, 0)) for v in verdicts]])
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines)

    def to_dict(self) -> dict[str, Any]:
        return {"languages": self.rows, "failures": self.failures}
