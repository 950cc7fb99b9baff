"""Source-level mutants of a C/C++ program (pure): each a named, single-site edit.

``source_mutations(src, start)`` lists the sites at or after offset ``start`` (the function bodies:
the builder passes where the canonical solution begins), outside comments, string/char literals
and preprocessor lines; ``apply_mutation(src, m)`` makes the mutant. Kinds:

``arith`` (``+``<->``-``, ``*``<->``/``, ``%``->``/``, ``+=``<->``-=``), ``compare`` (``==``<->``!=``,
``<``<->``>=``, ``>``<->``<=``), ``off_by_one`` (``<``<->``<=``, ``>``<->``>=``), ``logic``
(``&&``<->``||``), ``constant`` (an integer literal n -> n+1, or n-1), ``bool`` (``true``<->``false``),
``swap_args`` (the first two arguments of a call). Heuristics (``<`` of a template, a unary
``-``) can make a mutant that does not compile; the builder rejects those.

The same module holds the small C++ scanner the builder uses to turn a source into a test
program's prototypes (``function_prototypes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEMPLATES = {"vector", "map", "set", "pair", "unordered_map", "unordered_set", "multiset", "multimap", "tuple",
             "stack", "queue", "priority_queue", "deque", "list", "array", "greater", "less", "numeric_limits",
             "static_cast", "dynamic_cast", "reinterpret_cast", "const_cast", "function", "basic_string",
             "make_pair", "max", "min", "swap", "template", "bitset", "hash", "optional", "any"}
TYPE_WORDS = {"int", "float", "double", "char", "bool", "long", "auto", "string", "void", "unsigned", "short",
              "size_t", "const"}
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "catch", "do", "else", "new", "delete", "case"}


@dataclass(frozen=True)
class Mutation:
    kind: str
    pos: int
    old: str
    new: str

    def describe(self, src: str) -> str:
        line = src.count("\n", 0, self.pos) + 1
        return f"{self.kind}: line {line}: {self.old!r} -> {self.new!r}"


def code_mask(src: str) -> list[bool]:
    """True for each character of ``src`` that is code (not a comment, literal or preprocessor line)."""
    mask = [True] * len(src)
    i, n, line_start = 0, len(src), True
    while i < n:
        c = src[i]
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":
            j = i
            while j < n and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            for k in range(i, min(j, n)):
                mask[k] = False
            i = j
            continue
        line_start = c == "\n"
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            mask[i:j] = [False] * (j - i)
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            mask[i:j] = [False] * (j - i)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            mask[i:j] = [False] * (j - i)
            i = j
        else:
            i += 1
    return mask


def _prev_code(src: str, mask: list[bool], i: int) -> tuple[int, str]:
    j = i - 1
    while j >= 0 and (src[j].isspace() or not mask[j]):
        if not mask[j] and src[j] in "\"'":  # a literal ends here: an operand
            return j, "x"
        j -= 1
    return j, (src[j] if j >= 0 else "")


def _word_before(src: str, j: int) -> str:
    k = j
    while k >= 0 and (src[k].isalnum() or src[k] == "_"):
        k -= 1
    return src[k + 1:j + 1]


def _operand_end(ch: str) -> bool:
    return ch.isalnum() or ch in "_)]x"


SWAP_CMP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
OFF_BY_ONE = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
ARITH = {"+": "-", "-": "+", "*": "/", "/": "*", "%": "/", "+=": "-=", "-=": "+="}


def source_mutations(src: str, start: int = 0) -> list[Mutation]:
    mask = code_mask(src)
    out: list[Mutation] = []
    template_depth = 0
    i, n = start, len(src)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        c = src[i]
        two = src[i:i + 2]
        three = src[i:i + 3]
        if c in ";{}":
            template_depth = 0
        if c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            word = src[i:j]
            if word in ("true", "false"):
                out.append(Mutation("bool", i, word, "false" if word == "true" else "true"))
            elif word not in KEYWORDS and word not in TEMPLATES:
                k = j
                while k < n and src[k] in " \t":
                    k += 1
                if k < n and src[k] == "(":
                    m = _swap_args(src, mask, k)
                    if m:
                        out.append(m)
            i = j
            continue
        if c.isdigit():
            j = i
            while j < n and (src[j].isalnum() or src[j] in "._'"):
                j += 1
            lit = src[i:j]
            if re.fullmatch(r"\d+", lit) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] in "_.")):
                v = int(lit)
                out.append(Mutation("constant", i, lit, str(v + 1)))
                if v > 0:
                    out.append(Mutation("constant", i, lit, str(v - 1)))
            i = j
            continue
        if two in ("&&", "||"):
            out.append(Mutation("logic", i, two, "||" if two == "&&" else "&&"))
            i += 2
            continue
        if three in ("<<=", ">>=") or two in ("<<", ">>", "->", "++", "--", "::"):
            if two == ">>" and template_depth >= 2:
                template_depth -= 2
            i += 3 if three in ("<<=", ">>=") else 2
            continue
        if two in ("==", "!=", "<=", ">=", "+=", "-="):
            if two in SWAP_CMP:
                out.append(Mutation("compare", i, two, SWAP_CMP[two]))
            if two in OFF_BY_ONE:
                out.append(Mutation("off_by_one", i, two, OFF_BY_ONE[two]))
            if two in ARITH:
                out.append(Mutation("arith", i, two, ARITH[two]))
            i += 2
            continue
        if c in "<>":
            j, prev = _prev_code(src, mask, i)
            if c == "<" and (_word_before(src, j) in TEMPLATES or not _operand_end(prev)):
                template_depth += 1
            elif c == ">" and template_depth > 0:
                template_depth -= 1
            elif _operand_end(prev):
                out.append(Mutation("compare", i, c, SWAP_CMP[c]))
                out.append(Mutation("off_by_one", i, c, OFF_BY_ONE[c]))
            i += 1
            continue
        if c in "+-*/%" and src[i + 1:i + 2] != "=":
            j, prev = _prev_code(src, mask, i)
            if _operand_end(prev) and _word_before(src, j) not in KEYWORDS:
                if not (c == "*" and _word_before(src, j) in TYPE_WORDS):  # `int *p`: a declarator
                    out.append(Mutation("arith", i, c, ARITH[c]))
        i += 1
    return out


def _swap_args(src: str, mask: list[bool], open_paren: int) -> Mutation | None:
    depth, j, commas = 0, open_paren, []
    while j < len(src):
        if mask[j]:
            ch = src[j]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    break
            elif ch == "," and depth == 1:
                commas.append(j)
            elif ch == ";":
                return None
        j += 1
    else:
        return None
    if not commas:
        return None
    a_end = commas[0]
    b_end = commas[1] if len(commas) > 1 else j
    a, b = src[open_paren + 1:a_end], src[a_end + 1:b_end]
    if a.strip() == b.strip() or not a.strip() or not b.strip() or "<" in a + b or ">" in a + b:
        return None
    old = src[open_paren + 1:b_end]
    new = f"{b.strip()}, {a.strip()}"
    return Mutation("swap_args", open_paren + 1, old, new)


def apply_mutation(src: str, m: Mutation) -> str:
    if src[m.pos:m.pos + len(m.old)] != m.old:
        raise ValueError(f"mutation {m} does not match the source at offset {m.pos}")
    return src[:m.pos] + m.new + src[m.pos + len(m.old):]


_NOT_FUNCTION = re.compile(r"^\s*(struct|class|union|enum|namespace|template|typedef|extern)\b")


def function_prototypes(src: str) -> tuple[list[str], list[str]]:
    """Prototypes (``header;``) of the functions ``src`` defines at file scope, and the file-scope
    definitions that are not functions (structs, templates, namespaces...) as their first lines."""
    mask = code_mask(src)
    protos, others = [], []
    depth, boundary = 0, 0
    for i, ch in enumerate(src):
        if not mask[i]:
            if depth == 0 and src[i] == "#" and (i == 0 or src[i - 1] == "\n"):
                boundary = i
            continue
        if ch == "{":
            if depth == 0:
                header = "".join(c for c, m in zip(src[boundary:i], mask[boundary:i]) if m).strip()
                if re.search(r"\)\s*(const\s*)?$", header) and "(" in header and not _NOT_FUNCTION.match(header) \
                        and "=" not in header.split("(", 1)[0]:
                    protos.append(" ".join(header.split()) + ";")
                else:
                    others.append(" ".join(header.split())[:80])
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                boundary = i + 1
        elif ch == ";" and depth == 0:
            boundary = i + 1
    return protos, others
