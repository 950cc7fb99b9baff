"""Exact numeric answers: parsing dataset answers and Prolog bindings, and comparing them.

Dataset answers (the ``answer`` column) are exact: an ``int``, or a string such as ``"42"``,
``"-7"``, ``"3/4"``, ``"2.5"`` or ``"1,234"`` (thousands separators are dropped).

A Prolog binding arrives as the printed term (``"42"``, ``"2.5"``, ``"3r4"``...). What counts as
a number (:func:`parse_prolog_number`):

* integers (``42``, ``-7``), floats (``2.5``, ``1.0e10``; ``inf`` and ``nan`` never match),
* SWI-Prolog rationals (``3r4``, as ``X is 3 rdiv 4`` prints them),
* a fraction term of two integers (``3/4``, ``-3/4``): the conventional way to write a rational,
* only with ``accept_expressions=True``: any arithmetic term over numbers built from
  ``+ - * /`` and parentheses (``5+3``, ``-(3)``, ``(1+2)/4``), evaluated exactly by a small parser
  here (never by ``eval``). Off by default: a query that binds ``X = 5+3`` has not computed the
  answer, and rewarding it would teach ``=`` where ``is`` is meant.

Anything else (atoms, strings such as ``"42"``, lists, unbound variables) is not a number.
Comparison (:func:`numbers_match`) is ``|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)``,
computed exactly on rationals.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

Number = Fraction

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_RAT_RE = re.compile(r"^([+-]?\d+)r(\d+)$")
_FRAC_RE = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_TOKEN_RE = re.compile(r"\s*(?:(\d+r\d+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(.))")


def parse_answer(value) -> Fraction:
    """A dataset answer as an exact rational; ``ValueError`` when it is not a number."""
    if isinstance(value, bool):
        raise ValueError(f"answer {value!r} is not a number")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"answer {value!r} is not a finite number")
        return Fraction(str(value))
    if isinstance(value, Fraction):
        return value
    text = str(value).strip().replace(",", "")
    if _INT_RE.match(text) or _FLOAT_RE.match(text):
        return Fraction(text)
    m = _FRAC_RE.match(text)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"answer {value!r} is not a number (expected e.g. 42, -7, 3/4 or 2.5)")


def answer_to_column(value: Fraction) -> int | str:
    """The canonical ``answer`` column value: an ``int`` when whole, else a terminating decimal
    string (``"2.5"``) when there is one, else a fraction string (``"1/3"``)."""
    if value.denominator == 1:
        return int(value.numerator)
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:
        s = f"{float(value):.15f}".rstrip("0")
        if Fraction(s) == value:
            return s
    return f"{value.numerator}/{value.denominator}"


def parse_prolog_number(term: str, accept_expressions: bool = False) -> Fraction | None:
    """A printed Prolog term as an exact number, or ``None`` (see the module docstring)."""
    text = term.strip()
    if _INT_RE.match(text):
        return Fraction(int(text))
    if _FLOAT_RE.match(text):
        f = float(text)
        return Fraction(text) if math.isfinite(f) else None
    m = _RAT_RE.match(text)
    if m:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC_RE.match(text)
    if m:
        den = int(m.group(2))
        return Fraction(int(m.group(1)), den) if den else None
    if accept_expressions:
        return _eval_expression(text)
    return None


def numbers_match(got: Fraction, expected: Fraction, abs_tol: float = 1e-6, rel_tol: float = 1e-9) -> bool:
    """``|got - expected| <= max(rel_tol * max(|got|, |expected|), abs_tol)``, exactly."""
    diff = abs(got - expected)
    bound = max(Fraction(rel_tol) * max(abs(got), abs(expected)), Fraction(abs_tol))
    return diff <= bound


def _eval_expression(text: str) -> Fraction | None:
    """Evaluate ``+ - * /`` and parentheses over numbers exactly; ``None`` on anything else."""
    tokens: list[str | Fraction] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            num = m.group(1)
            if "r" in num:
                a, b = num.split("r")
                tokens.append(Fraction(int(a), int(b)))
            else:
                tokens.append(Fraction(num))
        elif m.group(2).strip():
            tokens.append(m.group(2))
    if text[pos:].strip():
        return None
    parser = _ExprParser(tokens)
    try:
        value = parser.expr()
    except (ValueError, ZeroDivisionError, IndexError):
        return None
    return value if parser.i == len(tokens) else None


class _ExprParser:
    """Recursive descent: expr = term {(+|-) term}; term = unary {(*|/) unary};
    unary = - unary | + unary | number | ( expr )."""

    def __init__(self, tokens: list):
        self.t, self.i = tokens, 0

    def _peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def expr(self) -> Fraction:
        v = self.term()
        while self._peek() in ("+", "-"):
            op = self.t[self.i]
            self.i += 1
            v = v + self.term() if op == "+" else v - self.term()
        return v

    def term(self) -> Fraction:
        v = self.unary()
        while self._peek() in ("*", "/"):
            op = self.t[self.i]
            self.i += 1
            v = v * self.unary() if op == "*" else v / self.unary()
        return v

    def unary(self) -> Fraction:
        tok = self._peek()
        self.i += 1
        if tok == "-":
            return -self.unary()
        if tok == "+":
            return self.unary()
        if tok == "(":
            v = self.expr()
            if self._peek() != ")":
                raise ValueError("unbalanced parenthesis")
            self.i += 1
            return v
        if isinstance(tok, Fraction):
            return tok
        raise ValueError(f"unexpected token {tok!r}")
