"""Parsing a Prolog GRPO completion into reasoning, code and query (pure, no execution).

A completion is expected to hold ``<reasoning>...</reasoning><code>...</code><query>...</query>``
(see :mod:`oorl.data.prompts`). Parsing is lenient where leniency cannot be gamed: each block is
the first complete ``<tag>...</tag>`` pair, surrounding whitespace and a Markdown code fence
inside the code or query block are removed. The format rewards judge the exact shape separately.

Definitions used by the rewards:

* **Tags in place** (:func:`tags_in_place`): the tags that occur exactly once, less the fewest
  that must be dropped for the rest to appear in the canonical order
  ``<reasoning> </reasoning> <code> </code> <query> </query>`` (the longest ordered subsequence).
  A missing tag does not cost its neighbours their credit; a repeated tag earns nothing; one tag
  moved out of order loses only its own credit.
* **Query leak** (:func:`query_leaks`): the code block holds a goal that should have been the
  query: a ``?-`` clause, an ``:- initialization(...)`` directive, a directive whose body
  contains the query goal, or a clause identical to the query goal (such as a bare
  ``solve(X).`` line, which would define a fact). Ordinary directives such as
  ``:- use_module(library(clpq)).`` are not leaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAGS = ("<reasoning>", "</reasoning>", "<code>", "</code>", "<query>", "</query>")

STRICT_FORMAT_RE = re.compile(
    r"^<reasoning>\n.*?\n</reasoning>\n<code>\n.*?\n</code>\n<query>\n.*?\n</query>\n?\Z", re.DOTALL)
SOFT_FORMAT_RE = re.compile(
    r"<reasoning>.*?</reasoning>\s*<code>.*?</code>\s*<query>.*?</query>", re.DOTALL)

_BLOCK_RE = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL)
             for name in ("reasoning", "code", "query")}
_FENCE_RE = re.compile(r"^```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)
_SYMBOL_CHARS = set("+-*/\\^<>=~:.?@#&$")  # a '.' after one of these is part of an operator (=..)
_VAR_RE = re.compile(r"(?<![A-Za-z0-9_])([A-Z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ParsedCompletion:
    """The three blocks of a completion; ``None`` for a block that is missing."""

    reasoning: str | None
    code: str | None
    query: str | None

    @property
    def complete(self) -> bool:
        """True when a non-empty code block and a non-empty query block are present."""
        return bool(self.code) and bool(self.query)


def _strip_fence(text: str) -> str:
    text = text.strip()
    m = _FENCE_RE.match(text)
    return m.group(1).strip() if m else text


def parse_completion(text: str) -> ParsedCompletion:
    """Split a completion into its blocks (the first complete pair of each tag)."""
    found = {}
    for name, rx in _BLOCK_RE.items():
        m = rx.search(text)
        found[name] = m.group(1) if m else None
    reasoning = found["reasoning"].strip() if found["reasoning"] is not None else None
    code = _strip_fence(found["code"]) if found["code"] is not None else None
    query = normalize_query(found["query"]) if found["query"] is not None else None
    return ParsedCompletion(reasoning=reasoning, code=code, query=query)


def normalize_query(query: str) -> str:
    """A query as a goal: fences, a leading ``?-`` and the final full stop removed."""
    q = _strip_fence(query)
    if q.startswith("?-"):
        q = q[2:].lstrip()
    q = q.rstrip()
    while q.endswith("."):
        q = q[:-1].rstrip()
    return q


def tags_in_place(text: str) -> int:
    """How many tags of :data:`TAGS` are in place (see the module docstring): the size of the
    largest set of tags that each occur exactly once and appear in canonical order."""
    pos = [text.find(t) for t in TAGS if text.count(t) == 1]  # canonical order, unique tags only
    best = [1] * len(pos)  # longest increasing run of positions ending at each tag
    for i in range(len(pos)):
        for j in range(i):
            if pos[j] < pos[i]:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


def strict_format_ok(text: str) -> bool:
    """The whole completion is exactly the three blocks, each tag on its own line."""
    return STRICT_FORMAT_RE.match(text) is not None


def soft_format_ok(text: str) -> bool:
    """The three blocks appear in order (only whitespace between them), anything around."""
    return SOFT_FORMAT_RE.search(text) is not None


def split_clauses(code: str) -> list[str]:
    """Split Prolog text into clauses at end tokens (``.`` followed by white space, ``%`` or the
    end), skipping quoted atoms and strings, ``0'c`` character codes and comments. Each clause is
    returned without its final full stop and with comments removed."""
    clauses, cur, i, n = [], [], 0, len(code)
    while i < n:
        c = code[i]
        if c == "%":  # line comment
            j = code.find("\n", i)
            i = n if j < 0 else j
            continue
        if code.startswith("/*", i):
            j = code.find("*/", i + 2)
            i = n if j < 0 else j + 2
            cur.append(" ")
            continue
        if c == "0" and code.startswith("0'", i) and i + 2 < n and not (i > 0 and code[i - 1].isalnum()):
            k = 4 if code[i + 2] == "\\" and i + 3 < n else 3
            cur.append(code[i:i + k])
            i += k
            continue
        if c in "'\"`":
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            cur.append(code[i:j + 1])
            i = j + 1
            continue
        if (c == "." and (i + 1 == n or code[i + 1].isspace() or code[i + 1] == "%")
                and not (cur and cur[-1][-1] in _SYMBOL_CHARS)):
            clause = "".join(cur).strip()
            if clause:
                clauses.append(clause)
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    rest = "".join(cur).strip()
    if rest:
        clauses.append(rest)
    return clauses


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def query_leaks(code: str | None, query: str | None) -> bool:
    """Whether the query leaks into the code (see the module docstring for the definition)."""
    if not code:
        return False
    goal = _squash(normalize_query(query)) if query else ""
    for clause in split_clauses(code):
        if clause.startswith("?-"):
            return True
        if clause.startswith(":-"):
            body = _squash(clause[2:])
            if body.startswith("initialization(") or (goal and goal in body):
                return True
        elif goal and _squash(clause) == goal:
            return True
    return False


def query_variables(query: str) -> list[str]:
    """Named variables of a query in order of first appearance, without ``_``-prefixed ones
    (which the Prolog top level does not report). Quoted atoms and strings are skipped."""
    text = re.sub(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`(?:\\.|[^`\\])*`", " ", query)
    text = re.sub(r"0'\\?.", " ", text)
    seen: list[str] = []
    for name in _VAR_RE.findall(text):
        if not name.startswith("_") and name not in seen:
            seen.append(name)
    return seen
