"""What every target language's emitter shares: the MultiPL-E-layout row, the docstring as comments
(its ``>>>`` examples rewritten in the target's syntax), float formatting, the value walk by type."""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from oorl.data.test_translate import types as T
from oorl.data.test_translate.errors import Untranslatable
from oorl.data.test_translate.pyside import Problem


def py_float(x: float) -> str:
    """Python's repr of a float (``1.0``, ``0.1``, ``1e-06``); inf and nan are untranslatable."""
    if math.isinf(x) or math.isnan(x):
        raise Untranslatable("infinite or NaN float")
    return repr(float(x))


def c_escape(s: str, quote: str = '"') -> str:
    """A string literal body with C-style escapes (backslash, the quote, control characters)."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


# words of the docstring that each language calls otherwise (MultiPL-E's "reworded" prompts do this)
def reword(line: str, words: dict[str, str]) -> str:
    for py, target in words.items():
        line = re.sub(rf"\b{re.escape(py)}\b", target, line)
    return line


class Emitter:
    """One target language. Subclasses give ``code``, ``stop_tokens``, ``value`` and the two
    texts; ``check_types`` rejects what the language cannot express."""

    code = ""
    comment = "//"
    stop_tokens: list[str] = []
    words: dict[str, str] = {}  # docstring rewording
    renames: dict[str, str] = {}  # parameter names the language reserves

    # -- the row ---------------------------------------------------------------------------------
    def row(self, p: Problem) -> dict[str, Any]:
        self.check_types(p)
        return {"name": p.name, "language": self.code, "prompt": self.prompt(p), "tests": self.tests(p),
                "stop_tokens": list(self.stop_tokens)}

    def check_types(self, p: Problem) -> None:
        for _, t in p.params:
            self.check_type(t)
        self.check_type(p.returns)

    def check_type(self, t: T.Type) -> None:  # dynamic languages take anything
        return None

    def prompt(self, p: Problem) -> str:
        raise NotImplementedError

    def tests(self, p: Problem) -> str:
        raise NotImplementedError

    def value(self, v: Any, t: T.Type) -> str:
        raise NotImplementedError

    # -- shared pieces ---------------------------------------------------------------------------
    def args(self, p: Problem, args: tuple) -> list[str]:
        return [self.value(a, t) for a, (_, t) in zip(args, p.params)]

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"{p.entry_point}({', '.join(self.args(p, args))})"

    def value_doc(self, p: Problem, v: Any) -> str:
        return self.value(v, p.returns)

    def doc_lines(self, p: Problem) -> list[str]:
        """The docstring's non-blank lines, reworded, with ``>>> f(args)`` examples and their results
        in the target's syntax (kept as written where they do not parse)."""
        lines = [ln.rstrip() for ln in p.docstring.split("\n")]
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            s = line.strip()
            if s.startswith(">>>"):
                call = _doc_call(s[3:].strip(), p.entry_point)
                result = []
                j = i + 1
                while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(">>>"):
                    result.append(lines[j].strip())
                    j += 1
                try:
                    if call is None:
                        raise Untranslatable("doc")
                    out.append(">>> " + self.call_doc(p, call))
                    out.append(self.value_doc(p, ast.literal_eval(" ".join(result))) if result else "")
                    out = [x for x in out if x != ""]
                    i = j
                    continue
                except Exception:  # noqa: BLE001 - an example we cannot read: keep it as written
                    pass
            if s:
                out.append(reword(line, self.words))
            i += 1
        return out

    def comments(self, p: Problem, first: str = " ") -> str:
        lines = self.doc_lines(p)
        text = "".join(f"{self.comment}{first if k == 0 else ' '}{ln}\n" for k, ln in enumerate(lines))
        return text.replace(f"{self.comment} \n", f"{self.comment}\n")


def _doc_call(src: str, entry: str) -> tuple | None:
    try:
        node = ast.parse(src, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry):
        return None
    try:
        return tuple(ast.literal_eval(a) for a in node.args)
    except ValueError:
        return None


def walk_value(v: Any, t: T.Type, leaf, seq, mapping, none: str) -> str:
    """A value as text, driven by its type: ``leaf(v, t)`` for scalars, ``seq(items, t)`` for lists
    and tuples (items already text), ``mapping(pairs, t)`` for dicts."""
    if t.kind == "optional":
        return none if v is None else walk_value(v, t.elem, leaf, seq, mapping, none)
    if v is None:
        return none
    if isinstance(v, dict):
        kt, vt = (t.args if t.kind == "dict" else (T.of_value(v).args))
        return mapping([(walk_value(k, kt, leaf, seq, mapping, none), walk_value(x, vt, leaf, seq, mapping, none))
                        for k, x in v.items()], t)
    if isinstance(v, (list, tuple)):
        if t.kind == "tuple" and len(t.args) == len(v):
            elems = t.args
        elif t.kind == "list":
            elems = (t.elem,) * len(v)
        else:
            elems = tuple(T.of_value(x) for x in v)
        return seq([walk_value(x, et, leaf, seq, mapping, none) for x, et in zip(v, elems)], t)
    return leaf(v, t)


def scalar(v: Any, t: T.Type, true: str = "true", false: str = "false") -> str:
    """bool/int/float as most C-like languages write them; an int where a float is declared inside a
    container is written as a float (as MultiPL-E's tests do)."""
    if isinstance(v, bool):
        return true if v else false
    if isinstance(v, int):
        return py_float(float(v)) if t.kind == "float" else str(v)
    if isinstance(v, float):
        return str(int(v)) if t.kind == "int" and v.is_integer() else py_float(v)
    raise Untranslatable(f"value of type {type(v).__name__}")
