"""Translation tasks: prompts, splits, row validation (pure), and that the tasks are judgeable: the
HumanEval-X canonical solutions, answered as a model answers (a fenced whole function), score 1 with
the tasks' columns and another problem's solution scores 0; stdin/stdout tasks in two languages."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from oorl.data import translation as tr
from oorl.data import translation_humaneval_x as hx
from oorl.data.registry import load_tasks
from oorl.data.translation_prompts import FUNCTION_EXAMPLE, PROGRAM_EXAMPLE, PROGRAM_EXAMPLE_CASE, language_label
from oorl.errors import UserError

HUMANEVAL_X = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "humaneval-x"
needs_hx = pytest.mark.skipif(not HUMANEVAL_X.is_dir(), reason="../shared/data/humaneval-x not available")
HX_LANGS = ("cpp", "go", "java", "javascript", "python", "rust")


def _hx(split="all", **kw):
    return load_tasks(path=str(HUMANEVAL_X), format="humaneval_x_translation", split=split, **kw)


# -- prompts -----------------------------------------------------------------------------------------

@needs_hx
@pytest.mark.parametrize("style", ["zero_shot", "one_shot"])
def test_prompt_names_both_languages_fences_the_source_and_gives_the_signature(style):
    tasks = _hx(pairs=["python:cpp", "go:rust", "cpp:java"], prompt_style=style)
    assert len(tasks) == 3 * 164 and len({t["id"] for t in tasks}) == len(tasks)
    for t in tasks[:30]:
        msgs = t["prompt"]
        assert [m["role"] for m in msgs] == ["system"] + ["user", "assistant"] * (style == "one_shot") + ["user"]
        src_name, src_tag = language_label(t["source_language"])
        tgt_name, tgt_tag = language_label(t["language"])
        user = msgs[-1]["content"]
        assert user.startswith(f"Translate the following {src_name} function into {tgt_name}.")
        assert f"```{src_tag}\n{t['source_code']}\n```" in user
        assert f"```{tgt_tag}\n{t['signature']}\n```" in user and t["entry_point"] in t["signature"]
        assert f"in one ```{tgt_tag} code block" in user
        if style == "one_shot":  # the worked example is in the same pair of languages, answered in a fence
            assert src_name in msgs[1]["content"] and tgt_name in msgs[1]["content"]
            assert msgs[2]["content"].startswith(f"```{tgt_tag}\n") and msgs[2]["content"].endswith("\n```")
    by_id = {t["id"]: t for t in tasks}
    t = by_id["humaneval-x/0/python-cpp"]
    assert t["signature"] == "bool has_close_elements(vector<float> numbers, float threshold)"
    assert '"""' not in t["source_code"] and "def has_close_elements" in t["source_code"]  # no docstring
    assert by_id["humaneval-x/0/cpp-java"]["signature"].startswith("class Solution {\n")


def test_one_shot_examples_cover_every_language_and_errors():
    from oorl.data.translation_prompts import translation_messages
    from oorl.reward.languages import LANGUAGES

    # every language but LLVM IR, whose prompts are the IR groups' own (C++ -> IR has no one-shot here)
    assert set(FUNCTION_EXAMPLE) == set(LANGUAGES) - {"llvm_ir"} == set(PROGRAM_EXAMPLE)
    ns: dict = {}
    exec(FUNCTION_EXAMPLE["python"][1], ns)
    assert ns["sum_even_squares"]([1, 2, 3, 4]) == 20
    msgs = translation_messages("prolog", "bash", "p :- true.", kind="program", prompt_style="one_shot")
    assert "Prolog program into Bash" in msgs[1]["content"] and "standard input" in msgs[-1]["content"]
    with pytest.raises(UserError, match="prompt_style"):
        translation_messages("python", "go", "x = 1", prompt_style="few_shot")


# -- pairs and splits --------------------------------------------------------------------------------

def test_pairs():
    allowed = HX_LANGS
    assert tr.parse_pairs(["python:js", ["cpp", "rs"]], allowed=allowed) == [("python", "javascript"), ("cpp", "rust")]
    assert tr.parse_pairs(None, ["python"], ["go", "python", "c++"], allowed=allowed) == [("python", "go"),
                                                                                          ("python", "cpp")]
    assert len(tr.parse_pairs(allowed=allowed)) == 30
    for bad, match in ((["python:cobol"], "unknown language 'cobol'"), (["php:python"], "php is not available"),
                       (["python:py"], "into itself"), (["python"], "not 'source:target'")):
        with pytest.raises(UserError, match=match):
            tr.parse_pairs(bad, allowed=allowed)


@needs_hx
def test_splits_are_disjoint_by_problem_and_seeded():
    def problems(split, seed=0, pairs=("python:cpp",), fraction=0.2):
        return {t["problem_id"] for t in _hx(split, pairs=list(pairs), seed=seed, heldout_fraction=fraction)}

    train, held = problems("train"), problems("heldout")
    assert not train & held and len(train | held) == 164 and 15 <= len(held) <= 50
    assert problems("heldout") == held  # deterministic
    assert problems("heldout", seed=1) != held  # the seed moves problems
    assert problems("heldout", pairs=("rust:go", "java:python")) == held  # every pair of a problem together
    all_tasks = _hx("all", pairs=["python:cpp", "python:go"])
    assert {t["problem_id"] for t in all_tasks if tr.split_of(t["problem_id"]) == "heldout"} == held
    with pytest.raises(UserError, match="heldout_fraction"):
        _hx("train", pairs=["python:cpp"], heldout_fraction=1.5)
    with pytest.raises(UserError, match="no split 'dev'"):
        _hx("dev", pairs=["python:cpp"])


# -- the user's JSONL --------------------------------------------------------------------------------

GOOD = [
    {"source_language": "python", "source_code": "def add(a, b):\n    return a + b", "target_language": "js",
     "tests": "console.assert(add(1, 2) === 3);", "entry_point": "add", "signature": "function add(a, b)",
     "problem_id": "add"},
    {"source_language": "cpp", "source_code": "int main(){int a,b;std::cin>>a>>b;std::cout<<a+b;}",
     "target_language": "Python", "inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10"]},
]


def _write(tmp_path: Path, rows) -> Path:
    f = tmp_path / "rows.jsonl"
    f.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return f


def test_translation_jsonl_rows(tmp_path):
    f = _write(tmp_path, GOOD)
    tasks = load_tasks(path=str(f), format="translation_jsonl", split="all", prompt_style="one_shot")
    a, b = tasks
    assert a["id"] == "rows-1-python-javascript" and a["language"] == "javascript" and a["layout"] == "generic"
    assert a["tests"] == GOOD[0]["tests"] and a["signature"] == "function add(a, b)" and a["problem_id"] == "add"
    assert "```javascript\nfunction add(a, b)\n```" in a["prompt"][-1]["content"]
    assert b["language"] == "python" and b["inputs"] == ["1 2\n", "5 5\n"] and "tests" not in b
    assert "C++ program into Python" in b["prompt"][-1]["content"] and "standard input" in b["prompt"][-1]["content"]
    assert b["problem_id"].startswith("src-")
    train = load_tasks(path=str(f), format="translation_jsonl", split="train", heldout_fraction=0.0)
    assert len(train) == 2
    split_dir = tmp_path / "d"
    split_dir.mkdir()
    (split_dir / "train.jsonl").write_text(json.dumps(GOOD[0]) + "\n")
    (split_dir / "test.jsonl").write_text(json.dumps(GOOD[1]) + "\n")
    assert [t["language"] for t in load_tasks(path=str(split_dir), format="translation_jsonl", split="heldout")] \
        == ["python"]


@pytest.mark.parametrize("row, message", [
    ({k: v for k, v in GOOD[0].items() if k != "source_code"}, r"rows.jsonl:2: field 'source_code' is missing"),
    ({**GOOD[0], "target_language": "cobol"}, r"rows.jsonl:2: field 'target_language': unknown language 'cobol'"),
    ({k: v for k, v in GOOD[0].items() if k != "tests"}, r"rows.jsonl:2: the row has neither 'tests' nor"),
    ({**GOOD[1], "outputs": ["3\n"]}, r"rows.jsonl:2: field 'outputs' has 1 entries for 2 'inputs'"),
    ({**GOOD[1], "inputs": "1 2"}, r"rows.jsonl:2: field 'inputs' must be a list of strings"),
    ({**GOOD[0], "inputs": ["1"], "outputs": ["1"]}, r"rows.jsonl:2: the row has both"),
    ({**GOOD[0], "entry_point": 3}, r"rows.jsonl:2: field 'entry_point' must be a string"),
    ('{"source_language": ', r"rows.jsonl:2: not valid JSON"),
    ({**GOOD[0], "id": "x"}, None),
])
def test_translation_jsonl_bad_rows_are_one_line_errors(tmp_path, row, message):
    rows = [{**GOOD[0], "id": "x"}, row] if message is None else [GOOD[0], row]
    f = _write(tmp_path, rows)
    with pytest.raises(UserError) as e:
        load_tasks(path=str(f), format="translation_jsonl", split="all")
    text = str(e.value)
    assert "\n" not in text
    if message is None:
        assert "rows.jsonl:2: field 'id': 'x' is already the id of line 1" in text
    else:
        assert re.search(message, text), text


# -- Python problems through the test translator (a fake one: the interface, not the translator) ------

def _fake_translator(monkeypatch):
    import oorl.data

    class Untranslatable(Exception):
        def __init__(self, reason):
            super().__init__(reason)
            self.reason = reason

    def translate_problem(problem, language):
        if language == "php":
            raise Untranslatable("php: no emitter")
        entry = problem["entry_point"]
        return {"name": f"HumanEval_0_{entry}", "language": language,
                "prompt": f"// Add two numbers.\nfunction {entry}(a, b){{\n",
                "tests": f"const assert = require('node:assert');\nassert.deepEqual({entry}(1, 2), 3);\n",
                "stop_tokens": ["\nfunction "]}

    fake = types.ModuleType("oorl.data.test_translate")
    fake.translate_problem, fake.Untranslatable = translate_problem, Untranslatable
    monkeypatch.setitem(sys.modules, "oorl.data.test_translate", fake)
    monkeypatch.setattr(oorl.data, "test_translate", fake, raising=False)


HUMANEVAL_ROW = {"task_id": "HumanEval/0", "prompt": 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n',
                 "canonical_solution": "    return a + b\n", "entry_point": "add",
                 "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"}


def test_humaneval_translation_through_the_translator(tmp_path, monkeypatch, caplog):
    _fake_translator(monkeypatch)
    f = _write(tmp_path, [HUMANEVAL_ROW])
    tasks = load_tasks(path=str(f), format="humaneval_translation", split="all", targets=["js", "php"])
    assert len(tasks) == 1 and "1 (problem, target) pairs skipped" in caplog.text  # php: untranslatable
    t = tasks[0]
    assert t["id"] == "humaneval/0/python-javascript" and t["problem_id"] == "HumanEval/0"
    assert t["layout"] == "multipl-e" and t["stop_tokens"] == ["\nfunction "] and t["entry_point"] == "add"
    assert t["problem_prompt"].startswith("// Add two numbers.") and t["signature"].endswith("function add(a, b)")
    assert t["source_code"] == "def add(a: int, b: int) -> int:\n    return a + b"  # docstring left out
    user = t["prompt"][-1]["content"]
    assert "Python function into JavaScript" in user and "```javascript\n// Add two numbers." in user
    assert tr.split_of("HumanEval/0") in ("train", "heldout")
    with pytest.raises(UserError, match="field 'canonical_solution' is missing"):
        load_tasks(path=str(_write(tmp_path, [{**HUMANEVAL_ROW, "canonical_solution": None}])),
                   format="humaneval_translation", split="all", targets=["js"])


# -- judgeable (jailed) ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def limits():
    from oorl.reward.sandbox import SandboxLimits

    return SandboxLimits(wall_s=20.0, cpu_s=10.0, memory_mb=1024, threads=2, cache_entries=0)


def _score(tasks, answers, limits):
    from oorl.reward.unit_test_rewards import unit_test_verdicts

    cols = sorted({k for t in tasks for k in t if k not in ("id", "prompt")})
    return unit_test_verdicts([""] * len(tasks), answers, limits=limits, **{c: [t.get(c) for t in tasks] for c in cols})


@needs_hx
def test_humaneval_x_tasks_are_judgeable(limits):
    """Per target language: two canonical solutions as fenced whole-function answers pass, another
    problem's solution fails."""
    data = hx.load_humaneval_x(HUMANEVAL_X, HX_LANGS)
    pairs = [f"python:{lang}" if lang != "python" else "go:python" for lang in HX_LANGS]
    tasks = {t["id"]: t for t in _hx(pairs=pairs)}
    jobs = []
    for lang in HX_LANGS:
        src = "python" if lang != "python" else "go"
        for number, answer_of, expect in (("12", "12", True), ("58", "58", True), ("12", "58", False)):
            code = hx.humaneval_x_parts(lang, data[lang][answer_of])["code"]
            answer = f"Here it is:\n\n```{language_label(lang)[1]}\n{code}\n```\n"
            jobs.append((tasks[f"humaneval-x/{number}/{src}-{lang}"], answer, expect))
    results = _score([j[0] for j in jobs], [j[1] for j in jobs], limits)
    wrong = [(t["id"], expect, r.status.value, r.detail[:200]) for (t, _, expect), r in zip(jobs, results)
             if r.passed != expect]
    assert wrong == []


def test_stdin_stdout_tasks_in_two_languages(tmp_path, limits):
    from oorl.reward.unit_test_rewards import unit_tests

    stdin, stdout = PROGRAM_EXAMPLE_CASE
    row = {"source_language": "go", "source_code": PROGRAM_EXAMPLE["go"], "inputs": [stdin, "7 8\n", ""],
           "outputs": [stdout, "64  \n\n", "0"]}
    f = _write(tmp_path, [{**row, "target_language": lang} for lang in ("python", "cpp")])
    tasks = load_tasks(path=str(f), format="translation_jsonl", split="all")
    answers = [f"```{lang}\n{PROGRAM_EXAMPLE[lang]}\n```" for lang in ("python", "cpp")]
    wrong = [a.replace("print(total)", "print(total + 1 if total else 0)").replace("<< total <<", "<< total + 1 <<")
             for a in answers]
    results = _score(tasks * 2, answers + wrong, limits)
    assert [r.passed for r in results] == [True, True, False, False], [r.detail for r in results]
    assert "case 1/3: expected '20', got '21'" in results[2].detail
    cols = {c: [t.get(c) for t in tasks] for c in ("language", "inputs", "outputs")}
    assert unit_tests(["", ""], answers, **cols) == [1.0, 1.0]
    with pytest.raises(UserError, match="3 'inputs' for 2 'outputs'"):
        unit_tests([""], answers[:1], language=["python"], inputs=[row["inputs"]], outputs=[["1", "2"]])
    with pytest.raises(UserError, match="needs a column 'tests'"):
        unit_tests([""], answers[:1], language=["python"])


def test_humaneval_translation_with_the_real_translator(limits):
    """The translator's JavaScript tests judge a hand-written whole-function answer (when it is there)."""
    tt = pytest.importorskip("oorl.data.test_translate")
    if not hasattr(tt, "translate_problem"):
        pytest.skip("oorl.data.test_translate has no translate_problem yet")
    f = HUMANEVAL_X / "humaneval_python.jsonl.gz"
    if not f.is_file():
        pytest.skip("no HumanEval Python problems")
    try:
        tasks = load_tasks(path=str(f), format="humaneval_translation", split="all", targets=["js"], limit_problems=1)
    except UserError as e:
        pytest.skip(f"translator not usable: {e}")
    good = ("```javascript\nfunction has_close_elements(numbers, threshold) {\n"
            "  for (let i = 0; i < numbers.length; i++)\n    for (let j = 0; j < numbers.length; j++)\n"
            "      if (i != j && Math.abs(numbers[i] - numbers[j]) < threshold) return true;\n  return false;\n}\n```")
    bad = good.replace("< threshold", "> threshold")
    results = _score(tasks * 2, [good, bad], limits)
    assert [r.passed for r in results] == [True, False], [r.detail for r in results]


# the tests of the one-shot example function, per language (its answer must pass them)
EXAMPLE_TESTS = {
    "python": ("assert sum_even_squares([1, 2, 3, 4]) == 20", None),
    "cpp": ("#include <cassert>\nint main() { assert(sum_even_squares({1, 2, 3, 4}) == 20); return 0; }", None),
    "java": ("public class Main { public static void main(String[] a) { if (new Solution().sumEvenSquares("
             "Arrays.asList(1L, 2L, 3L, 4L)) != 20) throw new AssertionError(); } }", None),
    "javascript": ("if (sumEvenSquares([1, 2, 3, 4]) !== 20) throw new Error('bad');", None),
    "typescript": ("if (sumEvenSquares([1, 2, 3, 4]) !== 20) throw new Error('bad');", None),
    "go": ('func TestS(t *testing.T) { if SumEvenSquares([]int{1, 2, 3, 4}) != 20 { t.Fatal("bad") } }',
           'package main\nimport "testing"\n'),
    "rust": ("#[test]\nfn t() { assert_eq!(sum_even_squares(vec![1, 2, 3, 4]), 20); }", None),
    "php": ("if (sum_even_squares([1, 2, 3, 4]) != 20) { exit(1); }", None),
    "bash": ('[[ "$(sum_even_squares "1 2 3 4")" == "20" ]]', None),
    "csharp": ("using System.Collections.Generic;\nclass Tests { public static void Main() { if (Problem.SumEvenSquares("
               "new List<long>{1, 2, 3, 4}) != 20) throw new System.Exception(\"bad\"); } }", None),
    "prolog": (":- begin_tests(t).\ntest(a) :- sum_even_squares([1, 2, 3, 4], 20).\n:- end_tests(t).", None),
}


@pytest.mark.slow
def test_one_shot_examples_are_correct(limits):
    """Every language's worked example passes: the function by its tests, the program by the case."""
    from oorl.reward.unit_test_rewards import unit_test_verdicts

    langs = sorted(EXAMPLE_TESTS)
    fenced = [f"```{lang}\n{FUNCTION_EXAMPLE[lang][1]}\n```" for lang in langs]
    results = unit_test_verdicts([""] * len(langs), fenced, limits=limits, language=langs,
                                 tests=[EXAMPLE_TESTS[lang][0] for lang in langs],
                                 test_setup=[EXAMPLE_TESTS[lang][1] for lang in langs])
    programs = [f"```{lang}\n{PROGRAM_EXAMPLE[lang]}\n```" for lang in langs]
    stdin, stdout = PROGRAM_EXAMPLE_CASE
    results += unit_test_verdicts([""] * len(langs), programs, limits=limits, language=langs,
                                  inputs=[[stdin, "5 6\n", ""]] * len(langs), outputs=[[stdout, "36", "0"]] * len(langs))
    failed = [(kind, lang, r.detail[:200]) for kind in ("function", "program") for lang in langs
              for r in [results[langs.index(lang) + (len(langs) if kind == "program" else 0)]] if not r.passed]
    assert failed == []
