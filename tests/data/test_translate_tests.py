"""The test translator (``oorl/data/test_translate``): Python HumanEval-style checks -> MultiPL-E-layout
tests in eleven languages. Pure translation tests on small problems written here; jailed checks that
the emitted tests run (a right and a wrong answer to one problem in every language), that they
accept the canonical solutions, and that on a sample of HumanEval they give MultiPL-E's verdicts
(MultiPL-E is read at run time from ../shared and the tests skip without it; nothing of it is here)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from oorl.data.test_translate import (LANGUAGE_CODES, Untranslatable, parse_problem, translate_file,
                                      translate_problem)
from oorl.data.test_translate import types as T
from oorl.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
MULTIPL_E = SHARED / "multipl-e"
HUMANEVAL_X = SHARED / "humaneval-x"


def problem(prompt: str, test: str, solution: str = "", entry: str | None = None, task: str = "Toy/7") -> dict:
    entry = entry or prompt.split("def ")[-1].split("(")[0]
    return {"task_id": task, "prompt": prompt, "canonical_solution": solution, "test": test, "entry_point": entry}


MIN_MAX = problem(
    'from typing import List, Tuple\n\n\ndef min_max(xs: List[int]) -> Tuple[int, int]:\n'
    '    """ The smallest and the largest number of a list.\n    >>> min_max([3, 1, 2])\n    (1, 3)\n    """\n',
    "\n\nMETADATA = {'author': 'me', 'dataset': 'toy'}\n\n\ndef check(candidate):\n"
    "    assert candidate([3, 1, 2]) == (1, 3)\n"
    "    assert candidate([5]) == (5, 5), 'one item'\n"
    "    xs = [4, -8]\n"
    "    assert candidate(xs) == (-8, 4)\n"
    "    for n in range(2):\n"
    "        assert candidate([n, n + 10]) == (n, n + 10)\n",
    "    return (min(xs), max(xs))\n")

FORMS = problem(
    'import math\n\ndef half(x: float) -> float:\n    """ Half of x. """\n',
    "def check(candidate):\n"
    "    assert candidate(3.0) == 1.5\n"
    "    assert abs(candidate(1.0) - 0.5) < 1e-6\n"
    "    assert math.isclose(candidate(5.0), 2.5, abs_tol=1e-9)\n"
    "    assert True, 'nothing'\n",
    "    return x / 2\n")
TRUTH = problem(
    "def even(n):\n    pass\n",
    "def check(candidate):\n    assert not candidate(3)\n    assert candidate(2)\n    assert candidate(4) == True\n"
    "    assert (candidate(5) == False), 'odd'\n",
    "    return n % 2 == 0\n")


# -- the Python side -------------------------------------------------------------------------------

def test_checks_from_loops_locals_and_messages():
    p = parse_problem(MIN_MAX)
    assert p.name == "HumanEval_7_min_max"
    assert [(c.args, c.expected) for c in p.checks] == [
        (([3, 1, 2],), (1, 3)), (([5],), (5, 5)), (([4, -8],), (-8, 4)), (([0, 10],), (0, 10)), (([1, 11],), (1, 11))]
    assert p.params == [("xs", T.list_of(T.INT))]
    assert p.returns == T.Type("tuple", (T.INT, T.INT))


def test_every_assert_form():
    p = parse_problem(FORMS)
    assert [(c.args, c.expected, c.tolerance) for c in p.checks] == [
        ((3.0,), 1.5, None), ((1.0,), 0.5, 1e-6), ((5.0,), 2.5, 1e-9)]
    p = parse_problem(TRUTH)
    assert [(c.args, c.expected) for c in p.checks] == [((3,), False), ((2,), True), ((4,), True), ((5,), False)]
    assert p.returns == T.BOOL
    with pytest.raises(Untranslatable, match="truth-value"):
        parse_problem(problem("def f(n) -> int:\n    pass\n", "def check(candidate):\n    assert candidate(1)\n",
                              "    return 1\n"))


def test_types_inferred_without_annotations():
    p = parse_problem(problem("def f(a, b):\n    pass\n",
                              "def check(candidate):\n    assert candidate([1, 2.5], {'k': None}) == [1, 3, 2.0]\n"
                              "    assert candidate([], {'j': 'x'}) == [4]\n",
                              "    return [1, 3, 2.0] if a else [4]\n"))
    assert p.params == [("a", T.list_of(T.FLOAT)), ("b", T.Type("dict", (T.STR, T.optional(T.STR))))]
    assert p.returns == T.list_of(T.INT)  # ints mixed with whole floats: ints (HumanEval's tri)


def test_reference_solution_in_the_test_and_self_comparison():
    src = "def double(l: list):\n    pass\n"
    p = parse_problem(problem(src, "def check(double):\n    assert tuple(double([1])) == tuple(double([1]))\n"
                                   "    assert tuple(double([2])) == tuple([2, 2])\n", "    return l * 2\n"))
    assert [(c.args, c.expected) for c in p.checks] == [(([2],), [2, 2])]
    # the function's own name in HumanEval's tests is the answer's function: the candidate against itself
    p = parse_problem(problem(src, "def check(candidate):\n    assert candidate([3]) == double([3])\n"
                                   "    assert tuple(candidate([3])) == tuple(double([3]))\n"
                                   "    assert candidate([4]) == [4, 4]\n", "    return l * 2\n"))
    assert [(c.args, c.expected) for c in p.checks] == [(([4],), [4, 4])]


def test_checks_on_random_inputs_are_left_out_beside_fixed_ones():
    src = "def add(x: int, y: int) -> int:\n    pass\n"
    loop = ("    for i in range(5):\n        x, y = {draw}(0, 9), {draw}(0, 9)\n"
            "        assert candidate(x, y) == x + y\n")
    test = "def check(candidate):\n    import random\n    assert candidate(1, 2) == 3\n" + loop.format(draw="random.randint")
    p = parse_problem(problem(src, test, "    return x + y\n"))
    assert [c.args for c in p.checks] == [(1, 2)]
    test = "from random import randint as r\n\ndef check(candidate):\n" + loop.format(draw="r")
    assert len(parse_problem(problem(src, test, "    return x + y\n")).checks) == 5  # random ones only: kept


@pytest.mark.parametrize("test, reason", [
    ("def check(candidate):\n    y = candidate(1)\n    assert y == 1\n", "candidate used outside an assertion"),
    ("def check(candidate):\n    assert candidate(1) > 0\n", "assertion form"),
    ("def check(candidate):\n    assert True\n", "no assertion on the candidate"),
    ("def check(candidate):\n    assert candidate(1) == 2\n", "canonical solution fails its tests"),
    ("def check(candidate):\n    assert candidate(helper(1)) == 1\n", "tests use a helper function of the prompt"),
])
def test_untranslatable(test, reason):
    src = "def helper(x):\n    return x\n\n\ndef one(x: int) -> int:\n    pass\n"
    with pytest.raises(Untranslatable) as e:
        parse_problem(problem(src, test, "    return 1\n", entry="one"))
    assert e.value.reason == reason


def test_humaneval_x_row_shape():
    row = {"task_id": "Python/3", "prompt": "def neg(x: int) -> int:\n", "canonical_solution": "    return -x\n",
           "test": "def check(neg):\n    assert neg(2) == -2\n\ncheck(neg)", "declaration": "", "example_test": ""}
    out = translate_problem(row, "js")
    assert out["name"] == "HumanEval_3_neg"
    assert "assert.deepEqual(candidate(2),-2);" in out["tests"]


# -- the emitters ----------------------------------------------------------------------------------

EXPECTED_LINES = {
    "js": "  assert.deepEqual(candidate([3, 1, 2]),[1, 3]);",
    "ts": "  assert.deepEqual(candidate([3, 1, 2]),[1, 3]);",
    "php": '    if (candidate(array(3, 1, 2)) !== array(1, 3)) { throw new Exception("Test failed!"); }',
    "sh": '    [[ $(candidate "3 1 2") = "1 3" ]]',
    "cpp": "    assert(candidate(std::vector<long>({(long)3, (long)1, (long)2})) == (std::make_tuple(1, 3)));",
    "java": "    assert(minMax(new ArrayList<Long>(Arrays.asList(3l, 1l, 2l))).equals(Pair.with(1l, 3l)));",
    "cs": "    Debug.Assert(OorlSame(MinMax(new List<long>(new long[]{3L, 1L, 2L})), Tuple.Create(1L, 3L)));",
    "go": '    if got, want := fmt.Sprintf("%v", candidate([]int{3, 1, 2})), fmt.Sprintf("%v", []int{1, 3}); got != want '
          '{ panic("test 1 failed: got " + got + ", want " + want) }',
    "rs": "    assert_eq!(candidate(vec![3, 1, 2]), (1, 3));",
    "prolog": "min_max([3, 1, 2], R), R == [1, 3].",
}

SIGNATURES = {
    "js": "function min_max(xs){", "ts": "function min_max(xs: number[]): [number, number] {",
    "php": "function min_max($xs) {", "sh": "min_max() {", "cpp": "std::tuple<long, long> min_max(std::vector<long> xs) {",
    "java": "    public static Pair<Long, Long> minMax(ArrayList<Long> xs) {",
    "cs": "    public static Tuple<long, long> MinMax(List<long> xs) {", "go": "func min_max(xs []int) []int {",
    "rs": "fn min_max(xs: Vec<isize>) -> (isize, isize) {", "prolog": "min_max(Xs, Result) :-",
    "py": "def min_max(xs: List[int]) -> Tuple[int, int]:",
}


@pytest.mark.parametrize("code", sorted(EXPECTED_LINES))
def test_emitted_tests_and_signature(code):
    row = translate_problem(MIN_MAX, code)
    assert set(row) == {"name", "language", "prompt", "tests", "stop_tokens"}
    assert row["language"] == code and row["name"] == "HumanEval_7_min_max"
    assert EXPECTED_LINES[code] in row["tests"].split("\n")
    assert row["prompt"].rstrip("\n").split("\n")[-1] == SIGNATURES[code]
    assert len([ln for ln in row["tests"].split("\n") if "11" in ln]) == 1  # the loop's second round


def test_python_keeps_its_tests():
    row = translate_problem(MIN_MAX, "python")
    assert row["prompt"] == MIN_MAX["prompt"] and MIN_MAX["test"] in row["tests"] and "check(min_max)" in row["tests"]


def test_values_by_language():
    p = problem("from typing import Dict, Optional\n\ndef f(s: str, d: Dict[str, int]) -> Optional[str]:\n    pass\n",
                "def check(candidate):\n    assert candidate('a$b!\"c', {'k': 1}) is None\n"
                "    assert candidate('x\\ny', {}) == 'ok'\n", "    return None if '$' in s else 'ok'\n")
    php = translate_problem(p, "php")["tests"]
    assert 'candidate("a$b!\\"c", array("k" => 1)) !== null' in php
    sh = translate_problem(p, "sh")["tests"]
    assert '[[ $(candidate "a\\$b\\!\\"c" "k,1") = "None" ]]' in sh
    assert '[[ $(candidate "x\\ny" "") = "ok" ]]' in sh
    assert 'std::optional<std::string>("ok")' in translate_problem(p, "cpp")["tests"]
    assert 'Optional.of("ok")' in translate_problem(p, "java")["tests"]
    assert 'Some(String::from("ok"))' in translate_problem(p, "rs")["tests"]
    with pytest.raises(Untranslatable):  # MultiPL-E's JS writes a raw newline there; we skip it
        translate_problem(p, "js")
    assert 'candidate("x\\ny", {}),"ok"' in translate_problem(p, "ts")["tests"]
    with pytest.raises(Untranslatable):
        translate_problem(p, "go")  # no optional in Go


def test_union_types_only_in_dynamic_languages():
    p = problem("def g(x):\n    pass\n", "def check(candidate):\n    assert candidate(1) == 'one'\n"
                                         "    assert candidate(2) == 2\n", "    return 'one' if x == 1 else 2\n")
    assert "candidate(2),2" in translate_problem(p, "js")["tests"]
    for code in ("cpp", "java", "cs", "go", "rs"):
        with pytest.raises(Untranslatable, match="union"):
            translate_problem(p, code)


def test_float_tolerance_per_language():
    js = translate_problem(FORMS, "js")["tests"]
    assert "assert.ok(Math.abs(candidate(1.0) - 0.5) < 1e-06);" in js
    assert "assert.deepEqual(candidate(3),false);" in translate_problem(TRUTH, "js")["tests"]
    assert "assert(std::abs(candidate(1.0f) - 0.5f) < 1e-05);" in translate_problem(FORMS, "cpp")["tests"]


# -- files and the command -------------------------------------------------------------------------

def test_translate_file_counts_skips(tmp_path):
    bad = problem("def one(x: int) -> int:\n    pass\n", "def check(candidate):\n    assert candidate(1) > 0\n")
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for row in (MIN_MAX, bad, FORMS):
            f.write(json.dumps(row) + "\n")
    rows, skipped = translate_file(path, "php")
    assert [r["name"] for r in rows] == ["HumanEval_7_min_max", "HumanEval_7_half"]
    assert dict(skipped) == {"assertion form": 1}
    assert translate_file(path, "php", limit=1)[0][0]["name"] == "HumanEval_7_min_max"


def test_bad_input_is_a_user_error(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text('{"task_id": "a/1", "prompt": "x"}\n')
    with pytest.raises(UserError, match=r"p.jsonl:1: field 'test'"):
        translate_file(p, "js")
    p.write_text("not json\n")
    with pytest.raises(UserError, match=r"p.jsonl:1: not valid JSON"):
        translate_file(p, "js")
    with pytest.raises(UserError, match="unknown language"):
        translate_file(p, "cobol")
    assert set(LANGUAGE_CODES) == {"py", "cpp", "cs", "java", "js", "php", "sh", "ts", "go", "rs", "prolog"}


def test_command_writes_rows_and_summary(tmp_path, capsys):
    from oorl.data.translate_cli import translate_tests_command

    src, out = tmp_path / "p.jsonl", tmp_path / "out" / "sh.jsonl"
    src.write_text(json.dumps(MIN_MAX) + "\n" + json.dumps(problem("def z(x: int) -> int:\n    pass\n",
                                                                   "def check(candidate):\n    pass\n")) + "\n")
    translate_tests_command(problems=src, language="bash", out=out, limit=None)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["language"] for r in rows] == ["sh"]
    text = capsys.readouterr().out
    assert "sh: translated 1/2 problems" in text and "skipped 1: no assertion on the candidate" in text
    with pytest.raises(UserError, match="no such file"):
        translate_tests_command(problems=tmp_path / "none.jsonl", language="sh", out=out, limit=None)


# -- in the jail -----------------------------------------------------------------------------------

RIGHT = {  # a completion of each language's prompt for min_max, right and wrong (the pair swapped)
    "py": ("    return (min(xs), max(xs))\n", "    return (max(xs), min(xs))\n"),
    "js": ("  return [Math.min(...xs), Math.max(...xs)];\n}\n", "  return [Math.max(...xs), Math.min(...xs)];\n}\n"),
    "ts": ("  return [Math.min(...xs), Math.max(...xs)];\n}\n", "  return [Math.max(...xs), Math.min(...xs)];\n}\n"),
    "php": ("    return array(min($xs), max($xs));\n}\n", "    return array(max($xs), min($xs));\n}\n"),
    "sh": ('    local lo hi x\n    for x in $1; do\n        if [[ -z $lo || $x -lt $lo ]]; then lo=$x; fi\n'
           '        if [[ -z $hi || $x -gt $hi ]]; then hi=$x; fi\n    done\n    echo "$lo $hi"\n',
           '    echo "$1"\n'),
    "cpp": ("    return std::make_tuple(*std::min_element(xs.begin(), xs.end()), *std::max_element(xs.begin(), xs.end()));\n",
            "    return std::make_tuple(*std::max_element(xs.begin(), xs.end()), *std::min_element(xs.begin(), xs.end()));\n"),
    "java": ("        return Pair.with(Collections.min(xs), Collections.max(xs));\n",
             "        return Pair.with(Collections.max(xs), Collections.min(xs));\n"),
    "cs": ("        return Tuple.Create(xs.Min(), xs.Max());\n", "        return Tuple.Create(xs.Max(), xs.Min());\n"),
    "go": ("    lo, hi := xs[0], xs[0]\n    for _, x := range xs {\n        if x < lo {\n            lo = x\n        }\n"
           "        if x > hi {\n            hi = x\n        }\n    }\n    return []int{lo, hi}\n",
           "    return []int{xs[0], xs[0]}\n"),
    "rs": ("    (*xs.iter().min().unwrap(), *xs.iter().max().unwrap())\n",
           "    (*xs.iter().max().unwrap(), *xs.iter().min().unwrap())\n"),
    "prolog": ("    min_list(Xs, Lo), max_list(Xs, Hi), Result = [Lo, Hi].\n",
               "    min_list(Xs, Lo), max_list(Xs, Hi), Result = [Hi, Lo].\n"),
}


@pytest.fixture(scope="module")
def judge():
    from oorl.reward.judge import Judge

    return Judge()


def test_emitted_tests_run_in_every_language(judge):
    from oorl.reward import multipl_e as me

    codes = sorted(RIGHT)
    rows = {c: translate_problem(MIN_MAX, c) for c in codes}
    requests = [me.request(rows[c], RIGHT[c][k]) for c in codes for k in (0, 1)]
    results = judge.judge(requests)
    got = {(c, k): r for (c, k), r in zip([(c, k) for c in codes for k in (0, 1)], results)}
    for c in codes:
        assert got[(c, 0)].passed, (c, got[(c, 0)].status, got[(c, 0)].detail)
        assert not got[(c, 1)].passed and got[(c, 1)].status.value in ("failed", "runtime_error"), \
            (c, got[(c, 1)].status, got[(c, 1)].detail)


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


needs_multipl_e = pytest.mark.skipif(not (MULTIPL_E / "humaneval-py.jsonl.gz").is_file(),
                                     reason="../shared/data/multipl-e not available")
SAMPLE = [0, 1, 3, 5, 7, 8, 12, 16, 22, 29, 34, 42, 56, 64, 87, 95, 107, 111, 125, 136]  # varied types


def _bench():
    spec = importlib.util.spec_from_file_location("check_translated_tests", ROOT / "benchmarks" / "check_translated_tests.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_multipl_e
@pytest.mark.parametrize("code", ["js", "php", "sh"])
def test_same_verdicts_as_multipl_e(judge, code):
    """Programs written against MultiPL-E's prompt (wrong ones, and a table that answers MultiPL-E's
    own test inputs, whole and less its last entry) get the same verdict from our tests and theirs."""
    from oorl.reward.harness import JudgeRequest

    bench = _bench()
    ours = {r["name"]: r for r in translate_file(MULTIPL_E / "humaneval-py.jsonl.gz", code)[0]}
    theirs = {r["name"]: r for r in _jsonl(MULTIPL_E / f"humaneval-{code}.jsonl.gz")}
    names = [n for n in theirs if int(n.split("_")[1]) in SAMPLE and n in ours]
    assert len(names) >= 18
    jobs = []
    for n in names:
        progs = bench.programs(code, theirs[n], None)
        for kind in ("first_arg", "zero", "lookup", "lookup_less_last"):
            if kind in progs:
                for side, row in (("ours", ours[n]), ("theirs", theirs[n])):
                    jobs.append((n, kind, side, JudgeRequest.make(bench.RUNNER[code], row["prompt"] + progs[kind], row["tests"])))
    results = judge.judge([j[3] for j in jobs])
    verdicts: dict = {}
    for (n, kind, side, _), r in zip(jobs, results):
        verdicts.setdefault((n, kind), {})[side] = r.passed
    disagree = [k for k, v in verdicts.items() if v["ours"] != v["theirs"]]
    assert not disagree, disagree
    assert sum(v["theirs"] for (n, kind), v in verdicts.items() if kind == "lookup") >= len(names) - 1


@needs_multipl_e
def test_python_accepts_the_canonical_solutions(judge):
    from oorl.reward.harness import JudgeRequest

    problems = _jsonl(MULTIPL_E / "humaneval-py.jsonl.gz")[:20]
    reqs = [JudgeRequest.make("python", p["prompt"] + p["canonical_solution"], translate_problem(p, "py")["tests"])
            for p in problems]
    assert all(r.passed for r in judge.judge(reqs))


@needs_multipl_e
@pytest.mark.skipif(not (HUMANEVAL_X / "humaneval_js.jsonl.gz").is_file(), reason="../shared/data/humaneval-x not available")
def test_javascript_accepts_humaneval_x_solutions(judge):
    from oorl.data.test_translate.adapters import adapt
    from oorl.reward.harness import JudgeRequest

    hx = {r["task_id"].split("/")[1]: r for r in _jsonl(HUMANEVAL_X / "humaneval_js.jsonl.gz")}
    reqs = []
    for p in _jsonl(MULTIPL_E / "humaneval-py.jsonl.gz")[:15]:
        number = p["task_id"].split("/")[1]
        try:
            row = translate_problem(p, "js")
        except Untranslatable:
            continue
        program, tests = adapt("js", parse_problem(p), row, hx[number])
        reqs.append(JudgeRequest.make("javascript", program, tests))
    results = judge.judge(reqs)
    assert len(reqs) >= 13 and all(r.passed for r in results), [r.detail for r in results if not r.passed]
