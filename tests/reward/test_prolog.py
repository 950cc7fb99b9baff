"""run_prolog: bindings, statuses and limits of a jailed swipl."""

from __future__ import annotations

import pytest

from oorl.reward.prolog import STATUSES, PrologResult, run_prolog

from .helpers import short_limits


@pytest.fixture(scope="module")
def lim():
    return short_limits()


@pytest.mark.parametrize("program,query,bindings", [
    ("solve(X) :- X is 6 * 7.", "solve(X).", [{"X": "42"}]),
    ("solve(X) :- X is 6 * 7.", "solve(X)", [{"X": "42"}]),
    ("solve(X) :- X is 6 * 7.", "?- solve(X).", [{"X": "42"}]),
    ("solve(X) :- X = 3/4.", "solve(X)", [{"X": "3/4"}]),
    ("solve(X) :- X is 5 / 2.", "solve(X)", [{"X": "2.5"}]),
    ("solve(X) :- X = \"abc\".", "solve(X)", [{"X": '"abc"'}]),
    ("solve(X, Y) :- X = f(_), Y = _.", "solve(A, B)", [{"A": "f(_)", "B": "_"}]),
    ("solve(X, _Hidden) :- X = 1.", "solve(X, _Hidden)", [{"X": "1"}]),
])
def test_bindings(lim, program, query, bindings):
    res = run_prolog(program, query, limits=lim)
    assert isinstance(res, PrologResult)
    assert res.status == "ok", res
    assert res.bindings == bindings
    assert res.first == bindings[0]
    assert res.wall_s > 0


def test_all_solutions_up_to_a_cap(lim):
    prog = "p(1). p(2). p(3). p(4)."
    assert [b["X"] for b in run_prolog(prog, "p(X)", max_solutions=3, limits=lim).bindings] == ["1", "2", "3"]
    assert run_prolog(prog, "p(X)", limits=lim).bindings == [{"X": "1"}]


def test_no_solution_and_warnings(lim):
    res = run_prolog("solve(X) :- Y = 1, fail.", "solve(X)", limits=lim)
    assert res.status == "no_solution" and res.bindings == []
    assert any("Singleton" in w for w in res.warnings) and res.errors == []


def test_syntax_error_in_program_is_reported_apart(lim):
    res = run_prolog("broken(X) :- X is 1 + .\nsolve(7).", "solve(X)", limits=lim)
    assert res.status == "syntax_error"
    assert res.bindings == [{"X": "7"}]  # the rest of the program still loaded and answered
    assert any("Syntax error" in e for e in res.errors)


def test_syntax_error_in_query(lim):
    res = run_prolog("solve(1).", "solve(X", limits=lim)
    assert res.status == "syntax_error" and res.errors[0].startswith("query:")


def test_errors(lim):
    res = run_prolog("solve(X) :- undefined_pred(X).", "solve(X)", limits=lim)
    assert res.status == "error" and any("undefined_pred" in e for e in res.errors)
    res = run_prolog(":- initialization(halt).\nsolve(1).", "solve(X)", limits=lim)
    assert res.status == "error"


def test_inference_limit(lim):
    res = run_prolog("loop :- loop.\nsolve(X) :- loop, X = 1.", "solve(X)",
                     limits=lim.model_copy(update={"prolog_inference_limit": 100_000}))
    assert res.status == "timeout" and res.inferences_exceeded


def test_time_limit_keeps_solutions_found_before(lim):
    prog = "p(1). p(2).\np(X) :- repeat, fail, X = 3."
    res = run_prolog(prog, "p(X)", max_solutions=5, limits=lim.model_copy(update={"prolog_inference_limit": 10**12}))
    assert res.status == "timeout" and not res.inferences_exceeded
    assert [b["X"] for b in res.bindings] == ["1", "2"]
    assert res.wall_s <= lim.wall_s + 2


def test_stack_limit_is_memory(lim):
    res = run_prolog("grow(L) :- grow([x|L]).\nsolve(X) :- grow([]), X = 1.", "solve(X)",
                     limits=lim.model_copy(update={"prolog_stack_mb": 64}))
    assert res.status == "memory"


def test_program_output_and_forged_results_are_kept_apart(lim):
    # the program prints to stdout and even writes a result-looking JSON line; neither becomes a binding
    prog = ("solve(X) :- format('{\"type\": \"solution\", \"bindings\": {\"X\": \"99\"}}~n'), X = 1.")
    res = run_prolog(prog, "solve(X)", limits=lim)
    assert res.bindings == [{"X": "1"}]
    assert "99" in res.output


def test_statuses_are_documented():
    import oorl.reward.prolog as mod

    for s in STATUSES:
        assert f"  {s}" in mod.__doc__
