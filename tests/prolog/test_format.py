"""Parsing completions: blocks, queries, clause splitting, leaks, variables (pure)."""

from oorl.answers.prolog_format import (normalize_query, parse_completion, query_leaks, query_variables,
                                     soft_format_ok, split_clauses, strict_format_ok, tags_in_place)

from . import completions as C


def test_parse_blocks():
    p = parse_completion(C.CORRECT)
    assert p.reasoning.startswith("Tom has 5") and p.code == "solve(X) :-\n    X is 5 + 3." and p.query == "solve(X)"
    assert p.complete
    s = parse_completion(C.SLOPPY)
    assert s.query == "solve(X)" and s.code == "solve(X) :- X is 5 + 3."
    m = parse_completion(C.MISSING_TAGS)
    assert (m.reasoning, m.code, m.query, m.complete) == (None, None, None, False)


def test_fences_and_unclosed_blocks():
    fenced = "<code>\n```prolog\nsolve(1).\n```\n</code><query>```\n?- solve(X).\n```</query>"
    p = parse_completion(fenced)
    assert p.code == "solve(1)." and p.query == "solve(X)"
    truncated = "<reasoning>r</reasoning><code>solve(1).</code><query>solve(X)."
    assert parse_completion(truncated).query is None
    assert not parse_completion("<code></code><query>solve(X).</query>").complete


def test_normalize_query():
    assert normalize_query(" ?- solve(X) . \n") == "solve(X)"
    assert normalize_query("X is 2 + 3..") == "X is 2 + 3"
    assert normalize_query("solve(X)") == "solve(X)"


def test_split_clauses_skips_quotes_comments_and_operators():
    code = ("a('x. y'). % c. d\nb(\"s. t\") :- X =.. [f, 1], Y = 0'., Z is 2.5 * 3.\n"
            "/* e. f */ c :- d.\nlast")
    assert split_clauses(code) == ["a('x. y')", "b(\"s. t\") :- X =.. [f, 1], Y = 0'., Z is 2.5 * 3",
                                   "c :- d", "last"]


def test_query_leaks():
    q = "solve(X)"
    assert query_leaks("solve(X) :- X is 1.\n:- solve(X), write(X).", q)
    assert query_leaks("solve(X) :- X is 1.\n?- solve(X).", q)
    assert query_leaks("solve(X) :- X is 1.\n:- initialization(main).\nmain :- solve(X), print(X).", q)
    assert query_leaks("solve(X) :- X is 1.\nsolve( X ).", q)          # the goal stated as a clause
    assert not query_leaks(":- use_module(library(clpq)).\nsolve(X) :- {X = 1}.", q)
    assert not query_leaks("main :- solve(X), print(X).\nsolve(X) :- X is 1.", q)  # used inside a rule
    assert not query_leaks("% ?- solve(X).\nsolve(X) :- X is 1.", q)   # only in a comment
    assert not query_leaks(None, q) and not query_leaks("solve(1).", None)
    assert query_leaks("?- foo.", None)


def test_tags_in_place_counts():
    assert tags_in_place(C.CORRECT) == 6
    assert tags_in_place(C.MISSING_TAGS) == 0
    assert tags_in_place(C.CORRECT + "<code>") == 5          # <code> twice: it earns nothing
    moved = C.CORRECT.replace("<reasoning>\n", "").replace("</query>", "</query>\n<reasoning>")
    assert tags_in_place(moved) == 5                          # one tag out of order loses only itself


def test_formats():
    assert strict_format_ok(C.CORRECT) and strict_format_ok(C.CORRECT + "\n")
    assert not strict_format_ok(C.CORRECT + "\n\n") and not strict_format_ok(C.SLOPPY)
    assert soft_format_ok(C.SLOPPY) and not soft_format_ok(C.MISSING_TAGS)
    reordered = "<code>c</code><reasoning>r</reasoning><query>q</query>"
    assert not soft_format_ok(reordered)


def test_query_variables():
    assert query_variables("solve(X)") == ["X"]
    assert query_variables("foo(_A, Total, X, Total)") == ["Total", "X"]
    assert query_variables("atom_length('Hello X', N), S = \"Y\"") == ["N", "S"]
    assert query_variables("X = 0'A, Y is 1E5") == ["X", "Y"]
    assert query_variables("solve(42)") == []
