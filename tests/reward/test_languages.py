"""Every language's verdicts on small programs: pass, wrong answer, syntax error, crash, and a
program that exits with status 0 from inside the function under test (must fail, not pass)."""

from __future__ import annotations

import pytest

from oorl.errors import UserError
from oorl.reward.doctor import HELLO
from oorl.reward.harness import JudgeRequest, build_program
from oorl.reward.languages import LANGUAGES, get_language
from oorl.reward.languages.base import SENTINEL_PREFIX

# language -> (program with a syntax error, crashing program, program exiting 0 early[, its tests])
BROKEN: dict[str, dict[str, tuple[str, ...]]] = {
    "python": {"syntax": ("def add(a, b)\n    return a + b\n",),
               "crash": ("def add(a, b):\n    return a / 0\n",),
               "exit0": ("def add(a, b):\n    import sys\n    sys.exit(0)\n",)},
    "javascript": {"syntax": ("const add = (a, b) => { return a + ;\n",),
                   "crash": ("const add = (a, b) => a.b.c;\n",),
                   "exit0": ("const add = (a, b) => process.exit(0);\n",)},
    "typescript": {"syntax": ("const add = (a: number, b: number): string => a + b;\n",),  # a type error
                   "crash": ("const add = (a: number, b: number): number => (null as any).x;\n",),
                   "exit0": ("const add = (a: number, b: number): number => process.exit(0);\n",)},
    "php": {"syntax": ("<?php\nfunction add($a, $b) { return $a + ; }\n",),
            "crash": ("<?php\nfunction add($a, $b) { return intdiv($a, 0); }\n",),
            "exit0": ("<?php\nfunction add($a, $b) { exit(0); }\n",)},
    "bash": {"syntax": ("add() { echo $(( $1 + $2 ))\n",),
             "crash": ("add() { kill -SEGV $$; }\n", "add 1 2\n"),
             "exit0": ("add() { exit 0; }\n", "add 1 2\n[ \"$(add 1 2)\" = 3 ]\n")},
    "cpp": {"syntax": ("int add(int a, int b) { return a + ; }\n",),
            "crash": ("int add(int a, int b) { volatile int* p = nullptr; return *p; }\n",),
            "exit0": ("#include <cstdlib>\nint add(int a, int b) { std::exit(0); }\n",)},
    "rust": {"syntax": ("fn add(a: i32, b: i32) -> i32 { a + }\n",),
             "crash": ("fn add(a: i32, b: i32) -> i32 { let v: Vec<i32> = Vec::new(); v[(a + b) as usize] }\n",),
             "exit0": ("fn add(a: i32, b: i32) -> i32 { std::process::exit(0) }\n",)},
    "go": {"syntax": ("func Add(a, b int) int { return a + }\n",),
           "crash": ("func Add(a, b int) int {\n\tvar m map[string]int\n\tm[\"x\"] = a\n\treturn b\n}\n",),
           "exit0": ("import \"os\"\n\nfunc Add(a, b int) int {\n\tos.Exit(0)\n\treturn 0\n}\n",)},
    "java": {"syntax": ("class Solution { int add(int a, int b) { return a + ; } }\n",),
             "crash": ("class Solution { int add(int a, int b) { return a / (b - b); } }\n",),
             "exit0": ("class Solution { int add(int a, int b) { System.exit(0); return 0; } }\n",)},
    "csharp": {"syntax": ("class Solution { public static int Add(int a, int b) { return a + ; } }\n",),
               "crash": ("class Solution { public static int Add(int a, int b) { return a / (b - b); } }\n",),
               "exit0": ("class Solution { public static int Add(int a, int b) { System.Environment.Exit(0); return 0; } }\n",)},
    "prolog": {"syntax": ("add(X, Y, Z) :- Z is X + .\n",),
               "crash": ("add(X, Y, Z) :- Z is X / (Y - Y).\n",),
               "exit0": ("add(_, _, _) :- halt(0).\n",)},
    "llvm_ir": {"syntax": ("define i32 @add(i32 %a, i32 %b) {\n  %r = add i32 %a,\n  ret i32 %r\n}\n",),
                "crash": ("define i32 @add(i32 %a, i32 %b) {\n  %v = load volatile i32, i32* null\n  ret i32 %v\n}\n",),
                "exit0": ("declare void @exit(i32)\ndefine i32 @add(i32 %a, i32 %b) {\n  call void @exit(i32 0)\n"
                          "  ret i32 0\n}\n",)},
}
EXPECT = {"syntax": {"compile_error"}, "crash": {"runtime_error"}, "exit0": {"failed"}}


def _judge(executor, lang, program, tests):
    return executor.run(build_program(JudgeRequest.make(lang, program, tests)))


def test_registry_has_the_eleven_languages_and_llvm_ir():
    assert sorted(LANGUAGES) == sorted(["prolog", "python", "cpp", "java", "javascript", "typescript", "go", "rust",
                                        "php", "bash", "csharp", "llvm_ir"])
    assert set(BROKEN) == set(HELLO) == set(LANGUAGES)
    assert get_language("JS").name == "javascript"
    assert get_language("c++").name == "cpp"
    assert get_language("C#").name == "csharp"
    with pytest.raises(UserError, match="unknown language 'cobol'"):
        get_language("cobol")


@pytest.mark.parametrize("lang", sorted(HELLO))
def test_correct_and_wrong_programs(executor, lang):
    prog, tests = HELLO[lang]
    good = _judge(executor, lang, prog, tests)
    assert good.status.value == "passed", (good.detail, good.stderr[-500:])
    assert SENTINEL_PREFIX not in good.stdout  # the sentinel line is not shown to users
    wrong = prog.replace("a + b", "a - b").replace("$a + $b", "$a - $b").replace("$1 + $2", "$1 - $2") \
        .replace("X + Y", "X - Y").replace("add i32", "sub i32")
    assert wrong != prog
    bad = _judge(executor, lang, wrong, tests)
    assert bad.status.value == "failed", (bad.detail, bad.stderr[-500:])


@pytest.mark.parametrize("lang,kind", [(lang, kind) for lang in sorted(BROKEN) for kind in sorted(EXPECT)])
def test_broken_programs(executor, lang, kind):
    entry = BROKEN[lang][kind]
    tests = entry[1] if len(entry) > 1 else HELLO[lang][1]
    res = _judge(executor, lang, entry[0], tests)
    assert res.status.value in EXPECT[kind], (lang, kind, res.status.value, res.detail, res.stderr[-500:])
    if kind == "exit0":
        assert res.exit_code == 0 and "before the tests finished" in res.detail


def test_compile_errors_report_the_compiler_message(executor):
    res = _judge(executor, "cpp", BROKEN["cpp"]["syntax"][0], HELLO["cpp"][1])
    assert res.compile is not None and res.run is None
    assert "error" in res.stderr and res.detail


def test_stdin_reaches_the_program(executor):
    req = JudgeRequest.make("python", "import sys\nprint(sys.stdin.read().upper())\n", "", stdin="hello\n")
    res = executor.run(build_program(req))
    assert res.passed and res.stdout.strip() == "HELLO"


def test_program_files_are_read_only_and_the_work_dir_is_writable(executor):
    prog = ("import os\nopen('out.txt', 'w').write('ok')\nprint(open('out.txt').read(), os.getcwd())\n"
            "try:\n    open('/job/main.py', 'a').write('# tampered')\n    print('TAMPERED')\nexcept OSError:\n    pass\n")
    res = _judge(executor, "python", prog, "")
    assert res.passed and res.stdout.split() == ["ok", "/work"]


def test_java_public_classes_get_their_own_files(executor):
    prog = "import java.util.*;\npublic class Calc { public static int add(int a, int b) { return a + b; } }\n"
    tests = "public class Main { public static void main(String[] a) { if (Calc.add(1, 2) != 3) throw new AssertionError(); } }\n"
    assert _judge(executor, "java", prog, tests).passed


def test_go_program_with_its_own_main_and_test_functions(executor):
    prog = "import \"fmt\"\n\nfunc Add(a, b int) int { return a + b }\n\nfunc main() { fmt.Println(Add(1, 2)) }\n"
    assert _judge(executor, "go", prog, HELLO["go"][1]).passed


def test_prolog_plunit_tests(executor):
    tests = ":- begin_tests(add).\ntest(one) :- add(1, 2, 3).\ntest(two, [fail]) :- add(1, 2, 4).\n:- end_tests(add).\n"
    assert _judge(executor, "prolog", HELLO["prolog"][0], tests).passed
    bad = tests.replace("add(1, 2, 3)", "add(1, 2, 5)")
    assert _judge(executor, "prolog", HELLO["prolog"][0], bad).status.value == "failed"
