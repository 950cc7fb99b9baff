"""Whether ``oorl judge --multipl-e`` gives the pass rates a correct harness gives, on programs written
by others: HumanEval-X's canonical solutions (Apache-2.0) turned into answers to MultiPL-E's problems.

    .venv/bin/python benchmarks/check_multipl_e_harness.py --out /tmp/mpe            # write the samples files
    .venv/bin/oorl judge --multipl-e ../shared/data/multipl-e --samples /tmp/mpe/right.jsonl \\
        --threads 1 --per-sample /tmp/mpe/right.per.jsonl
    .venv/bin/python benchmarks/check_multipl_e_harness.py --out /tmp/mpe --summarise right.per.jsonl

Answers, per language (cpp, java, js, py; ts from the JavaScript solutions) and problem both data sets
have (HumanEval numbers):

``completion``   the canonical solution's body, continuing MultiPL-E's prompt (cut at its stop tokens);
``whole``        HumanEval-X's prompt + canonical solution (its includes/imports, comments, the function or
                 its class) in a fenced block, as an instruct model answers;
``whole_main``   the same followed by HumanEval-X's own test code (its ``main``, ``check(...)``, asserts),
                 which the harness must drop before MultiPL-E's tests run;
``whole_adapted`` (Java, C++) HumanEval-X's code as it is (Java: its class; C++: in a namespace) and
                 MultiPL-E's signature calling it through the test translator's type converter: a
                 program of several classes or namespaces whose types fit MultiPL-E's.

HumanEval-X's names and types differ from MultiPL-E's in places: JavaScript names are camelCase
(``greatestCommonDivisor`` vs ``greatest_common_divisor``), C++ uses ``int``/``vector<int>`` where
MultiPL-E has ``long``/``std::vector<long>``. The answers get MultiPL-E's function name (a whole-word
rename), and C++ answers ``long`` for ``int`` (``--raw`` keeps both as HumanEval-X has them). Other
differences (a tuple vs a vector, Java's ``List<Integer>`` vs ``ArrayList<Long>``, a different parameter
list) are the data sets', not the harness's: the summary lists each failure with its first error line so
they can be told apart.

``wrong.jsonl`` pairs every answer with the next problem (``name`` of problem i+1, the answer as it is);
``wrong_renamed.jsonl`` also renames the answer's function to that problem's, so the tests run and
must fail on their values. MultiPL-E is read at run time (evaluation only; nothing of it is stored).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oorl.reward import multipl_e as me  # noqa: E402
from oorl.reward import multipl_e_program as mp  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HX = {"cpp": "cpp", "java": "java", "js": "js", "ts": "js", "py": "python"}
FENCE = {"cpp": "cpp", "java": "java", "js": "javascript", "ts": "typescript", "py": "python"}


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def hx_entry(lang: str, row: dict) -> str:
    decl = row["declaration"].rstrip()
    if lang == "python":
        return re.findall(r"^def\s+(\w+)", decl, re.MULTILINE)[-1]
    if lang == "js":
        return re.findall(r"(?:const|function)\s+(\w+)", decl)[-1]
    return re.findall(r"(\w+)\s*\(", decl.splitlines()[-1])[-1]


def rename(code: str, old: str, new: str) -> str:
    return code if old == new else re.sub(rf"(?<![\w$]){re.escape(old)}(?![\w$])", new, code)


def cpp_long(code: str) -> str:
    """``int`` -> ``long`` (not ``int main``); MultiPL-E's C++ signatures are in ``long``."""
    return re.sub(r"\bint\b(?!\s+main\b)", "long", code)


_STD_TEMPLATES = ("vector", "map", "set", "pair", "unordered_map", "unordered_set", "tuple", "optional", "deque",
                  "queue", "stack", "priority_queue")
_STD_FUNCTIONS = ("string", "to_string", "max", "min", "make_tuple", "make_pair", "stoi", "reverse", "sort", "swap",
                  "count", "find", "accumulate", "any_cast")


def cpp_std(code: str) -> str:
    """``std::`` before the standard names a HumanEval-X body uses unqualified: MultiPL-E's C++ prompts
    have no ``using namespace std;``, which HumanEval-X's solutions rely on (completion answers only:
    the harness adds it to whole programs that need it)."""
    parts = re.split(r"(\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')", code)  # string literals stay
    return "".join(p if i % 2 else _qualify(p) for i, p in enumerate(parts))


def _qualify(code: str) -> str:
    q = r"(?<![\w:.>])"
    code = re.sub(rf"{q}(?:{'|'.join(_STD_TEMPLATES)})(?=\s*<)", lambda m: "std::" + m.group(0), code)
    code = re.sub(rf"{q}(?:{'|'.join(_STD_FUNCTIONS)})(?=\s*\()", lambda m: "std::" + m.group(0), code)
    code = re.sub(rf"{q}(?:string|stringstream|nullopt)\b(?!\s*[(<])", lambda m: "std::" + m.group(0), code)
    return code


def answers(lang: str, mp_prob: dict, hx_row: dict, raw: bool) -> dict[str, str]:
    hx_lang = HX[lang]
    old, new = hx_entry(hx_lang, hx_row), mp.entry_name(mp_prob)
    prompt, body, test = hx_row["prompt"], hx_row["canonical_solution"], hx_row["test"]
    if lang == "py":
        test = test + f"\ncheck({old})\n" if "check(" not in test.split("def check")[-1].split("\n", 1)[-1] else test
    if not raw:
        prompt, body, test = (rename(t, old, new) for t in (prompt, body, test))
        if lang == "cpp":
            prompt, body, test = (cpp_long(t) for t in (prompt, body, test))
    fence = FENCE[lang]
    out = {"completion": body if raw or lang != "cpp" else cpp_std(body),
           "whole": f"```{fence}\n{prompt}{body}\n```\n",
           "whole_main": f"Here is the program with its tests:\n\n```{fence}\n{prompt}{body}\n{test}\n```\n"}
    if lang in ("java", "cpp") and not raw:
        adapted = (java_adapted if lang == "java" else cpp_adapted)(mp_prob, hx_row)
        if adapted:
            out["whole_adapted"] = adapted
    return out


def cpp_adapted(mp_prob: dict, hx_row: dict) -> str | None:
    """A C++ whole program: HumanEval-X's solution as it is in a namespace, and MultiPL-E's signature
    calling it through the test translator's converter templates (``vector<int>`` -> ``vector<long>``,
    ``vector`` -> ``tuple``, ...)."""
    from oorl.data.test_translate.adapters import _CPP_CONV

    sig = mp_prob["prompt"].rstrip().split("\n")[-1].strip().rstrip("{").strip()
    m = re.match(r"(.+?)\s*\b(\w+)\s*\(", sig)
    hx_name = re.findall(r"(\w+)\s*\(", hx_row["declaration"].rstrip().split("\n")[-1])
    if not m or not hx_name:
        return None
    code = hx_row["prompt"] + hx_row["canonical_solution"]
    includes = "".join(ln + "\n" for ln in code.split("\n") if ln.strip().startswith("#include"))
    body = "\n".join(ln for ln in code.split("\n") if not ln.strip().startswith("#include"))
    args = "".join(", " + n for n in mp._params(sig))
    call = f"return oorl::Conv<{m.group(1)}>::go(oorl::call(hx::{hx_name[-1]}{args}));"
    return (f"```cpp\n#include <bits/stdc++.h>\n{includes}namespace hx {{\n{body}\n}}\n{_CPP_CONV}\n"
            f"{sig} {{\n    {call}\n}}\n\nint main() {{\n    return 0;\n}}\n```\n")


_BOXED = {"long": "Long", "int": "Integer", "float": "Float", "double": "Double", "boolean": "Boolean",
          "char": "Character"}


def java_adapted(mp_prob: dict, hx_row: dict) -> str | None:
    """A Java whole program of several classes: HumanEval-X's ``Solution`` as it is, and a ``Problem``
    whose static method has MultiPL-E's signature and calls it through a reflective converter (the
    test translator's, ``oorl/data/test_translate/adapters.py``), so MultiPL-E's types meet
    HumanEval-X's (``ArrayList<Long>`` vs ``List<Integer>``)."""
    from oorl.data.test_translate.adapters import _JAVA_CONV

    sig = mp_prob["prompt"].rstrip().split("\n")[-1].strip().rstrip("{").strip()
    m = re.match(r"public static (.+?) (\w+)\(", sig)
    hx_name = re.findall(r"public\s+(?:static\s+)?[\w<>\[\], ?]+\s+(\w+)\s*\(", hx_row["declaration"])
    if not m or not hx_name:
        return None
    ret = _BOXED.get(m.group(1), m.group(1))
    args = "".join(", " + n for n in mp._params(sig))
    code = hx_row["prompt"] + hx_row["canonical_solution"]
    imports = "".join(ln + "\n" for ln in code.split("\n") if ln.strip().startswith("import "))
    body = "\n".join(ln for ln in code.split("\n") if not ln.strip().startswith("import "))
    call = f'return ({ret}) OorlConv.call("{m.group(2)}", "{hx_name[-1]}"{args});'
    return (f"```java\n{imports}\n{body}\n\nclass Problem {{\n    {sig} {{\n        {call}\n    }}\n}}\n"
            f"{_JAVA_CONV}```\n")


def build(out: Path, multipl_e: Path, humaneval_x: Path, languages: list[str], raw: bool) -> None:
    problems = me.load_benchmark(multipl_e, "humaneval", languages)
    right, wrong, wrong_renamed = [], [], []
    for lang in languages:
        hx = {r["task_id"].split("/")[1]: r for r in _jsonl(humaneval_x / f"humaneval_{HX[lang]}.jsonl.gz")}
        probs = [p for p in problems[lang].values() if p["name"].split("_")[1] in hx]
        for i, p in enumerate(probs):
            nxt = probs[(i + 1) % len(probs)]
            row = hx[p["name"].split("_")[1]]
            for style, ans in answers(lang, p, row, raw).items():
                right.append({"name": p["name"], "language": lang, "completion": ans, "kind": style})
                wrong.append({"name": nxt["name"], "language": lang, "completion": ans, "kind": style,
                              "from": p["name"]})
                renamed = rename(ans, mp.entry_name(p), mp.entry_name(nxt))
                wrong_renamed.append({"name": nxt["name"], "language": lang, "completion": renamed, "kind": style,
                                      "from": p["name"]})
    out.mkdir(parents=True, exist_ok=True)
    for fname, rows in (("right", right), ("wrong", wrong), ("wrong_renamed", wrong_renamed)):
        with open(out / f"{fname}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(f"{out / fname}.jsonl: {len(rows)} samples")


def summarise(out: Path, per_sample: str) -> None:
    """Pass rates per language and answer kind, from ``oorl judge --per-sample`` and the samples file."""
    per = [json.loads(x) for x in (out / per_sample).read_text().splitlines()]
    samples_file = out / (per_sample.split(".")[0] + ".jsonl")
    samples = [json.loads(x) for x in samples_file.read_text().splitlines()]
    assert len(per) == len(samples), (len(per), len(samples))
    table: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    fails: dict[str, list[str]] = collections.defaultdict(list)
    for s, r in zip(samples, per):
        t = table[(s["language"], s["kind"])]
        t[0] += int(r["passed"])
        t[1] += 1
        if not r["passed"]:
            fails[s["language"]].append(f"{s['name']} {s['kind']} [{r['style']}] {r['status']}: {r['detail'][:160]}")
    print(f"{'language':8} {'kind':11} passed/total")
    for (lang, kind), (p, n) in sorted(table.items()):
        print(f"{lang:8} {kind:11} {p}/{n} ({100.0 * p / n:.1f}%)")
    for lang, lines in sorted(fails.items()):
        print(f"\n{lang}: {len(lines)} not passed")
        for line in lines:
            print("  " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="directory for the samples files")
    ap.add_argument("--multipl-e", type=Path, default=SHARED / "multipl-e")
    ap.add_argument("--humaneval-x", type=Path, default=SHARED / "humaneval-x")
    ap.add_argument("--languages", default="cpp,java,js,ts,py")
    ap.add_argument("--raw", action="store_true", help="keep HumanEval-X's names and C++ types")
    ap.add_argument("--summarise", metavar="PER_SAMPLE", help="summarise a --per-sample file of `oorl judge`")
    args = ap.parse_args()
    if args.summarise:
        summarise(args.out, args.summarise)
    else:
        build(args.out, args.multipl_e, args.humaneval_x, args.languages.split(","), args.raw)


if __name__ == "__main__":
    main()
