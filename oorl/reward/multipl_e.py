"""MultiPL-E on disk: load a benchmark directory, read samples, judge them, tabulate pass rates.

A directory holds ``<benchmark>-<language>.jsonl`` or ``.jsonl.gz`` files (MultiPL-E's layout, also
what ``oorl data translate-tests`` writes): one problem a line with ``name``, ``language``,
``prompt``, ``tests`` and ``stop_tokens``. ``humaneval-py`` is the original Python HumanEval
(``task_id``, ``prompt``, ``test``, ``entry_point``, ``canonical_solution``); its problems are
named as MultiPL-E names them, ``HumanEval_<number>_<entry_point>``.

MultiPL-E is for evaluation only (its licence forbids training on it): the project reads a
directory the user points it at and ships none of it.

Samples are JSONL with ``name``, ``language`` and ``completion`` per line (``completions``, a list,
is read as one sample each). How an answer becomes a program (a completion that continues the
prompt, or an instruct model's whole program) is in ``multipl_e_program.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from oorl.errors import UserError
from oorl.jsonl import read_jsonl
from oorl.reward.harness import JudgeRequest
from oorl.reward.multipl_e_program import assemble, entry_name, problem_of_request  # noqa: F401  (re-exported)
from oorl.reward.sandbox import RunResult, Verdict

from oorl.reward.multipl_e_program import LANGUAGES  # noqa: E402  (code -> the sandbox's language)
_ALIASES = {"python": "py", "python3": "py", "c++": "cpp", "cxx": "cpp", "csharp": "cs", "c#": "cs",
            "javascript": "js", "node": "js", "bash": "sh", "shell": "sh", "typescript": "ts", "golang": "go",
            "rust": "rs", "swipl": "prolog"}  # not "pl": MultiPL-E's code for Perl
BENCHMARKS = ("humaneval", "mbpp")
PYTHON_STOP_TOKENS = ["\ndef", "\n#", "\nif", "\nclass"]  # MultiPL-E's, for Python
NO_CODE = "no code in the answer"
FAILURE_KINDS = ("passed", "wrong_answer", "compile_error", "runtime_error", "timeout", "no_code", "sandbox_error")
_FILE = re.compile(r"^(?P<bench>[A-Za-z0-9_.]+)-(?P<lang>[A-Za-z0-9_+#]+)\.jsonl(?:\.gz)?$")
_ROW = "a MultiPL-E row has name, language, prompt, tests, stop_tokens"


def language_code(name: Any, where: str = "") -> str:
    """MultiPL-E's code (``py``, ``cpp``, ``cs``, ...) for a code or a language name."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in LANGUAGES:
        raise UserError(f"{where + ': ' if where else ''}unknown language {name!r} "
                        f"(MultiPL-E codes: {', '.join(LANGUAGES)})")
    return key


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return read_jsonl(path)


# -- problems --------------------------------------------------------------------------------------

def normalize(row: dict[str, Any], code: str | None = None, where: str = "problem") -> dict[str, Any]:
    """A problem in the one form the harness uses: ``name``, ``language`` (a MultiPL-E code),
    ``prompt``, ``tests``, ``stop_tokens`` (plus ``entry_point``/``canonical_solution`` when given).
    ``code`` is the language of the file the row comes from."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if "name" not in row and all(k in row for k in ("task_id", "prompt", "test", "entry_point")):
        return _humaneval_python(row, code, where)
    for key in ("name", "prompt", "tests"):
        if key not in row:
            raise UserError(f"{where}: field {key!r} is missing ({_ROW})")
        if not isinstance(row[key], str):
            raise UserError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
    if not row["name"].strip():
        raise UserError(f"{where}: field 'name' is empty")
    lang = _row_language(row, code, where)
    stop = row.get("stop_tokens")
    if stop is None:
        raise UserError(f"{where}: field 'stop_tokens' is missing ({_ROW})")
    if isinstance(stop, str):
        try:
            stop = json.loads(stop)
        except ValueError:
            stop = None
    if not isinstance(stop, list) or not all(isinstance(t, str) for t in stop):
        raise UserError(f"{where}: field 'stop_tokens' must be a list of strings")
    out = {k: v for k, v in row.items() if k in ("task_id", "entry_point", "canonical_solution", "benchmark")}
    out.update(name=row["name"], language=lang, prompt=row["prompt"], tests=row["tests"], stop_tokens=stop)
    return out


def _row_language(row: dict[str, Any], code: str | None, where: str) -> str:
    given = row.get("language")
    if given is None:
        if code is None:
            raise UserError(f"{where}: field 'language' is missing ({_ROW})")
        return code
    lang = language_code(given, f"{where}: field 'language'")
    if code is not None and lang != code:
        raise UserError(f"{where}: field 'language' is {given!r} but the file holds {code} problems")
    return lang


def _humaneval_python(row: dict[str, Any], code: str | None, where: str) -> dict[str, Any]:
    if code not in (None, "py"):
        raise UserError(f"{where}: a Python HumanEval row (task_id, test, entry_point) in a {code} file")
    for key in ("task_id", "prompt", "test", "entry_point"):
        if not isinstance(row[key], str):
            raise UserError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
    prefix, _, number = row["task_id"].partition("/")
    if not number.strip():
        raise UserError(f"{where}: field 'task_id' is {row['task_id']!r}; expected <benchmark>/<number>")
    prefix = "mbpp" if prefix.lower() == "mbpp" else prefix
    entry = row["entry_point"]
    tests = f"{row['test']}\n\ndef test_check():\n    check({entry})\n\ntest_check()\n"
    out = {"name": f"{prefix}_{number.strip()}_{entry}", "language": "py", "prompt": row["prompt"],
           "tests": tests, "stop_tokens": list(PYTHON_STOP_TOKENS), "task_id": row["task_id"], "entry_point": entry}
    if isinstance(row.get("canonical_solution"), str):
        out["canonical_solution"] = row["canonical_solution"]
    return out


def benchmark_files(directory: str | Path) -> dict[tuple[str, str], Path]:
    """{(benchmark, language code): path} of the directory's ``<benchmark>-<language>.jsonl[.gz]``
    files (files of languages this harness does not know are left out)."""
    d = Path(directory)
    if not d.is_dir():
        raise UserError(f"--multipl-e {d}: no such directory (expected <benchmark>-<language>.jsonl[.gz] files)")
    found: dict[tuple[str, str], Path] = {}
    for p in sorted(d.iterdir()):
        m = _FILE.match(p.name)
        if not m or not p.is_file():
            continue
        lang = _ALIASES.get(m.group("lang").lower(), m.group("lang").lower())
        if lang not in LANGUAGES:
            continue
        key = (m.group("bench").lower(), lang)
        if key in found and found[key].suffix == ".gz":  # both forms: the plain one wins
            found[key] = p if p.suffix != ".gz" else found[key]
        else:
            found.setdefault(key, p)
    if not found:
        raise UserError(f"--multipl-e {d}: no <benchmark>-<language>.jsonl[.gz] file in it "
                        f"(e.g. humaneval-cpp.jsonl.gz; languages: {', '.join(LANGUAGES)})")
    return found


def load_benchmark(directory: str | Path, benchmark: str | None = None,
                   languages: Iterable[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """{language code: {name: problem}} of one benchmark (``humaneval``, ``mbpp``; None: every
    benchmark in the directory) for the requested languages (None: all the directory has)."""
    files = benchmark_files(directory)
    benches = sorted({b for b, _ in files})
    if benchmark is not None:
        benchmark = str(benchmark).strip().lower()
        if benchmark not in benches:
            raise UserError(f"--benchmark {benchmark!r}: {directory} has no {benchmark}-<language>.jsonl[.gz] file "
                            f"(benchmarks there: {', '.join(benches)})")
        files = {k: v for k, v in files.items() if k[0] == benchmark}
    wanted = _languages(languages)
    have = {lang for _, lang in files}
    if wanted is not None:
        missing = sorted(wanted - have)
        if missing:
            which = benchmark or "/".join(benches)
            raise UserError(f"--languages: {directory} has no {which}-{missing[0]}.jsonl[.gz]; drop {missing[0]} "
                            f"from --languages or add the file (languages there: {', '.join(sorted(have))})")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (bench, lang), path in sorted(files.items()):
        if wanted is not None and lang not in wanted:
            continue
        problems = out.setdefault(lang, {})
        for i, row in _read_jsonl(path):
            p = normalize(row, lang, f"{path}:{i}")
            if p["name"] in problems:
                raise UserError(f"{path}:{i}: field 'name': {p['name']!r} appears twice")
            p["benchmark"] = bench
            problems[p["name"]] = p
    return out


def _languages(languages: Iterable[str] | None) -> set[str] | None:
    if not languages:
        return None
    out = set()
    for item in languages:
        for name in str(item).replace(",", " ").split():
            out.add(language_code(name, "--languages"))
    return out or None


# -- samples ---------------------------------------------------------------------------------------

def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """[{name, language (code), completion, row}] of a samples file."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"--samples {p}: no such file (JSONL with name, language and completion per line)")
    out = []
    for i, row in _read_jsonl(p):
        where = f"{p}:{i}"
        name = row.get("name", row.get("task_id"))
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"{where}: field 'name' is missing or not a string (a sample has name, language, completion)")
        if "language" not in row:
            raise UserError(f"{where}: field 'language' is missing (a sample has name, language, completion)")
        lang = language_code(row["language"], f"{where}: field 'language'")
        if "completion" in row:
            completions = [row["completion"]]
        elif isinstance(row.get("completions"), list):
            completions = row["completions"]
        else:
            raise UserError(f"{where}: field 'completion' is missing (a sample has name, language, completion)")
        for c in completions:
            if not isinstance(c, str):
                raise UserError(f"{where}: field 'completion' must be a string, got {type(c).__name__}")
            out.append({"name": name, "language": lang, "completion": c, "row": i})
    return out


def find_problem(problems: dict[str, dict[str, dict]], sample: dict[str, Any], where: str) -> dict[str, Any]:
    lang, name = sample["language"], sample["name"]
    if lang not in problems:
        raise UserError(f"{where}: field 'language': no {lang} problems were loaded")
    probs = problems[lang]
    if name in probs:
        return probs[name]
    by_task = next((p for p in probs.values() if p.get("task_id") == name), None)
    if by_task is not None:
        return by_task
    raise UserError(f"{where}: field 'name': {name!r} is not a {lang} problem of the benchmark "
                    f"({len(probs)} {lang} problems loaded, e.g. {next(iter(probs), '-')!r})")


# -- judging ---------------------------------------------------------------------------------------

def request(problem: dict[str, Any], completion: str) -> JudgeRequest:
    """The judge's request for ``completion`` to ``problem`` (a loaded problem or a raw MultiPL-E row)."""
    if not isinstance(problem.get("stop_tokens"), list) or problem.get("language") not in LANGUAGES:
        problem = normalize(problem)
    return JudgeRequest.make(LANGUAGES[problem["language"]], completion, problem["tests"], "multipl-e",
                             prompt=problem["prompt"], stop_tokens=json.dumps(problem["stop_tokens"]),
                             entry_point=problem.get("entry_point") or None)


def is_empty(req: JudgeRequest) -> bool:
    return assemble(problem_of_request(req.language, req.tests, dict(req.fields)), req.program).style == "no_code"


def judge_requests(requests: list[JudgeRequest], judge=None) -> list[RunResult]:
    """Judge ``multipl-e`` requests; an answer without code is not run (``failure_kind``: no_code)."""
    if judge is None:
        from oorl.reward.judge import get_judge

        judge = get_judge()
    empty = [is_empty(r) for r in requests]
    todo = [r for r, e in zip(requests, empty) if not e]
    done = iter(judge.judge(todo) if todo else [])
    return [RunResult(Verdict.COMPILE_ERROR, r.language, detail=NO_CODE) if e else next(done)
            for r, e in zip(requests, empty)]


def judge_completions(problems: list[dict[str, Any]], completions: list[str], judge=None) -> list[RunResult]:
    """Problem i judged with completion i (either answer style); ``judge`` defaults to the
    process-wide judge."""
    if len(problems) != len(completions):
        raise UserError(f"judge_completions: {len(problems)} problems for {len(completions)} completions")
    return judge_requests([request(p, c) for p, c in zip(problems, completions)], judge)


def failure_kind(result: RunResult) -> str:
    """passed, wrong_answer, compile_error, runtime_error, timeout, no_code or sandbox_error."""
    if result.status is Verdict.COMPILE_ERROR and result.detail == NO_CODE:
        return "no_code"
    return {Verdict.PASSED: "passed", Verdict.FAILED: "wrong_answer", Verdict.COMPILE_ERROR: "compile_error",
            Verdict.RUNTIME_ERROR: "runtime_error", Verdict.MEMORY: "runtime_error", Verdict.TIMEOUT: "timeout",
            Verdict.SANDBOX_ERROR: "sandbox_error"}[result.status]


def answer_style(problem: dict[str, Any], completion: str) -> str:
    """completion, whole or no_code (see ``multipl_e_program``)."""
    if not isinstance(problem.get("stop_tokens"), list) or problem.get("language") not in LANGUAGES:
        problem = normalize(problem)
    return assemble(problem, completion).style


# -- report ----------------------------------------------------------------------------------------

@dataclass
class Report:
    """Per-language pass counts, the answer styles met, and each sample's outcome."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    styles: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, language: str, name: str, result: RunResult, style: str = "") -> None:
        row = self.rows.setdefault(language, {"passed": 0, "total": 0})
        row["total"] += 1
        row["passed"] += int(result.passed)
        kind = failure_kind(result)
        if kind != "passed":
            row[kind] = row.get(kind, 0) + 1
        row["pass_rate"] = round(row["passed"] / row["total"], 6)
        if style:
            st = self.styles.setdefault(language, {})
            st[style] = st.get(style, 0) + 1
        self.samples.append({"name": name, "language": language, "passed": result.passed, "status": kind,
                             "verdict": result.status.value, "style": style, "detail": _detail(result)})

    def table(self) -> str:
        kinds = [k for k in FAILURE_KINDS[1:] if any(k in r for r in self.rows.values())]
        head = ["language", "passed", "total", "pass%", *kinds]
        lines = [head]
        for lang in sorted(self.rows):
            r = self.rows[lang]
            pct = 100.0 * r["passed"] / r["total"] if r["total"] else 0.0
            lines.append([lang, str(r["passed"]), str(r["total"]), f"{pct:.1f}", *[str(r.get(k, 0)) for k in kinds]])
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines)

    def failures(self) -> list[dict[str, Any]]:
        return [s for s in self.samples if not s["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return {"languages": self.rows, "styles": self.styles}


def _detail(result: RunResult) -> str:
    """The verdict's reason; for a compile error, the compiler's first line that says "error"."""
    if result.status is Verdict.COMPILE_ERROR and result.compile is not None:
        for line in (result.compile.stderr or result.compile.stdout).splitlines():
            if "error" in line.lower():
                return line.strip()[:300]
    return result.detail
