"""Exact answers and Prolog numbers (pure)."""

from fractions import Fraction as F

import pytest

from oorl.answers.numbers import answer_to_column, numbers_match, parse_answer, parse_prolog_number


def test_parse_answer():
    assert parse_answer(42) == 42 and parse_answer("-7") == -7
    assert parse_answer("3/4") == F(3, 4) and parse_answer("2.5") == F(5, 2)
    assert parse_answer(" 1,234 ") == 1234 and parse_answer(0.1) == F(1, 10)
    for bad in ("eight", "", "1/0", True, float("nan"), None):
        with pytest.raises(ValueError):
            parse_answer(bad)


def test_answer_to_column():
    assert answer_to_column(F(12)) == 12 and isinstance(answer_to_column(F(12)), int)
    assert answer_to_column(F(5, 2)) == "2.5" and answer_to_column(F(-1, 8)) == "-0.125"
    assert answer_to_column(F(1, 3)) == "1/3"


@pytest.mark.parametrize("term,value", [
    ("42", F(42)), ("-7", F(-7)), ("2.5", F(5, 2)), ("1.0e+20", F(10 ** 20)), ("3r4", F(3, 4)),
    ("-3r4", F(-3, 4)), ("3/4", F(3, 4)), ("-3/4", F(-3, 4)), (" 8 ", F(8)),
])
def test_prolog_numbers(term, value):
    assert parse_prolog_number(term) == value


@pytest.mark.parametrize("term", ["5+3", "- 3", "\"42\"", "'42'", "forty", "_", "[8]", "1.0Inf", "1.5NaN", "3/0", "3/x"])
def test_not_numbers_by_default(term):
    assert parse_prolog_number(term) is None


def test_expressions_when_accepted():
    ok = {"5+3": 8, "- 3": -3, "-(3)": -3, "(1+2)/4": F(3, 4), "2*3r4": F(3, 2), "1 - -2": 3, "10/4": F(5, 2)}
    for term, value in ok.items():
        assert parse_prolog_number(term, accept_expressions=True) == value, term
    for term in ("5+", "(1", "2**3", "1/0", "foo+1", "1.0Inf"):
        assert parse_prolog_number(term, accept_expressions=True) is None, term


def test_numbers_match():
    assert numbers_match(F(1, 3), F(1, 3))
    assert numbers_match(F(0.30000000000000004), F(3, 10))
    assert not numbers_match(F(333, 1000), F(1, 3))
    assert numbers_match(F(10 ** 12 + 1), F(10 ** 12), rel_tol=1e-9)
    assert not numbers_match(F(10 ** 12 + 1), F(10 ** 12), rel_tol=0, abs_tol=0.5)
    assert numbers_match(F(2.5001), F(2.5), abs_tol=1e-3)
