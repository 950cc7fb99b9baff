"""The IR-group builder: C/C++ problems with tests -> GEPO/DPO groups of LLVM IRs (JSONL).

Input rows, one JSON object a line (``.jsonl`` or ``.jsonl.gz``):

* HumanEval-X C++ (``task_id``, ``declaration``, ``canonical_solution``, ``test``): the source is the
  declaration (or the prompt, where the declaration runs into the body) followed by the canonical
  solution; the test program is the source's ``#include``, ``using`` and ``typedef`` lines, a prototype of every function the source defines (C++ linkage: the same mangled
  names) and the tests' ``main``.
* generic (``code``, ``test_program``, optional ``id``): ``test_program`` is a C++ file that declares
  the function(s) and runs the tests in ``main``, exiting 0 when they pass.

What a group's IR is: the whole translation unit of the source as ``clang++ -S -emit-llvm -O<level>``
makes it, normalised (``normalize.py``): the functions the source defines (external symbols the test
program calls), the ``linkonce_odr`` template/inline instantiations they use (the linker keeps one of
the identical copies the IR and the test program both have), globals and constants, declarations of
library functions. So ``clang++ ir.ll test_program.cpp && ./a.out`` builds and runs any member.

Winners: one IR per level, identical normalised IRs merged (their levels listed together), each kept
only when, built with the test program, it passes. Losers: source mutants (compiled at a level drawn
for each) and IR mutants of the winners, each kept only when it builds, runs to a failure within the
time limit (not a timeout, not an early ``exit(0)``) and differs from every winner and other loser;
at most ``mutants_per_group``, alternating source and IR mutants. A problem with no passing winner or
no loser is skipped with its reason. The stored, normalised texts are what is verified.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from oorl.data.ir_groups.mutate_ir import apply_ir_mutation, ir_mutations
from oorl.data.ir_groups.mutate_source import apply_mutation, code_mask, function_prototypes, source_mutations
from oorl.data.ir_groups.normalize import IRError, normalize_ir
from oorl.errors import UserError

LEVELS = ("O0", "O1", "O2", "O3", "Os", "Oz")
SYSTEM = "You are a compiler. You translate C and C++ programs into LLVM IR."
USER = ("Translate this C++ program into LLVM IR: the textual IR that clang 14 reads, for x86-64 Linux. "
        "Keep the names of the functions it defines (their C++ mangled names) so that other code can call "
        "them. Answer with the IR only.\n\n```cpp\n{source}\n```")


@dataclass
class Problem:
    id: str
    source: str
    test_program: str
    body_start: int = 0  # where source mutations may start (the canonical solution)


@dataclass
class BuildConfig:
    levels: tuple[str, ...] = LEVELS
    mutants_per_group: int = 4
    source_tries: Optional[int] = None  # default mutants_per_group
    ir_tries: Optional[int] = None  # default 2 * mutants_per_group
    max_tokens: Optional[int] = None
    count_tokens: Optional[Callable[[str], int]] = None
    seed: int = 0
    threads: Optional[int] = None


@dataclass
class Outcome:
    group: Optional[dict]
    skipped: Optional[str] = None  # reason
    detail: str = ""
    counts: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------- input
def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_problems(path: Path, limit: Optional[int] = None) -> tuple[list[Problem], list[tuple[str, str]]]:
    """The problems of ``path`` and the rows skipped, as ``(row, reason)``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--problems {path}: no such file (JSONL of HumanEval-X C++ rows or rows with "
                        f"'code' and 'test_program')")
    problems, bad = [], []
    try:
        with _open(path) as f:
            for i, line in enumerate(f, 1):
                if limit is not None and len(problems) >= limit:
                    break
                if not line.strip():
                    continue
                where = f"{path.name}:{i}"
                try:
                    row = json.loads(line)
                except ValueError as e:
                    bad.append((where, f"not valid JSON ({e})"))
                    continue
                p, why = problem_from_row(row, where)
                if p is None:
                    bad.append((where, why))
                else:
                    problems.append(p)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(f"--problems {path}: cannot read it ({e}); expected UTF-8 JSONL, optionally gzipped") from None
    return problems, bad


def problem_from_row(row, where: str) -> tuple[Optional[Problem], str]:
    if not isinstance(row, dict):
        return None, "not a JSON object"
    if all(isinstance(row.get(k), str) for k in ("declaration", "canonical_solution", "test")):
        rid = str(row.get("task_id") or where)
        # the declaration ends inside the function's opening brace; a few rows' declarations run on
        # into the body (CPP/38), their prompts do not
        head_text = next((h for h in (row["declaration"], row.get("prompt")) if isinstance(h, str)
                          and _brace_depth(h) == 1), None)
        if head_text is None:
            return None, "the declaration does not end inside the function's opening brace"
        source = head_text + row["canonical_solution"]
        protos, others = function_prototypes(source)
        if others:
            return None, f"unsupported file-scope definition {others[0]!r} (only functions are declared for the tests)"
        if not protos:
            return None, "the source defines no function"
        head = [l for l in head_text.splitlines() if l.strip().startswith(("#", "using ", "typedef "))]
        test = "\n".join(head + protos) + "\n" + row["test"]
        return Problem(rid, source, test, body_start=len(head_text)), ""
    if isinstance(row.get("code"), str) and isinstance(row.get("test_program"), str):
        rid = str(row.get("id") or row.get("task_id") or where)
        return Problem(rid, row["code"], row["test_program"], 0), ""
    keys = ", ".join(sorted(row)[:8])
    return None, (f"unknown layout (fields: {keys}); expected HumanEval-X C++ (declaration, canonical_solution, "
                  f"test) or generic (code, test_program)")


def _brace_depth(text: str) -> int:
    mask = code_mask(text)
    return sum((c == "{") - (c == "}") for c, m in zip(text, mask) if m)


def make_tokens_counter(tokenizer: Optional[str]) -> Callable[[str], int]:
    """Tokens of a text with the tokenizer at ``tokenizer`` (a local path); without one, a rough
    count (words and punctuation marks)."""
    if tokenizer:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(tokenizer)
        except (OSError, ValueError) as e:
            raise UserError(f"--tokenizer {tokenizer}: cannot load it ({e})") from None
        return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    rx = re.compile(r"\w+|[^\w\s]")
    return lambda text: len(rx.findall(text))


# ---------------------------------------------------------------------------------------- one problem
def build_group(p: Problem, cfg: BuildConfig, jail) -> Outcome:
    rng = random.Random(f"{cfg.seed}:{p.id}")
    c: Counter = Counter()
    M = cfg.mutants_per_group
    src_muts = source_mutations(p.source, p.body_start)
    src_pick = rng.sample(src_muts, min(len(src_muts), cfg.source_tries if cfg.source_tries is not None else M))
    jobs = {f"w_{lv}": (p.source, lv) for lv in cfg.levels}
    src_level = {}
    for k, m in enumerate(src_pick):
        lv = rng.choice(cfg.levels)
        src_level[k] = lv
        jobs[f"m{k}"] = (apply_mutation(p.source, m), lv)
    emitted = jail.emit(jobs)

    # winners: normalised, merged
    win_text: list[str] = []
    win_levels: list[list[str]] = []
    for lv in cfg.levels:
        raw, err = emitted[f"w_{lv}"]
        if raw is None:
            return Outcome(None, "source_does_not_compile", f"-{lv}: {err}", c)
        try:
            ir = normalize_ir(raw)
        except IRError as e:
            return Outcome(None, "ir_not_normalisable", str(e), c)
        if ir in win_text:
            win_levels[win_text.index(ir)].append(lv)
        else:
            win_text.append(ir)
            win_levels.append([lv])
    if cfg.max_tokens is not None:
        keep = [i for i, t in enumerate(win_text) if cfg.count_tokens(t) <= cfg.max_tokens]
        c["winners_too_long"] += len(win_text) - len(keep)
        win_text, win_levels = [win_text[i] for i in keep], [win_levels[i] for i in keep]
        if not win_text:
            return Outcome(None, "too_long", f"every IR is over {cfg.max_tokens} tokens", c)

    # loser candidates
    cands: list[tuple[str, dict]] = []  # (ir, mutation record)
    for k, m in enumerate(src_pick):
        rec = {"side": "source", "kind": m.kind, "level": src_level[k], "detail": m.describe(p.source)}
        c[f"tried/source:{m.kind}"] += 1
        raw, err = emitted[f"m{k}"]
        if raw is None:
            c["rejected/compile_error"] += 1
            continue
        try:
            cands.append((normalize_ir(raw), rec))
        except IRError:
            c["rejected/ir_not_normalisable"] += 1
    ir_sites = [(w, m) for w, ir in enumerate(win_text) for m in ir_mutations(ir)]
    ir_pick = rng.sample(ir_sites, min(len(ir_sites), cfg.ir_tries if cfg.ir_tries is not None else 2 * M))
    for w, m in ir_pick:
        c[f"tried/ir:{m.kind}"] += 1
        rec = {"side": "ir", "kind": m.kind, "level": "+".join(win_levels[w]), "detail": m.describe(win_text[w])}
        try:
            cands.append((apply_ir_mutation(win_text[w], m), rec))
        except IRError:
            c["rejected/ir_not_normalisable"] += 1
    seen = set(win_text)
    unique = []
    for ir, rec in cands:
        if ir in win_text:
            c["rejected/same_as_winner"] += 1
        elif ir in seen:
            c["rejected/duplicate"] += 1
        elif cfg.max_tokens is not None and cfg.count_tokens(ir) > cfg.max_tokens:
            c["rejected/too_long"] += 1
        else:
            seen.add(ir)
            unique.append((ir, rec))

    built = jail.verify(p.test_program, win_text + [ir for ir, _ in unique])
    if isinstance(built, str):
        return Outcome(None, "test_program_does_not_compile", built, c)
    wins = [(t, lv) for (t, lv), b in zip(zip(win_text, win_levels), built) if b.status == "passed"]
    c["winners_failed"] += len(win_text) - len(wins)
    if not wins:
        first = built[0]
        return Outcome(None, "no_winner_passes", f"{first.status}: {first.detail}", c)
    ok_src, ok_ir = [], []
    for (ir, rec), b in zip(unique, built[len(win_text):]):
        if b.status == "failed":
            rec["failure"] = b.detail
            (ok_src if rec["side"] == "source" else ok_ir).append((ir, rec))
        else:
            c[f"rejected/{'passes_tests' if b.status == 'passed' else b.status}"] += 1
    losers = []
    while (ok_src or ok_ir) and len(losers) < M:
        for pool in (ok_src, ok_ir):
            if pool and len(losers) < M:
                losers.append(pool.pop(0))
    c["rejected/over_mutants_per_group"] += len(ok_src) + len(ok_ir)
    for _, rec in losers:
        c[f"kept/{rec['side']}:{rec['kind']}"] += 1
    if not losers:
        return Outcome(None, "no_losers", "no mutant builds and fails the tests", c)
    group = {
        "id": p.id,
        "problem": p.id,
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER.format(source=p.source)}],
        "source": p.source,
        "test_program": p.test_program,
        "winners": [t for t, _ in wins],
        "losers": [t for t, _ in losers],
        "levels": [lv for _, lv in wins],
        "mutations": [rec for _, rec in losers],
    }
    return Outcome(group, counts=c)


# ---------------------------------------------------------------------------------------- the whole file
def build_groups(problems_path: Path, out: Path, cfg: BuildConfig, limit: Optional[int] = None, jail=None,
                 log: Callable[[str], None] = print) -> dict:
    from oorl.data.ir_groups.jail import ClangJail
    from oorl.reward.judge import cpu_share

    t0 = time.monotonic()
    problems, bad = read_problems(problems_path, limit)
    for where, why in bad:
        log(f"skipped {where}: {why}")
    jail = jail or ClangJail()
    threads = cfg.threads or cpu_share()

    def one(p: Problem) -> Outcome:
        try:
            return build_group(p, cfg, jail)
        except (IRError, ValueError) as e:  # a bug's or a strange input's symptom: this row only
            return Outcome(None, "error", f"{type(e).__name__}: {e}")

    from rich.console import Console
    from rich.progress import track

    with ThreadPoolExecutor(max_workers=threads) as pool:  # a progress bar on a terminal (stderr)
        outcomes = list(track(pool.map(one, problems), total=len(problems), description="IR groups",
                              console=Console(stderr=True), transient=True))
    totals: Counter = Counter()
    skipped: Counter = Counter({"bad_row": len(bad)}) if bad else Counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    groups = 0
    with open(out, "w", encoding="utf-8") as f:
        for p, o in zip(problems, outcomes):
            totals.update(o.counts)
            if o.group is None:
                skipped[o.skipped] += 1
                log(f"skipped {p.id}: {o.skipped}: {o.detail}")
                continue
            f.write(json.dumps(o.group) + "\n")
            groups += 1
            totals["winners"] += len(o.group["winners"])
            totals["losers"] += len(o.group["losers"])
    tried = sum(v for k, v in totals.items() if k.startswith("tried/"))
    kept = sum(v for k, v in totals.items() if k.startswith("kept/"))
    summary = {
        "problems": len(problems) + len(bad),
        "groups": groups,
        "skipped": dict(sorted(skipped.items())),
        "winners": totals["winners"],
        "losers": totals["losers"],
        "winners_per_group": round(totals["winners"] / groups, 2) if groups else 0.0,
        "losers_per_group": round(totals["losers"] / groups, 2) if groups else 0.0,
        "winners_failed": totals["winners_failed"],
        "winners_too_long": totals["winners_too_long"],
        "mutants": {
            "tried": tried,
            "kept": kept,
            "rejected": {k.split("/", 1)[1]: v for k, v in sorted(totals.items()) if k.startswith("rejected/")},
            "tried_by_kind": {k.split("/", 1)[1]: v for k, v in sorted(totals.items()) if k.startswith("tried/")},
            "kept_by_kind": {k.split("/", 1)[1]: v for k, v in sorted(totals.items()) if k.startswith("kept/")},
        },
        "wall_s": round(time.monotonic() - t0, 1),
        "out": str(out),
    }
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
