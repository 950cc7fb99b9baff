"""HumanEval-X as translation tasks (dataset and format ``humaneval_x_translation``; the common
kwargs, splits and prompts are described in :mod:`oorl.data.translation`).

kwargs: ``pairs`` (``["python:javascript", "cpp:python"]``) or ``sources``/``targets`` (every pair of two
different languages among them; default: all 30 pairs of the six languages), ``prompt_style``,
``heldout_fraction``, ``seed``, ``system``; the directory is ``data.path`` (with ``data.format:
humaneval_x_translation``) or the dataset's kwarg ``directory``.

The program to translate is the source's canonical solution written out whole (declaration + body;
Go: the prompt's helper functions too, and only the imports it uses; no docstring of the entry
function); the target's signature is the line that opens its entry function. How an answer is
judged, per target language, is in :func:`humaneval_x_judging`. A model's answer is expected as the
whole function in a fenced block; ``humaneval_x_parts(language, row)["code"]`` is the canonical
solution in that form (used to check that every task is judgeable).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Iterable

from oorl.data.registry import Task, register_dataset, register_format
from oorl.data.translation import (DEFAULT_HELDOUT, _messages, _read_rows, check_fraction, normalize_split,
                                   parse_pairs, split_of, strip_docstring)
from oorl.errors import UserError

HUMANEVAL_X_FILES = {"cpp": "cpp", "go": "go", "java": "java", "javascript": "js", "python": "python", "rust": "rust"}


# -- HumanEval-X --------------------------------------------------------------------------------------

def _last_code_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _entry(line: str, language: str) -> str | None:
    pattern = {"python": r"def\s+(\w+)", "go": r"func\s+(\w+)", "rust": r"fn\s+(\w+)",
               "javascript": r"(?:const|let|var|function)\s+(\w+)"}.get(language, r"(\w+)\s*\(")
    m = re.search(pattern, line)
    return m.group(1) if m else None


def humaneval_x_parts(language: str, row: dict) -> dict[str, Any]:
    """The pieces of one HumanEval-X row: ``code`` (the canonical solution as a whole program, what a
    model would answer), ``signature`` (the entry function's first line), ``header`` (the imports and
    includes before it, without helper functions) and ``entry_point``."""
    decl, body = row.get("declaration") or row.get("prompt", ""), row.get("canonical_solution", "")
    if language == "python":
        defs = list(re.finditer(r"^def\s+\w+.*$", decl, re.MULTILINE))
        sig = decl[defs[-1].start():].strip() if defs else _last_code_line(decl).strip()
        m = re.search(r"^check\((\w+)\)", row.get("test", ""), re.MULTILINE)
        entry = m.group(1) if m else _entry(sig, language)
        header = "".join(ln + "\n" for ln in decl.splitlines() if re.match(r"(?:import|from)\s+\S", ln))
    elif language == "java":
        sig = "class Solution {\n" + _last_code_line(decl).rstrip()
        entry = _entry(_last_code_line(decl), language)
        header = "".join(ln + "\n" for ln in decl.splitlines() if re.match(r"\s*import\s+[\w.*]+\s*;", ln))
    else:  # the last top-level line that opens a function (C++ declarations may hold part of a body)
        opening = [ln for ln in decl.splitlines() if ln.strip() and not ln[:1].isspace() and "(" in ln
                   and _entry(ln, language)]
        sig = (opening[-1] if opening else _last_code_line(decl)).strip()
        entry = _entry(sig, language)
        keep = {"cpp": r"\s*(?:#\s*include|using\s+namespace)\b", "rust": r"\s*use\s+", "go": r"(?!)",
                "javascript": r"(?!)"}[language]
        header = "".join(ln + "\n" for ln in decl.splitlines() if re.match(keep, ln))
        if language == "go":
            header = row.get("import", "")
    test = row.get("test", "")
    if language == "rust" and entry and not re.search(rf"\b{re.escape(entry)}\b", test):
        # the declaration opens a helper (HumanEval-X Rust/10): the tested function is in the body
        called = [ln.strip() for ln in body.splitlines() if re.match(r"\s*(?:pub\s+)?fn\s+\w+", ln)
                  and re.search(rf"\b{re.escape(_entry(ln, language) or '-')}\b", test)]
        if called:
            sig, entry = called[-1], _entry(called[-1], language)
    sig = sig[:-1].rstrip() if sig.endswith("{") else sig
    code = decl + body
    if language == "cpp" and _last_code_line(decl).strip() != (opening[-1].strip() if opening else ""):
        # a declaration holding part of the body (HumanEval-X CPP/38): the prompt, less its comments
        code = re.sub(r"/\*.*?\*/[ \t]*\n?", "", row.get("prompt", ""), flags=re.DOTALL) + body
    if language == "python" and not _parses(code):  # a declaration cut inside the docstring (Python/142)
        code = strip_docstring(row.get("prompt", "") + body, entry)
    if language == "go":  # the prompt has the helper functions; imports as a model writes them: those used
        text = row.get("prompt", "").replace(row.get("import", ""), "", 1)
        lines = text.splitlines()
        at = max((i for i, ln in enumerate(lines) if entry and re.match(rf"func\s+{re.escape(entry)}\b", ln)),
                 default=len(lines))
        start = at
        while start > 0 and lines[start - 1].lstrip().startswith("//"):
            start -= 1
        text = "\n".join(lines[:start] + lines[at:]) + "\n"
        code = go_import_block(text + body, row.get("import", "")) + "\n" + text + body
    code = re.sub(r"\n{3,}", "\n\n", code).strip("\n")
    return {"code": code, "signature": sig, "header": header, "entry_point": entry}


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def go_import_block(code: str, offered: str = "") -> str:
    """An import block for the packages ``code`` uses among those ``offered`` (a Go import block) and
    the standard ones HumanEval-X solutions use (``oorl.reward.harness.GO_HELPERS``)."""
    from oorl.reward.harness import GO_HELPERS

    packages = list(dict.fromkeys(re.findall(r'"([\w/.]+)"', offered) + list(GO_HELPERS)))
    used = [p for p in packages if re.search(rf"(?<![\w.]){re.escape(p.split('/')[-1])}\.", code)]
    return ("import (\n" + "".join(f'    "{p}"\n' for p in used) + ")\n") if used else ""


def humaneval_x_judging(language: str, row: dict, parts: dict[str, Any]) -> dict[str, Any]:
    """The ``unit_tests`` columns that judge a whole-function answer to this row. Python and C++ use
    the HumanEval-X layout with the row's includes/imports as the declaration (the answer continues
    them; helper imports added as CodeGeeX does); Go, Java, JavaScript and Rust the generic layout (the
    answer, then the tests; Go's test header and Java's imports as ``test_setup``), so an answer's own
    imports never clash with the problem's."""
    cols: dict[str, Any] = {"tests": row["test"], "layout": "generic"}
    if language in ("python", "cpp"):
        cols["layout"] = "humaneval-x"
        if parts["header"]:
            cols["declaration"] = parts["header"]
    elif language == "go":  # the tests' own file: package main and the packages the tests use
        offered = (row.get("test_setup") or "") + '"testing" "github.com/stretchr/testify/assert"'
        cols["test_setup"] = "package main\n\n" + go_import_block(row["test"], offered)
    elif language == "java" and parts["header"]:
        cols["test_setup"] = parts["header"]
    return cols


def load_humaneval_x(path: str | Path, languages: Iterable[str]) -> dict[str, dict[str, dict]]:
    """{language: {problem number: row}} of a HumanEval-X directory."""
    d = Path(path).expanduser()
    if not d.is_dir():
        raise UserError(f"humaneval_x_translation path {str(d)!r}: no such directory "
                        "(expected humaneval_<lang>.jsonl[.gz] files for cpp, go, java, js, python, rust)")
    out = {}
    for lang in languages:
        short = HUMANEVAL_X_FILES[lang]
        f = next((p for p in (d / f"humaneval_{short}.jsonl.gz", d / f"humaneval_{short}.jsonl") if p.exists()), None)
        if f is None:
            raise UserError(f"{d}: humaneval_{short}.jsonl(.gz) is missing (needed for {lang})")
        rows = {}
        for lineno, row in _read_rows(f):
            for key in ("task_id", "declaration", "canonical_solution", "test"):
                if not isinstance(row.get(key), str):
                    raise UserError(f"{f}:{lineno}: field {key!r} is missing or not a string (a HumanEval-X row)")
            rows[row["task_id"].partition("/")[2].strip()] = row
        out[lang] = rows
    return out


@register_dataset("humaneval_x_translation")
def load_humaneval_x_translation(split: str = "train", *, directory: str | Path | None = None, pairs: Any = None,
                                 sources: Any = None, targets: Any = None, prompt_style: str = "zero_shot",
                                 heldout_fraction: float = DEFAULT_HELDOUT, seed: Any = 0,
                                 system: str | None = None) -> list[Task]:
    """Every requested (source, target) pair of every HumanEval-X problem in ``split``."""
    if directory is None:
        raise UserError("humaneval_x_translation needs a HumanEval-X directory: data.path: DIR with "
                        "data.format: humaneval_x_translation (or data.kwargs.directory: DIR)")
    path = directory
    split = normalize_split(split, "humaneval_x_translation")
    fraction = check_fraction(heldout_fraction, "humaneval_x_translation")
    chosen = parse_pairs(pairs, sources, targets, allowed=HUMANEVAL_X_FILES, what="humaneval_x_translation")
    data = load_humaneval_x(path, sorted({lang for p in chosen for lang in p}))
    parts = {lang: {n: humaneval_x_parts(lang, r) for n, r in rows.items()} for lang, rows in data.items()}
    numbers = sorted(set.intersection(*(set(r) for r in data.values())), key=lambda n: (len(n), n))
    tasks = []
    for number in numbers:
        problem_id = f"HumanEval/{number}"
        if split != "all" and split_of(problem_id, seed, fraction) != split:
            continue
        for src, tgt in chosen:
            s, t = parts[src][number], parts[tgt][number]
            tasks.append({"id": f"humaneval-x/{number}/{src}-{tgt}", "problem_id": problem_id,
                          "prompt": _messages(src, tgt, s["code"], t["signature"], "function", prompt_style, system),
                          "source_language": src, "language": tgt, "source_code": s["code"],
                          **humaneval_x_judging(tgt, data[tgt][number], t),
                          "entry_point": t["entry_point"], "signature": t["signature"]})
    return tasks


@register_format("humaneval_x_translation")
def load_humaneval_x_translation_dir(path: Path, split: str = "train", **kwargs) -> list[Task]:
    """The ``humaneval_x_translation`` dataset from ``data.path`` (the HumanEval-X directory)."""
    return load_humaneval_x_translation(split, directory=path, **kwargs)
