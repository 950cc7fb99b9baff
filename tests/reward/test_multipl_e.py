"""The MultiPL-E harness: answer-style detection and program assembly on small problems of our own,
then jailed runs on the real benchmark (read at run time from ../shared/data/multipl-e; skipped when
absent, since MultiPL-E is evaluation-only and never ships with the project): correct answers pass in
both styles, the same answers paired with another problem fail; bad input is one-line errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from oorl.errors import UserError
from oorl.reward import multipl_e as me
from oorl.reward import multipl_e_program as mp
from oorl.reward.harness import build_program
from oorl.reward.judge import Judge
from oorl.reward.sandbox import RunResult, Verdict

from .helpers import short_limits

MULTIPL_E = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "multipl-e"
needs_data = pytest.mark.skipif(not MULTIPL_E.is_dir(), reason="../shared/data/multipl-e not available")

# -- small problems of our own, in MultiPL-E's layout ------------------------------------------------

CPP = {"name": "T_1_twice", "language": "cpp", "stop_tokens": ["\n}"],
       "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Twice x.\n// >>> twice(2)\n// 4\nlong twice(long x) {\n",
       "tests": "}\nint main() {\n    auto candidate = twice;\n    assert(candidate(3) == 6);\n}\n"}
JAVA = {"name": "T_1_twice", "language": "java", "stop_tokens": ["\n    }\n"],
        "prompt": "import java.util.*;\nclass Problem {\n    // Twice x.\n    public static long twice(long x) {\n",
        "tests": "    }\n    public static void main(String[] args) {\n    assert(twice(3) == 6);\n    }\n\n}\n"}
CS = {"name": "T_1_twice", "language": "cs", "stop_tokens": ["\n    }\n"],
      "prompt": "using System;\nusing System.Diagnostics;\nclass Problem {\n    // Twice x.\n    public static long Twice(long x) {\n",
      "tests": "    }\n    public static void Main(string[] args) {\n    Debug.Assert(Twice(3) == 6);\n    }\n\n}\n"}
SH = {"name": "T_1_twice", "language": "sh", "stop_tokens": ["\n}"],
      "prompt": "#!/bin/bash\n# Twice x.\n#\n# $1 is an integer\ntwice() {\n",
      "tests": "}\n\ncandidate() {\n    twice \"$@\"\n}\n\nset -e\nrun_test() {\n    [[ $(candidate \"3\") = \"6\" ]]\n}\n\nrun_test"}
JS = {"name": "T_1_twice", "language": "js", "stop_tokens": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"],
      "prompt": "//Twice x.\nfunction twice(x){\n",
      "tests": "const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = twice;\n"
               "  assert.deepEqual(candidate(3),6);\n}\n\ntest();"}
PHP = {"name": "T_1_twice", "language": "php", "stop_tokens": ["\nfunction", "\n?>", "\n//", "\n#"],
       "prompt": "<?php\n// Twice x.\nfunction twice($x) {\n",
       "tests": "function candidate(...$args) {\n    return twice(...$args);\n}\n\nfunction test(): void {\n"
                "    if (candidate(3) !== 6) { throw new Exception(\"Test failed!\"); }\n}\n\ntest();"}
PY_ROW = {"task_id": "T/1", "prompt": "from typing import List\n\n\ndef twice(x: int) -> int:\n    \"\"\" Twice x. \"\"\"\n",
          "test": "\n\ndef check(candidate):\n    assert candidate(3) == 6\n", "entry_point": "twice",
          "canonical_solution": "    return 2 * x\n"}

GO = {"name": "T_1_twice", "language": "go", "stop_tokens": ["\nfunc", "struct", "\n// "],
      "prompt": 'package twice_test\n\nimport (\n    "testing"\n    "fmt"\n)\n\n// Twice x.\nfunc twice(x int) int {\n',
      "tests": '\nfunc TestTwice(t *testing.T) {\n  candidate := twice\n  tests := []struct{ actual, expected interface{} }{\n'
               '    { actual: candidate(3), expected: 6 },\n  }\n  for i, tc := range tests {\n'
               '    t.Run(fmt.Sprintf("test num % d", i), func(t *testing.T) {\n'
               '      if fmt.Sprintf("%v", tc.actual) != fmt.Sprintf("%v", tc.expected) {\n'
               '        t.Errorf("expected %v, got %v", tc.expected, tc.actual)\n      }\n    })\n  }\n}\n'}
GO_MAIN = {**GO, "prompt": 'package main\n\nimport (\n    "fmt"\n)\n\n// Twice x.\nfunc twice(x int) int {\n',
           "tests": '}\n\nfunc main() {\n    candidate := twice\n    if got, want := fmt.Sprintf("%v", candidate(3)), "6"; '
                    'got != want { panic("test 1 failed") }\n}\n'}  # tests closing the function, stop tokens not
RS = {"name": "T_1_twice", "language": "rs", "stop_tokens": ["\n}"],
      "prompt": "use std::collections::HashMap;\n\n/// Twice x.\nfn twice(x: isize) -> isize {\n",
      "tests": "}\n\nfn main() {\n    let candidate = twice;\n    assert_eq!(candidate(3), 6);\n}\n"}
PL = {"name": "T_1_twice", "language": "prolog", "stop_tokens": ["\n\n"],
      "prompt": "% Twice X.\n% twice(+X, -Y)\ntwice(X, Y) :-\n", "tests": "twice(3, 6).\n\\+ twice(3, 7).\n"}


def py_problem():
    return me.normalize(PY_ROW, "py")


def test_humaneval_python_rows_are_named_as_multipl_e_names_them():
    p = py_problem()
    assert p["name"] == "T_1_twice" and p["language"] == "py" and p["stop_tokens"] == me.PYTHON_STOP_TOKENS
    assert "check(twice)" in p["tests"]


def test_entry_names_and_headers():
    assert [mp.entry_name(p) for p in (CPP, JAVA, CS, SH, JS, PHP, py_problem())] == \
        ["twice", "twice", "Twice", "twice", "twice", "twice", "twice"]
    assert mp.header(JAVA) == "import java.util.*;\n"
    assert mp.header(CS) == "using System;\nusing System.Diagnostics;\n"
    assert mp.header(CPP).startswith("#include<assert.h>\n#include<bits/stdc++.h>\n") and "long twice" not in mp.header(CPP)


@pytest.mark.parametrize("problem,answer,style", [
    (CPP, "    return 2 * x;\n}\n\nint main() {}\n", "completion"),
    (CPP, "```cpp\nlong twice(long x) {\n    return 2 * x;\n}\n```", "whole"),
    (CPP, "Here you go:\n```\n#include <vector>\nlong twice(long x) { return x + x; }\n```\nDone.", "whole"),
    (CPP, "```cpp\n    return 2 * x;\n```", "completion"),  # a fenced body only
    (CPP, CPP["prompt"] + "    return 2 * x;\n}\n", "completion"),  # the prompt echoed back
    (CPP, "long twice(long x) {\n    return 2 * x;\n}\n", "whole"),  # unfenced whole program
    (CPP, "    if (twice(x - 1) > 0) {\n        return 2 * x;\n    }\n", "completion"),  # a call is not a definition
    (JAVA, "        return 2 * x;\n    }\n", "completion"),
    (JAVA, "```java\nclass Solution {\n    public long twice(long x) { return 2 * x; }\n}\n```", "whole"),
    (SH, "    echo $(( $1 * 2 ))\n}\n", "completion"),
    (SH, "```bash\nfunction twice {\n    echo $(( $1 * 2 ))\n}\n```", "whole"),
    (JS, "```js\nconst twice = (x) => 2 * x;\n```", "whole"),
    (PHP, "```php\n<?php\nfunction twice($x) { return 2 * $x; }\n```", "whole"),
    (py_problem(), "    return 2 * x\n", "completion"),
    (py_problem(), "```python\ndef twice(x):\n    return 2 * x\n```", "whole"),
    (py_problem(), "def twice(x):\n    return 2 * x\n", "whole"),
    (CPP, "   \n", "no_code"),
    (CPP, "```cpp\n```", "no_code"),
])
def test_answer_style(problem, answer, style):
    assert mp.split_answer(problem, answer)[0] == style


def test_completion_is_cut_at_the_first_stop_token():
    assert mp.cut_at_stop_tokens("  a;\n}\nint main() {\n}\n", ["\n}"]) == "  a;"
    assert mp.cut_at_stop_tokens("x\n//c\nfunction f", ["\nfunction ", "\n//"]) == "x"
    a = mp.assemble(CPP, "    return 2 * x;\n}\nint main() { return 1; }\n")
    assert a.style == "completion" and a.program == CPP["prompt"] + "    return 2 * x;" + "\n" + CPP["tests"]


def test_cpp_whole_program_loses_its_main_and_its_own_asserts_but_keeps_the_benchmarks():
    ans = ("```cpp\n#include <iostream>\n#define NDEBUG\nusing namespace std;\nlong twice(long x) { return 2 * x; }\n"
           "int main() {\n    assert(twice(1) == 3);\n    cout << twice(2) << endl;\n    return 0;\n}\n```")
    src = mp.assemble(CPP, ans).program
    assert "assert(twice(1) == 3)" not in src and "NDEBUG" not in src and "cout << twice(2)" not in src
    assert src.count("int main") == 1 and "auto candidate = ::twice;" in src  # not std::anything of that name
    assert src.startswith("#include<assert.h>") and "long twice(long x) {\n" not in src.split("long twice(long x) {")[0]


def test_cpp_class_answer_gets_a_free_function():
    ans = "```cpp\nclass Solution {\npublic:\n    long twice(long x) { return 2 * x; }\n};\n```"
    src = mp.assemble(CPP, ans).program
    assert "long twice(long x) { return Solution().twice(x); }" in src


def test_java_whole_program_tests_go_into_the_answers_class():
    ans = ("```java\npublic class Main {\n    public static long twice(long x) { return 2 * x; }\n"
           "    public static void main(String[] args) {\n        assert twice(1) == 3;\n    }\n}\n```")
    src = mp.assemble(JAVA, ans).program
    assert "assert twice(1) == 3" not in src and src.count("void main") == 1
    main_at, class_end = src.index("void main"), src.rindex("}")
    assert src.index("public class Main") < main_at < class_end and src.startswith("import java.util.*;")
    inst = mp.assemble(JAVA, "```java\nclass Solution {\n    public long twice(long x) { return 2 * x; }\n}\n```").program
    assert "public static long twice(long x) throws Exception { return new Solution().twice(x); }" in inst


def test_csharp_usings_and_namespaces_come_first():
    ans = ("```csharp\nusing System.Linq;\nnamespace Sol {\n  class S {\n    public static long Twice(long x) => 2 * x;\n"
           "    static void Main() { System.Console.WriteLine(1); }\n  }\n}\n```")
    src = mp.assemble(CS, ans).program
    head = src[:src.index("namespace Sol")]
    assert "using System.Linq;" in head and "using System.Diagnostics;" in head and "using Sol;" in head
    assert "System.Console.WriteLine(1)" not in src and src.count("Main(") == 1


def test_python_whole_program_without_its_own_tests():
    code = ("import sys\nsys.setrecursionlimit(10000)\n\ndef twice(x):\n    return 2 * x\n\nassert twice(1) == 3\n"
            "print(twice(2))\nn = int(input())\nfor i in range(3):\n    print(i)\nTABLE = [i for i in range(3)]\n"
            "if __name__ == '__main__':\n    import unittest\n    unittest.main()\n")
    out = mp.python_without_own_tests(code)
    assert "sys.setrecursionlimit" in out and "def twice" in out and "TABLE" in out
    for gone in ("assert twice(1)", "print(twice(2))", "input()", "print(i)", "unittest"):
        assert gone not in out
    cls = mp.assemble(py_problem(), "```python\nclass Solution:\n    def twice(self, x):\n        return 2 * x\n```")
    assert "return Solution().twice(*args, **kwargs)" in cls.program


def test_bash_whole_program_keeps_functions_only():
    code = ("#!/usr/bin/env bash\nset -euo pipefail\nshopt -s extglob\nLIMIT=10\n\ntwice() {\n  local x=$1\n"
            "  if (( x > 0 )); then\n    echo $(( x * 2 ))\n  else\n    echo 0\n  fi\n}\n\nhelper()\n{\n  echo \"}\"\n}\n\n"
            "if [[ \"${BASH_SOURCE[0]}\" == \"$0\" ]]; then\n  twice \"$1\"\nfi\nwhile read -r l; do\n  twice \"$l\"\ndone\n"
            "cat <<EOF\nusage\nEOF\ntwice 3\nexit 0\n")
    out = mp.bash_without_own_tests(code)
    assert "twice() {" in out and "echo $(( x * 2 ))" in out and "helper()" in out and 'echo "}"' in out
    assert "shopt -s extglob" in out and "LIMIT=10" in out
    for gone in ("set -euo", "BASH_SOURCE", "read -r", "usage", "twice 3", "exit 0"):
        assert gone not in out


def test_script_answers_keep_declarations_only():
    code = ("'use strict';\nconst assert = require('assert');\nconst K = 2\nfunction twice(x) {\n  return K * x\n}\n"
            "function test() { throw new Error('own') }\nconsole.log(twice(2))\nassert.equal(twice(1), 3);\n"
            "if (require.main === module) {\n  process.exit(0)\n}\nmodule.exports = { twice }\n"
            "export function other() {}\n")
    out = mp.script_without_own_tests(code, "js", {"assert", "test"})
    assert "const K = 2" in out and "function twice(x)" in out and "function other()" in out
    assert "export" not in out
    for gone in ("require('assert')", "own", "console.log", "assert.equal", "process.exit", "module.exports"):
        assert gone not in out
    php = mp.assemble(PHP, "```php\n<?php\ndeclare(strict_types=1);\nfunction twice(int $x): int { return 2 * $x; }\n"
                           "function test() { exit(0); }\necho twice(2);\n?>\n```").program
    assert php.startswith("<?php") and "strict_types" not in php and "exit(0)" not in php and "echo twice" not in php
    assert php.count("?>") == 0
    cls = mp.assemble(PHP, "```php\nclass Solution {\n    public function twice($x) { return 2 * $x; }\n}\n```").program
    assert "function twice(...$args) { return (new Solution())->twice(...$args); }" in cls



def test_unfenced_python_with_sentences_around_it():
    style, code = mp.split_answer(py_problem(), "Sure:\n\ndef twice(x):\n    return 2 * x\n\nThis doubles x.\n")
    assert style == "whole" and code.strip() == "def twice(x):\n    return 2 * x"


def test_go_whole_program_imports_are_merged_and_pruned():
    ans = ('```go\npackage main\n\nimport (\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\nfunc twice(x int) int {\n'
           '\treturn len(strings.Repeat("a", 2)) * x\n}\n\nfunc main() {\n\tfmt.Println(twice(2))\n\tos.Exit(0)\n}\n```')
    a = mp.assemble(GO, ans)
    assert a.program == "" and "func main" not in a.tests and "os.Exit" not in a.tests
    imports = a.tests[a.tests.index("import ("):a.tests.index(")")]
    assert sorted(imports.split()[2:]) == ['"fmt"', '"strings"', '"testing"']
    assert a.tests.startswith("package main") and "package twice_test" not in a.tests


@pytest.mark.parametrize("problem,answer,passes", [
    (GO, "\treturn 2 * x\n}\n", True), (GO, "\treturn 3 * x\n}\n", False),
    (GO, '```go\npackage main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc twice(x int) int {\n\treturn 2 * x\n}\n\n'
         'func main() {\n\tfmt.Println(twice(2))\n\tos.Exit(0)\n}\n```', True),
    (GO, '```go\nimport "fmt"\n\nfunc twice(x int) int { return x + x + 1 }\n\nfunc main() { fmt.Println(1) }\n```', False),
    (GO_MAIN, "\treturn 2 * x\n}\n", True), (GO_MAIN, "\treturn 2 * x\n", True), (GO_MAIN, "\treturn 3 * x\n}\n", False),
    (RS, "    2 * x\n}\n", True), (RS, "    3 * x\n}\n", False),
    (RS, "```rust\nuse std::collections::HashMap;\n\nfn twice(x: isize) -> isize {\n    x * 2\n}\n\nfn main() {\n"
         "    assert_eq!(twice(1), 3);\n}\n```", True),
    (PHP, "```php\n<?php\nclass Solution {\n    function twice($x) { return 2 * $x; }\n}\n```", True),
    (PL, "    Y is 2 * X.\n", True), (PL, "    Y is 3 * X.\n", False),
    (PL, "```prolog\n:- initialization(main).\ntwice(X, Y) :- Y is X + X.\nmain :- twice(2, Y), write(Y), nl, halt.\n```", True),
], ids=lambda v: v["language"] if isinstance(v, dict) else None)
def test_languages_multipl_e_lacks_here(problem, answer, passes):
    """Go, Rust and Prolog (which the test translator writes), and a PHP class answer, on problems of our own."""
    judge = Judge(short_limits(wall_s=20.0, cpu_s=10.0, memory_mb=1024), threads=1)
    r = me.judge_completions([problem], [answer], judge)[0]
    judge.close()
    assert r.passed is passes, (r.status, r.detail, r.stderr[-500:])

# -- loading and bad input ----------------------------------------------------------------------------------

def _write(path: Path, rows: list, gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_load_benchmark_reads_both_file_forms(tmp_path):
    _write(tmp_path / "humaneval-cpp.jsonl.gz", [CPP], gz=True)
    _write(tmp_path / "humaneval-sh.jsonl", [SH])
    _write(tmp_path / "humaneval-py.jsonl", [PY_ROW])
    _write(tmp_path / "mbpp-cpp.jsonl", [{**CPP, "name": "mbpp_1_twice"}])
    _write(tmp_path / "humaneval-lua.jsonl", ["{}"])  # a language the harness does not know: left out
    got = me.load_benchmark(tmp_path, "humaneval")
    assert sorted(got) == ["cpp", "py", "sh"] and list(got["py"]) == ["T_1_twice"]
    assert sorted(me.load_benchmark(tmp_path, None, ["c++"])["cpp"]) == ["T_1_twice", "mbpp_1_twice"]


@pytest.mark.parametrize("rows,message", [
    (['not json'], r"humaneval-cpp.jsonl:1: not valid JSON"),
    (['[1]'], r"humaneval-cpp.jsonl:1: expected a JSON object"),
    ([{k: v for k, v in CPP.items() if k != "tests"}], r"humaneval-cpp.jsonl:1: field 'tests' is missing"),
    ([CPP, {**CPP, "prompt": 3}], r"humaneval-cpp.jsonl:2: field 'prompt' must be a string"),
    ([{**CPP, "stop_tokens": "nope"}], r":1: field 'stop_tokens' must be a list of strings"),
    ([{**CPP, "language": "java"}], r":1: field 'language' is 'java' but the file holds cpp problems"),
    ([{**CPP, "language": "cobol"}], r":1: field 'language': unknown language 'cobol'"),
    ([CPP, CPP], r":2: field 'name': 'T_1_twice' appears twice"),
])
def test_wrong_layout_is_a_one_line_error(tmp_path, rows, message):
    _write(tmp_path / "humaneval-cpp.jsonl", rows)
    with pytest.raises(UserError, match=message) as e:
        me.load_benchmark(tmp_path)
    assert "\n" not in str(e.value)


def test_unknown_language_or_benchmark(tmp_path):
    _write(tmp_path / "humaneval-cpp.jsonl", [CPP])
    with pytest.raises(UserError, match="--languages: unknown language 'cobol'"):
        me.load_benchmark(tmp_path, None, ["cobol"])
    with pytest.raises(UserError, match="no humaneval-java.jsonl"):
        me.load_benchmark(tmp_path, None, ["java"])
    with pytest.raises(UserError, match="--benchmark 'apps'.*benchmarks there: humaneval"):
        me.load_benchmark(tmp_path, "apps")
    with pytest.raises(UserError, match="no such directory"):
        me.load_benchmark(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no <benchmark>-<language>.jsonl"):
        me.load_benchmark(tmp_path / "empty")


def test_samples_errors_name_file_row_and_field(tmp_path):
    _write(tmp_path / "humaneval-cpp.jsonl", [CPP])
    problems = me.load_benchmark(tmp_path)
    s = _write(tmp_path / "s.jsonl", [{"name": "T_1_twice", "language": "cpp", "completion": "x"},
                                      {"name": "T_9_nope", "language": "cpp", "completion": "x"}])
    samples = me.read_samples(s)
    assert me.find_problem(problems, samples[0], "s")["name"] == "T_1_twice"
    with pytest.raises(UserError, match=r"s.jsonl:2: field 'name': 'T_9_nope' is not a cpp problem"):
        me.find_problem(problems, samples[1], f"{s}:{samples[1]['row']}")
    bad = _write(tmp_path / "b.jsonl", [{"name": "T_1_twice", "completion": "x"}])
    with pytest.raises(UserError, match=r"b.jsonl:1: field 'language' is missing"):
        me.read_samples(bad)
    bad = _write(tmp_path / "c.jsonl", [{"name": "T_1_twice", "language": "cpp"}])
    with pytest.raises(UserError, match=r"c.jsonl:1: field 'completion' is missing"):
        me.read_samples(bad)


def test_failure_kinds():
    kinds = {v: me.failure_kind(RunResult(v, "cpp")) for v in Verdict}
    assert kinds[Verdict.PASSED] == "passed" and kinds[Verdict.FAILED] == "wrong_answer"
    assert kinds[Verdict.MEMORY] == "runtime_error" and kinds[Verdict.SANDBOX_ERROR] == "sandbox_error"
    assert me.failure_kind(RunResult(Verdict.COMPILE_ERROR, "cpp", detail=me.NO_CODE)) == "no_code"
    assert me.judge_completions([CPP], ["  \n"], judge=object())[0].detail == me.NO_CODE  # never run


def test_request_builds_through_the_harness():
    prog = build_program(me.request(CPP, "    return 2 * x;\n}\n"))
    assert "long twice(long x) {\n    return 2 * x;\n}\nint oorl_tests_main()" in prog.files["main.cpp"]
    prog = build_program(me.request(JAVA, "```java\nclass Problem {\n  public static long twice(long x) { return 2*x; }\n}\n```"))
    assert any("OorlRunner" in f for f in prog.files)


def _oorl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oorl.cli", "judge", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_bad_input_exits_2_with_one_line(tmp_path):
    _write(tmp_path / "humaneval-cpp.jsonl", [CPP])
    s = _write(tmp_path / "s.jsonl", [{"name": "T_7_other", "language": "cpp", "completion": "x"}])
    for args, message in [
        (["--multipl-e", str(tmp_path), "--samples", str(s)], "s.jsonl:1: field 'name': 'T_7_other' is not a cpp"),
        (["--multipl-e", str(tmp_path), "--samples", str(s), "--languages", "klingon"], "unknown language 'klingon'"),
        (["--multipl-e", str(tmp_path), "--samples", str(s), "--benchmark", "mbpp"], "--benchmark 'mbpp'"),
        (["--multipl-e", str(tmp_path / "nope"), "--samples", str(s)], "no such directory"),
        (["--multipl-e", str(tmp_path), "--humaneval-x", str(tmp_path)], "give one of"),
    ]:
        out = _oorl(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("oorl: error: ") and message in lines[0], (args, out.stderr)


# -- jailed, on the real benchmark ------------------------------------------------------------------------------

# Correct answers we wrote, per language and problem: a completion of the prompt, and an instruct-style
# whole program (fenced, with its own main/asserts/prints, sometimes without the prompt's includes).
SOLUTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "cpp": {
        "HumanEval_13_greatest_common_divisor": (
            "    while (b != 0) { long t = a % b; a = b; b = t; }\n    return a;\n}\n\nint main() { return 3; }\n",
            "```cpp\n#include <iostream>\nusing namespace std;\n\nlong greatest_common_divisor(long a, long b) {\n"
            "    return b == 0 ? a : greatest_common_divisor(b, a % b);\n}\n\nint main() {\n"
            "    assert(greatest_common_divisor(3, 5) == 2);\n    cout << greatest_common_divisor(25, 15) << endl;\n"
            "    return 0;\n}\n```"),
        "HumanEval_48_is_palindrome": (
            "    std::string r(text.rbegin(), text.rend());\n    return r == text;\n}\n",
            "```cpp\nclass Solution {\npublic:\n    bool is_palindrome(string text) {\n        int i = 0, j = (int)text.size() - 1;\n"
            "        while (i < j) if (text[i++] != text[j--]) return false;\n        return true;\n    }\n};\n```"),
        "HumanEval_30_get_positive": (
            "    std::vector<long> out;\n    for (long x : l) if (x > 0) out.push_back(x);\n    return out;\n}",
            "Sure:\n```\nstd::vector<long> get_positive(std::vector<long> l) {\n    std::vector<long> out;\n"
            "    std::copy_if(l.begin(), l.end(), std::back_inserter(out), [](long x) { return x > 0; });\n"
            "    return out;\n}\n```\n"),
    },
    "java": {
        "HumanEval_13_greatest_common_divisor": (
            "        while (b != 0) { long t = a % b; a = b; b = t; }\n        return a;\n    }\n    static void x() {}\n",
            "```java\nimport java.util.*;\n\npublic class Main {\n    public static long greatestCommonDivisor(long a, long b) {\n"
            "        return b == 0 ? a : greatestCommonDivisor(b, a % b);\n    }\n\n    public static void main(String[] args) {\n"
            "        assert greatestCommonDivisor(3, 5) == 2;\n        System.out.println(greatestCommonDivisor(25, 15));\n"
            "    }\n}\n```"),
        "HumanEval_48_is_palindrome": (
            "        return new StringBuilder(text).reverse().toString().equals(text);\n    }\n",
            "```java\nclass Solution {\n    public boolean isPalindrome(String text) {\n        int i = 0, j = text.length() - 1;\n"
            "        while (i < j) { if (text.charAt(i++) != text.charAt(j--)) return false; }\n        return true;\n"
            "    }\n}\n```"),
        "HumanEval_30_get_positive": (
            "        ArrayList<Long> out = new ArrayList<>();\n        for (long x : l) if (x > 0) out.add(x);\n"
            "        return out;\n    }\n",
            "```java\nclass Problem {\n    public static ArrayList<Long> getPositive(ArrayList<Long> l) {\n"
            "        return l.stream().filter(x -> x > 0).collect(Collectors.toCollection(ArrayList::new));\n    }\n}\n```"),
    },
    "cs": {
        "HumanEval_13_greatest_common_divisor": (
            "        while (b != 0) { long t = a % b; a = b; b = t; }\n        return a;\n    }\n",
            "```csharp\nusing System;\n\nclass Program {\n    public static long GreatestCommonDivisor(long a, long b) {\n"
            "        return b == 0 ? a : GreatestCommonDivisor(b, a % b);\n    }\n\n    static void Main(string[] args) {\n"
            "        Console.WriteLine(GreatestCommonDivisor(25, 15));\n"
            "        System.Diagnostics.Debug.Assert(GreatestCommonDivisor(3, 5) == 2);\n    }\n}\n```"),
        "HumanEval_48_is_palindrome": (
            "        var arr = text.ToCharArray();\n        Array.Reverse(arr);\n        return new string(arr) == text;\n    }\n",
            "```cs\nusing System.Linq;\nnamespace Solutions {\n    public class Solution {\n"
            "        public bool IsPalindrome(string text) => text.SequenceEqual(text.Reverse());\n    }\n}\n```"),
        # (not a List-returning problem: MultiPL-E's C# tests compare lists with List.Equals, by reference,
        # so those fail for every answer, as they do in MultiPL-E itself)
        "HumanEval_55_fib": (
            "        long a = 0, b = 1;\n        for (long i = 0; i < n; i++) { long t = a + b; a = b; b = t; }\n"
            "        return a;\n    }\n",
            "```csharp\npublic static long Fib(long n) {\n    return n < 2 ? n : Fib(n - 1) + Fib(n - 2);\n}\n```"),
    },
    "js": {
        "HumanEval_13_greatest_common_divisor": (
            "\n  while (b) { [a, b] = [b, a % b]; }\n  return a;\n}\n\nconsole.log(greatest_common_divisor(3, 5));\n",
            "```javascript\nconst assert = require('assert');\n\nfunction greatest_common_divisor(a, b) {\n"
            "  return b === 0 ? a : greatest_common_divisor(b, a % b);\n}\n\nassert.strictEqual(greatest_common_divisor(3, 5), 2);\n"
            "module.exports = { greatest_common_divisor };\n```"),
        "HumanEval_48_is_palindrome": (
            "  return text === text.split('').reverse().join('');\n}\n",
            "```js\nconst is_palindrome = (text) => {\n  const r = [...text].reverse().join('')\n  return r === text\n}\n\n"
            "if (require.main === module) {\n  console.log(is_palindrome('aba'))\n  process.exit(0)\n}\n```"),
        "HumanEval_30_get_positive": (
            "  return l.filter(x => x > 0);\n}\n",
            "```js\nexport function get_positive(l) {\n  return l.filter((x) => x > 0);\n}\n"
            "console.assert(get_positive([1]).length === 2);\n```"),
    },
    "ts": {
        "HumanEval_13_greatest_common_divisor": (
            "  while (b !== 0) { const t = a % b; a = b; b = t; }\n  return a;\n}\n",
            "```typescript\nimport * as assert from 'assert';\n\nexport function greatest_common_divisor(a: number, b: number): number {\n"
            "  return b === 0 ? a : greatest_common_divisor(b, a % b);\n}\n\nassert.strictEqual(greatest_common_divisor(3, 5), 2);\n```"),
        "HumanEval_48_is_palindrome": (
            "  return text === text.split(\"\").reverse().join(\"\");\n}\n\nfunction extra(): void {}\n",
            "```ts\nconst is_palindrome = (text: string): boolean => {\n  return text === [...text].reverse().join('');\n};\n"
            "console.log(is_palindrome('aba'));\n```"),
        "HumanEval_30_get_positive": (
            "  return l.filter((x) => x > 0);\n}\n",
            "```ts\nfunction test(): void { throw new Error('own test'); }\nfunction get_positive(l: number[]): number[] {\n"
            "  return l.filter(x => x > 0);\n}\ntest();\n```"),
    },
    "php": {
        "HumanEval_13_greatest_common_divisor": (
            "    while ($b != 0) { $t = $a % $b; $a = $b; $b = $t; }\n    return $a;\n}\n",
            "```php\n<?php\nfunction greatest_common_divisor($a, $b) {\n    return $b == 0 ? $a : greatest_common_divisor($b, $a % $b);\n"
            "}\n\necho greatest_common_divisor(25, 15) . \"\\n\";\nassert(greatest_common_divisor(3, 5) == 2);\n?>\n```"),
        "HumanEval_48_is_palindrome": (
            "    return strrev($text) === $text;\n}\n\nfunction other() {}\n",
            "```php\n<?php\ndeclare(strict_types=1);\n\nfunction is_palindrome(string $text): bool {\n"
            "    return strrev($text) === $text;\n}\n\nfunction test() { exit(0); }\ntest();\n```"),
        "HumanEval_30_get_positive": (
            "    return array_values(array_filter($l, function ($x) { return $x > 0; }));\n}\n",
            "```php\nfunction get_positive($l) {\n    $out = [];\n    foreach ($l as $x) {\n        if ($x > 0) {\n"
            "            $out[] = $x;\n        }\n    }\n    return $out;\n}\nprint_r(get_positive([1, -2, 3]));\n```"),
    },
    "sh": {
        "HumanEval_13_greatest_common_divisor": (
            "    local a=$1 b=$2 t\n    while (( b != 0 )); do t=$((a % b)); a=$b; b=$t; done\n    echo \"$a\"\n}\n",
            "```bash\n#!/usr/bin/env bash\nset -euo pipefail\n\ngreatest_common_divisor() {\n    local a=$1 b=$2\n"
            "    while [ \"$b\" -ne 0 ]; do\n        local t=$((a % b))\n        a=$b\n        b=$t\n    done\n    echo \"$a\"\n}\n\n"
            "greatest_common_divisor \"$1\" \"$2\"\nexit 0\n```"),
        "HumanEval_48_is_palindrome": (
            "    local s=\"$1\" n=${#1} i\n    for (( i = 0; i < n / 2; i++ )); do\n"
            "        [[ \"${s:i:1}\" == \"${s:n-1-i:1}\" ]] || { echo false; return; }\n    done\n    echo true\n}\n",
            "```sh\nis_palindrome() {\n  local s=\"$1\" n=${#1} i\n  for (( i = 0; i < n / 2; i++ )); do\n"
            "    if [[ \"${s:i:1}\" != \"${s:n-1-i:1}\" ]]; then\n      echo false\n      return\n    fi\n  done\n  echo true\n}\n\n"
            "main() {\n  read -r line\n  is_palindrome \"$line\"\n}\n\nif [[ \"${BASH_SOURCE[0]}\" == \"$0\" ]]; then\n"
            "  main \"$@\"\nfi\n```"),
        "HumanEval_30_get_positive": (
            "    local out=()\n    for x in $1; do\n        if (( x > 0 )); then out+=(\"$x\"); fi\n    done\n"
            "    echo \"${out[*]}\"\n}\n",
            "```bash\nfunction get_positive {\n    local result=\"\"\n    for n in $1; do\n        if [ \"$n\" -gt 0 ]; then\n"
            "            result=\"$result $n\"\n        fi\n    done\n    echo \"${result# }\"\n}\n"
            "echo \"$(get_positive '1 -2 3')\"\n```"),
    },
}
PY_WHOLE = {  # instruct-style Python answers of our own, beside the canonical solutions
    "HumanEval_13_greatest_common_divisor": "```python\nimport math\n\ndef greatest_common_divisor(a: int, b: int) -> int:\n"
                                            "    return math.gcd(a, b)\n\nif __name__ == '__main__':\n"
                                            "    assert greatest_common_divisor(3, 5) == 2\n```",
    "HumanEval_48_is_palindrome": "```python\nclass Solution:\n    def is_palindrome(self, text: str) -> bool:\n"
                                  "        return text == text[::-1]\n\nprint(Solution().is_palindrome('aba'))\n```",
    "HumanEval_30_get_positive": "Here is the function.\n\ndef get_positive(l: list):\n    return [e for e in l if e > 0]\n\n"
                                 "n = int(input())\n",
}


def _shifted(names: list[str], k: int = 1) -> dict[str, str]:
    return {n: names[(i + k) % len(names)] for i, n in enumerate(names)}


@pytest.fixture(scope="module")
def outcome():
    """[((language, name, style meant, right|wrong problem), RunResult, style detected)] for every answer above."""
    problems = me.load_benchmark(MULTIPL_E, "humaneval", sorted(SOLUTIONS) + ["py"])
    jobs = []
    for lang, sols in SOLUTIONS.items():
        names = list(sols)
        for k, (name, other) in enumerate(_shifted(names).items()):
            for i, style in enumerate(("completion", "whole")):
                jobs.append((lang, name, style, "right", problems[lang][name], sols[name][i]))
                if k == i or k == 2:  # each style mispaired twice (compilers are slow on 2 cores)
                    jobs.append((lang, name, style, "wrong", problems[lang][other], sols[name][i]))
    py = problems["py"]
    py_names = list(py)
    for i, (name, other) in enumerate(_shifted(py_names, 7).items()):  # all 164, an eighth also mispaired
        canon = py[name]["canonical_solution"]
        whole = f"```python\n{py[name]['prompt']}{canon}\n\nif __name__ == '__main__':\n    assert False\n```"
        jobs.append(("py", name, "completion", "right", py[name], canon))
        jobs.append(("py", name, "whole", "right", py[name], whole))
        if i % 8 == 0:
            jobs.append(("py", name, "completion", "wrong", py[other], canon))
            jobs.append(("py", name, "whole", "wrong", py[other], whole))
    for name, other in _shifted(list(PY_WHOLE)).items():
        jobs.append(("py", name, "whole", "right", py[name], PY_WHOLE[name]))
        jobs.append(("py", name, "whole", "wrong", py[other], PY_WHOLE[name]))
    judge = Judge(short_limits(wall_s=20.0, cpu_s=10.0, memory_mb=1024), threads=2)
    results = me.judge_completions([j[4] for j in jobs], [j[5] for j in jobs], judge)
    judge.close()
    return [((lang, name, style, kind), r, me.answer_style(p, ans))
            for (lang, name, style, kind, p, ans), r in zip(jobs, results)]


LANGS = ["py", *sorted(SOLUTIONS)]


@needs_data
@pytest.mark.parametrize("lang", LANGS)
def test_correct_answers_pass_in_both_styles(outcome, lang):
    bad = [(k, f"{r.status.value}: {r.detail} {r.stderr[-300:]}") for k, r, _ in outcome
           if k[0] == lang and k[3] == "right" and not r.passed]
    assert bad == []
    styles = {(k[2], s) for k, _, s in outcome if k[0] == lang and k[3] == "right"}
    assert styles == {("completion", "completion"), ("whole", "whole")}


@needs_data
@pytest.mark.parametrize("lang", LANGS)
def test_answers_paired_with_another_problem_fail(outcome, lang):
    wrong = [(k, r) for k, r, _ in outcome if k[0] == lang and k[3] == "wrong"]
    assert {k[2] for k, _ in wrong} == {"completion", "whole"} and [k for k, r in wrong if r.passed] == []


@needs_data
def test_cli_judges_samples_and_writes_reports(tmp_path):
    samples = _write(tmp_path / "s.jsonl", [
        {"name": "HumanEval_13_greatest_common_divisor", "language": "sh",
         "completion": SOLUTIONS["sh"]["HumanEval_13_greatest_common_divisor"][1]},
        {"name": "HumanEval_48_is_palindrome", "language": "sh",
         "completion": SOLUTIONS["sh"]["HumanEval_13_greatest_common_divisor"][0]},
        {"name": "HumanEval/0", "language": "python", "completion": "    return False\n"},
    ])
    out = _oorl("--multipl-e", str(MULTIPL_E), "--samples", str(samples), "--benchmark", "humaneval",
                "--json", str(tmp_path / "r.json"), "--per-sample", str(tmp_path / "p.jsonl"), "--threads", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["languages"]["sh"]["passed"] == 1 and report["languages"]["sh"]["total"] == 2
    assert report["languages"]["py"] == {**report["languages"]["py"], "passed": 0, "total": 1}
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [(r["name"], r["language"], r["passed"]) for r in rows] == [
        ("HumanEval_13_greatest_common_divisor", "sh", True), ("HumanEval_48_is_palindrome", "sh", False),
        ("HumanEval_0_has_close_elements", "py", False)]
    assert rows[1]["status"] == "wrong_answer" and rows[2]["status"] == "wrong_answer"
    assert "sh" in out.stdout and "passed" in out.stdout


# -- regressions found with HumanEval-X's solutions (benchmarks/check_multipl_e_harness.py) ---------------------

JAVA_THROWS = [  # whole programs whose method declares a checked exception (HumanEval-X's string_to_md5 does)
    "```java\nimport java.security.*;\n\nclass Problem {\n    public static long twice(long x) throws NoSuchAlgorithmException {\n"
    "        MessageDigest.getInstance(\"MD5\");\n        return 2 * x;\n    }\n}\n```",
    "```java\nimport java.security.*;\n\nclass Solution {\n    public long twice(long x) throws NoSuchAlgorithmException {\n"
    "        MessageDigest.getInstance(\"MD5\");\n        return 2 * x;\n    }\n}\n```",
]


def test_java_tests_main_and_wrapper_let_checked_exceptions_through():
    static, instance = (mp.assemble(JAVA, a).program for a in JAVA_THROWS)
    assert "public static void main(String[] args) throws Exception {" in static
    assert "public static long twice(long x) throws Exception { return new Solution().twice(x); }" in instance
    assert "void main(String[] args) throws Exception {" in instance
    done = mp.assemble({**JAVA, "tests": JAVA["tests"].replace("String[] args)", "String[] args) throws Throwable")},
                       JAVA_THROWS[0]).program
    assert "throws Throwable throws" not in done and "throws Throwable {" in done


def test_java_checked_exceptions_judged():
    judge = Judge(short_limits(wall_s=30.0, cpu_s=20.0, memory_mb=1024), threads=1)
    wrong = JAVA_THROWS[1].replace("2 * x", "3 * x")
    results = me.judge_completions([JAVA] * 3, [*JAVA_THROWS, wrong], judge)
    judge.close()
    assert [r.passed for r in results] == [True, True, False], [(r.status, r.detail) for r in results]


def test_a_reasoning_models_think_block_is_not_the_answer():
    draft = "<think>\nFirst try:\n```cpp\nlong twice(long x) {\n    return 3 * x;\n}\n```\nNo, 2 * x.\n</think>\n\n"
    style, code = mp.split_answer(CPP, draft + "```cpp\nlong twice(long x) {\n    return 2 * x;\n}\n```")
    assert style == "whole" and "2 * x" in code and "3 * x" not in code
    style, code = mp.split_answer(CPP, draft + "    return 2 * x;\n}\n")
    assert style == "completion" and code.lstrip("\n") == "    return 2 * x;\n}\n"
    assert mp.split_answer(CPP, "<think>\nhmm\n</think>\n") == ("no_code", "")


NESTED = {  # classes declared before the tests' main: a nested helper class, a local class in the method
    "java": ["```java\nimport java.util.*;\n\nclass Problem {\n    static class Acc {\n        long v;\n"
             "        Acc(long v) { this.v = v; }\n    }\n\n    public static long twice(long x) {\n"
             "        return new Acc(2 * x).v;\n    }\n}\n```",
             "        class Local {\n            static long times(long a, long b) { return a * b; }\n        }\n"
             "        return Local.times(2, x);\n    }\n"],
    "cs": ["```csharp\nusing System;\n\nclass Problem {\n    class Acc {\n        public long V;\n"
           "        public Acc(long v) { V = v; }\n    }\n\n    public static long Twice(long x) {\n"
           "        return new Acc(2 * x).V;\n    }\n}\n```"],
}


def test_the_class_that_holds_main_is_the_one_that_encloses_it():
    from oorl.reward.languages.managed import _entry_class, _entry_path

    src = ("class A {\n  static long f() {\n    class Local { }\n    return 1;\n  }\n  static class B { }\n"
           "  static class C {\n    public static void main(String[] a) { }\n  }\n}\n")
    assert _entry_path(src) == ["A", "C"] and _entry_class(src) == "C"
    assert _entry_class("class Local { }\nclass P {\n  class Q { }\n  static void Main() { }\n}\n") == "P"


def test_nested_and_local_classes_before_main_judged():
    judge = Judge(short_limits(wall_s=30.0, cpu_s=20.0, memory_mb=1024), threads=1)
    problems = [JAVA, JAVA, CS]
    answers = [*NESTED["java"], *NESTED["cs"]]
    results = me.judge_completions(problems, answers, judge)
    judge.close()
    assert [me.answer_style(p, a) for p, a in zip(problems, answers)] == ["whole", "completion", "whole"]
    assert [r.passed for r in results] == [True, True, True], [(r.status, r.detail) for r in results]


BOTH = {  # a LeetCode-style class method first, then the function the tests can call as it is
    "java": (JAVA, "```java\nclass Solution {\n    public long twice(long x) { return 2 * x; }\n}\n\nclass Problem {\n"
                   "    public static long twice(long x) { return new Solution().twice(x); }\n}\n```"),
    "cpp": (CPP, "```cpp\nclass Solution {\npublic:\n    long twice(long x) { return 2 * x; }\n};\n\n"
                 "long twice(long x) { return Solution().twice(x); }\n```"),
    "php": (PHP, "```php\n<?php\nclass Solution {\n    public function twice($x) { return 2 * $x; }\n}\n\n"
                 "function twice($x) { return (new Solution())->twice($x); }\n```"),
}


def test_the_definition_callable_as_it_is_is_preferred_to_a_class_method():
    java, cpp, php = (mp.assemble(*BOTH[k]).program for k in ("java", "cpp", "php"))
    assert "OorlProblem" not in java and "new Solution().twice(x); }\n" in java
    assert java.index("class Problem") < java.index("void main")
    assert cpp.count("long twice(long x)") == 2 and php.count("function twice(") == 2  # no wrapper added
    judge = Judge(short_limits(wall_s=30.0, cpu_s=20.0, memory_mb=1024), threads=1)
    results = me.judge_completions([BOTH[k][0] for k in ("java", "cpp", "php")],
                                   [BOTH[k][1] for k in ("java", "cpp", "php")], judge)
    judge.close()
    assert [r.passed for r in results] == [True, True, True], [(r.status, r.detail) for r in results]
