"""Small, careful source edits the harnesses need: find a function's body in C-like code (skipping
strings, characters and comments), rename an entry point, split leading imports."""

from __future__ import annotations

import re


def _skip(src: str, i: int) -> int:
    """If a string, char literal or comment starts at i, return the index after it; else i."""
    c = src[i]
    if src.startswith("//", i):
        j = src.find("\n", i)
        return len(src) if j < 0 else j
    if src.startswith("/*", i):
        j = src.find("*/", i + 2)
        return len(src) if j < 0 else j + 2
    if c == "`":  # Go raw strings, JS templates (no nesting needed here)
        j = src.find("`", i + 1)
        return len(src) if j < 0 else j + 1
    if c in "\"'":
        j = i + 1
        while j < len(src) and src[j] != c:
            if src[j] == "\\":
                j += 1
            elif src[j] == "\n" and c == "'":  # a Rust lifetime or stray quote: not a literal
                return i + 1
            j += 1
        if c == "'" and j - i > 12:  # too long for a char literal: a Rust lifetime like 'a
            return i + 1
        return j + 1
    return i


def matching_brace(src: str, open_idx: int, pair: str = "{}") -> int:
    """Index of the bracket closing the one at ``open_idx`` (``pair``: "{}", "()", "[]"), skipping
    strings and comments; -1 if unbalanced."""
    opening, closing = pair
    depth, i = 0, open_idx
    while i < len(src):
        j = _skip(src, i)
        if j != i:
            i = j
            continue
        if src[i] == opening:
            depth += 1
        elif src[i] == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def code_positions(src: str, pattern: re.Pattern) -> list[re.Match]:
    """Matches of ``pattern`` that start outside strings and comments."""
    hits = []
    blocked: list[tuple[int, int]] = []
    i = 0
    while i < len(src):
        j = _skip(src, i)
        if j != i:
            blocked.append((i, j))
            i = j
        else:
            i += 1
    for m in pattern.finditer(src):
        if not any(a <= m.start() < b for a, b in blocked):
            hits.append(m)
    return hits


def rename_c_main(src: str, new_name: str) -> tuple[str, bool, bool]:
    """Rename ``int main(...)`` to ``int new_name(...)`` and make falling off its end return 0, as it
    did for main. Returns (source, found, takes_arguments)."""
    hits = code_positions(src, re.compile(r"\b(?:signed\s+)?int\s+main\s*\(([^)]*)\)\s*\{"))
    if not hits:
        return src, False, False
    m = hits[-1]
    params = m.group(1).strip()
    takes_args = bool(params) and params != "void"
    open_idx = m.end() - 1
    close = matching_brace(src, open_idx)
    if close < 0:
        return src, False, False
    body = src[: close] + "\n    return 0;\n" + src[close:]
    header = src[m.start(): m.end()].replace("main", new_name, 1)
    return body[: m.start()] + header + body[m.end():], True, takes_args


def rename_func(src: str, pattern: str, replacement: str) -> tuple[str, bool]:
    """Replace the last code (not string/comment) match of ``pattern`` with ``replacement``."""
    hits = code_positions(src, re.compile(pattern, re.MULTILINE))
    if not hits:
        return src, False
    m = hits[-1]
    return src[: m.start()] + m.expand(replacement) + src[m.end():], True


_JAVA_HEAD = re.compile(r"^\s*(package\s+[\w.]+\s*;|import\s+(static\s+)?[\w.*]+\s*;)\s*$")


def split_java_imports(src: str) -> tuple[list[str], str]:
    """(import lines, the rest without package/import lines) of a Java or C#-like source."""
    imports, rest = [], []
    for line in src.splitlines():
        m = _JAVA_HEAD.match(line)
        if m:
            if not m.group(1).startswith("package"):
                imports.append(m.group(1).strip())
        else:
            rest.append(line)
    return imports, "\n".join(rest)


def next_code_char(src: str, i: int, chars: str) -> int:
    """Index of the first of ``chars`` at or after ``i`` outside comments and string literals, or -1."""
    while i < len(src):
        j = _skip(src, i)
        if j != i:
            i = j
            continue
        if src[i] in chars:
            return i
        i += 1
    return -1
