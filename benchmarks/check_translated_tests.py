"""How closely ``oorl data translate-tests`` agrees with MultiPL-E, measured on programs.

    .venv/bin/python benchmarks/check_translated_tests.py --languages js,php,sh
    .venv/bin/python benchmarks/check_translated_tests.py --languages js --limit 20 --show 5
    .venv/bin/python benchmarks/check_translated_tests.py --canonical --languages py,js,cpp,go,java,rs

Verdicts: for every problem both our translator and MultiPL-E produce, a set of programs written
against MultiPL-E's prompt is judged twice in the jail, with MultiPL-E's tests and with ours
(prompt + completion + tests, MultiPL-E's rule). The programs: plainly wrong ones (a constant, the
first argument, an empty value, ...), a lookup table that answers exactly MultiPL-E's test inputs
with MultiPL-E's expected values (it passes MultiPL-E by construction; it passes ours where our
inputs and values are MultiPL-E's), the same table less its last entry, and for JavaScript
HumanEval-X's canonical solution (camelCase name, called from MultiPL-E's). It prints, per
language and program kind, how many verdicts agree, and the disagreements (``--show``).

Canonical (``--canonical``): the share of our tests that accept the canonical solution: Python's own,
else HumanEval-X's in that language adapted to our signature (an adapter per language below).

MultiPL-E is read at run time from ``--multipl-e`` (evaluation only; nothing of it is stored).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oorl.data.test_translate import translate_file  # noqa: E402
from oorl.reward import multipl_e  # noqa: E402
from oorl.reward.harness import JudgeRequest  # noqa: E402
from oorl.reward.judge import Judge  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RUNNER = {"py": "python", "js": "javascript", "php": "php", "sh": "bash", "ts": "typescript", "cpp": "cpp",
          "cs": "csharp", "java": "java", "go": "go", "rs": "rust", "prolog": "prolog"}
HX = {"js": "js", "cpp": "cpp", "go": "go", "java": "java", "rs": "rust", "py": "python"}


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _number(name: str) -> str:
    return name.split("_")[1]


# -- the programs ------------------------------------------------------------------------------------

_LINES = {
    "js": re.compile(r"^\s*assert\.deepEqual\(candidate\((.*)\),(.*)\);\s*$"),
    "php": re.compile(r"^\s*if \(candidate\((.*)\) !== (.*)\) \{ throw new Exception\(\"Test failed!\"\); \}\s*$"),
    "sh": re.compile(r"^\s*\[\[ \$\(candidate ?(.*)\) = (\".*\") \]\]\s*$"),
}


def lookup_table(lang: str, tests: str) -> list[tuple[str, str]] | None:
    """(arguments, expected) as source text, from MultiPL-E's test lines (None: a line it cannot read)."""
    pairs = []
    for line in tests.split("\n"):
        if "candidate" not in line or line.strip().startswith(("function", "let candidate", "return", "candidate()")):
            continue
        if lang == "sh" and line.strip() in ("candidate() {",):
            continue
        m = _LINES[lang].match(line)
        if not m:
            if re.search(r"candidate\s*\(|\$\(candidate", line):
                return None
            continue
        pairs.append((m.group(1), m.group(2)))
    return pairs or None


def lookup_program(lang: str, table: list[tuple[str, str]]) -> str:
    if lang == "js":
        rows = ", ".join(f"[[{a}], {e}]" for a, e in table)
        return ("  const __t = [" + rows + "];\n  const __a = JSON.stringify(Array.from(arguments));\n"
                "  for (const [a, e] of __t) { if (JSON.stringify(a) === __a) return e; }\n  return null;\n}\n")
    if lang == "php":
        rows = ", ".join(f"array(array({a}), {e})" for a, e in table)
        return ("    $__t = array(" + rows + ");\n    $__a = func_get_args();\n"
                "    foreach ($__t as $__r) { if ($__r[0] == $__a) { return $__r[1]; } }\n    return null;\n}\n")
    body = "".join(f"    if [[ \"$__k\" == \"$(printf '%s|' {a})\" ]]; then printf '%s\\n' {e}; return 0; fi\n"
                   for a, e in table)
    return "    local __k\n    __k=$(printf '%s|' \"$@\")\n" + body + "    echo None\n"


WRONG = {
    "js": {"zero": "  return 0;\n}\n", "first_arg": "  return arguments[0];\n}\n", "undefined": "  return undefined;\n}\n",
           "empty_list": "  return [];\n}\n", "true": "  return true;\n}\n", "empty_str": "  return \"\";\n}\n"},
    "php": {"zero": "    return 0;\n}\n", "first_arg": "    return func_get_args()[0];\n}\n", "null": "    return null;\n}\n",
            "empty_array": "    return array();\n}\n", "true": "    return true;\n}\n", "empty_str": "    return \"\";\n}\n"},
    "sh": {"zero": "    echo 0\n", "first_arg": "    echo \"$1\"\n", "empty": "    echo \"\"\n", "true": "    echo true\n",
           "none": "    echo None\n"},
}


def default_program(lang: str, prompt: str) -> str | None:
    """A completion returning the result type's default value (typed languages)."""
    sig = prompt.rstrip().split("\n")[-1]
    if lang == "ts":
        return "  return undefined as any;\n}\n"
    if lang == "cpp":
        return "    return {};\n"
    m = re.search(r"public static (\S+(?:<.*>)?) \w+\(", sig)
    if m is None:
        return None
    if lang == "cs":
        return f"        return default({m.group(1)});\n"
    if lang == "java":
        return "        return %s;\n" % {"long": "0l", "float": "0f", "boolean": "false"}.get(m.group(1), "null")
    return None


def hx_js_program(hx_row: dict) -> str | None:
    names = re.findall(r"const\s+(\w+)\s*=\s*\(", hx_row["prompt"])
    if not names:
        return None
    code = hx_row["prompt"] + hx_row["canonical_solution"]
    return f"  return oorl_hx(...arguments);\n}}\nconst oorl_hx = (() => {{\n{code}\nreturn {names[-1]};\n}})();\n"


def programs(lang: str, theirs: dict, hx: dict | None) -> dict[str, str]:
    out = dict(WRONG.get(lang, {}))
    if lang in ("ts", "cpp", "java", "cs"):
        prog = default_program(lang, theirs["prompt"])
        if prog:
            out["default_value"] = prog
    table = lookup_table(lang, theirs["tests"]) if lang in _LINES else None
    if table:
        out["lookup"] = lookup_program(lang, table)
        if len(table) > 1:
            out["lookup_less_last"] = lookup_program(lang, table[:-1])
    if lang == "js" and hx is not None:
        prog = hx_js_program(hx)
        if prog:
            out["humaneval_x"] = prog
    return out


# -- the checks --------------------------------------------------------------------------------------

def verdicts(args) -> None:
    judge = Judge(threads=args.threads)
    for lang in args.languages:
        t0 = time.time()
        mine_rows, skipped = translate_file(args.problems, lang)
        mine = {r["name"]: r for r in mine_rows}
        theirs = {r["name"]: r for r in _jsonl(Path(args.multipl_e) / f"humaneval-{lang}.jsonl.gz")}
        hx = {}
        if lang == "js":
            hx = {f"{r['task_id'].split('/')[1]}": r for r in _jsonl(Path(args.humaneval_x) / "humaneval_js.jsonl.gz")}
        names = sorted(set(mine) & set(theirs), key=lambda n: int(_number(n)))[: args.limit]
        jobs = []
        for name in names:
            for kind, completion in programs(lang, theirs[name], hx.get(_number(name))).items():
                for side, row in (("mine", mine[name]), ("theirs", theirs[name])):
                    if lang in ("js", "php", "sh"):  # prompt + completion + tests, uncut
                        req = JudgeRequest.make(RUNNER[lang], row["prompt"] + completion, row["tests"])
                    else:  # MultiPL-E's layout as the harness assembles it (Java/C# classes)
                        req = multipl_e.request(row, completion)
                    jobs.append((name, kind, side, req))
        results = judge.judge([j[3] for j in jobs])
        by = collections.defaultdict(dict)
        for (name, kind, side, _), res in zip(jobs, results):
            by[(name, kind)][side] = res
        table = collections.defaultdict(lambda: [0, 0, 0, 0])  # agree, total, mine passes, theirs passes
        bad = []
        for (name, kind), r in by.items():
            row = table[kind]
            agree = r["mine"].passed == r["theirs"].passed
            row[0] += agree
            row[1] += 1
            row[2] += r["mine"].passed
            row[3] += r["theirs"].passed
            if not agree:
                bad.append((name, kind, r["mine"], r["theirs"]))
        total = [sum(v[i] for v in table.values()) for i in range(2)]
        print(f"\n{lang}: translated {len(mine)}/{len(_jsonl(Path(args.problems)))}, skipped {dict(skipped)}; "
              f"MultiPL-E has {len(theirs)}; compared on {len(names)} problems ({time.time() - t0:.0f}s)")
        print(f"  {'program':<18} {'agree':>7} {'of':>5} {'ours pass':>10} {'theirs pass':>12}")
        for kind, (a, n, pm, pt) in sorted(table.items()):
            print(f"  {kind:<18} {a:>7} {n:>5} {pm:>10} {pt:>12}")
        print(f"  {'all':<18} {total[0]:>7} {total[1]:>5}   ({100.0 * total[0] / max(1, total[1]):.1f}% agree)")
        for name, kind, m, t in bad[: args.show]:
            print(f"  DISAGREE {name} {kind}: ours {m.status.value} {(m.detail or '')[:120]!r} | "
                  f"theirs {t.status.value} {(t.detail or '')[:120]!r}")


def canonical(args) -> None:
    from oorl.data.test_translate import parse_problem, translate_problem
    from oorl.data.test_translate.adapters import adapt

    judge = Judge(threads=args.threads)
    problems = _jsonl(Path(args.problems))[: args.limit]
    for lang in args.languages:
        t0 = time.time()
        hx = {}
        if lang in HX and lang != "py":
            hx = {r["task_id"].split("/")[1]: r for r in _jsonl(Path(args.humaneval_x) / f"humaneval_{HX[lang]}.jsonl.gz")}
        if lang == "ts":
            hx = {r["task_id"].split("/")[1]: r for r in _jsonl(Path(args.humaneval_x) / "humaneval_js.jsonl.gz")}
        reqs, translated, no_adapter = [], 0, 0
        for prob in problems:
            try:
                row = translate_problem(prob, lang)
            except Exception:  # noqa: BLE001 - skipped by the translator
                continue
            translated += 1
            if lang == "py":
                reqs.append((row["name"], JudgeRequest.make("python", prob["prompt"] + prob["canonical_solution"], row["tests"])))
                continue
            h = hx.get(prob["task_id"].split("/")[1])
            parts = adapt(lang, parse_problem(prob), row, h) if h else None
            if parts is None:
                no_adapter += 1
                continue
            reqs.append((row["name"], JudgeRequest.make(RUNNER[lang], parts[0], parts[1])))
        res = judge.judge([q for _, q in reqs])
        passed = sum(x.passed for x in res)
        kinds = collections.Counter(x.status.value for x in res if not x.passed)
        print(f"\n{lang}: translated {translated}/{len(problems)}; canonical solution adapted for {len(reqs)} "
              f"(no adapter: {no_adapter}); accepted {passed}/{len(reqs)}; rejected by kind {dict(kinds)} "
              f"({time.time() - t0:.0f}s)")
        shown = 0
        for (name, _), x in zip(reqs, res):
            if not x.passed and shown < args.show:
                shown += 1
                print(f"  REJECTED {name}: {x.status.value} {(x.detail or '')[:300]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--languages", default="js,php,sh")
    ap.add_argument("--problems", default=str(SHARED / "multipl-e" / "humaneval-py.jsonl.gz"))
    ap.add_argument("--multipl-e", default=str(SHARED / "multipl-e"))
    ap.add_argument("--humaneval-x", default=str(SHARED / "humaneval-x"))
    ap.add_argument("--limit", type=int, default=None, help="the first N problems only")
    ap.add_argument("--show", type=int, default=10, help="disagreements to print per language")
    ap.add_argument("--canonical", action="store_true", help="canonical-solution acceptance instead")
    ap.add_argument("--threads", type=int, default=None, help="programs judged at once (default: CPUs)")
    args = ap.parse_args()
    args.languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    canonical(args) if args.canonical else verdicts(args)


if __name__ == "__main__":
    main()
