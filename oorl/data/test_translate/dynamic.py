"""Emitters for the dynamically typed targets: Python (the original tests), JavaScript, PHP, Bash."""

from __future__ import annotations

from typing import Any

from oorl.data.test_translate import types as T
from oorl.data.test_translate.base import Emitter, c_escape, py_float, scalar, walk_value
from oorl.data.test_translate.errors import Untranslatable
from oorl.data.test_translate.pyside import Check, Problem


def top_type(v: Any, t: T.Type) -> T.Type:
    """A lone int where a float is declared stays an int (only container elements are coerced)."""
    if isinstance(v, int) and not isinstance(v, bool) and t.kind in ("float", "optional", "union", "any"):
        return T.INT
    return t


class Python(Emitter):
    code = "py"
    stop_tokens = ["\ndef", "\n#", "\nif", "\nclass"]

    def row(self, p: Problem) -> dict[str, Any]:  # Python keeps the problem's own prompt and tests
        raise NotImplementedError("Python rows are built from the raw problem (see __init__)")


class JavaScript(Emitter):
    code = "js"
    stop_tokens = ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]
    words = {"a list": "an array", "a tuple": "an array", "tuples": "arrays", "tuple": "array",
             "list": "array", "lists": "arrays", "List": "Array", "dictionary": "object",
             "dictionaries": "objects", "True": "true", "False": "false", "None": "undefined"}

    def value(self, v: Any, t: T.Type) -> str:
        def leaf(x, tt):
            return f'"{c_escape(x)}"' if isinstance(x, str) else scalar(x, tt)

        return walk_value(v, t, leaf, lambda items, _: "[" + ", ".join(items) + "]",
                          lambda pairs, _: "{" + ", ".join(f"{k}: {x}" for k, x in pairs) + "}", "undefined")

    def args(self, p: Problem, args: tuple) -> list[str]:
        return [self.value(a, top_type(a, t)) for a, (_, t) in zip(args, p.params)]

    def value_doc(self, p: Problem, v: Any) -> str:
        return self.value(v, top_type(v, p.returns))

    def check_types(self, p: Problem) -> None:
        super().check_types(p)
        if self.code == "js" and any(_has_newline(c.args) or _has_newline(c.expected) for c in p.checks):
            # MultiPL-E's JavaScript tests write such a string with a raw newline, which does not parse:
            # no program passes them, so a correct test here could only disagree with theirs
            raise Untranslatable("js: newline inside a test string (MultiPL-E's JS test of it does not parse)")

    def prompt(self, p: Problem) -> str:
        params = ", ".join(n for n, _ in p.params)
        return self.comments(p, first="") + f"function {p.entry_point}({params}){{\n"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"candidate({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, top_type(c.expected, p.returns))
        if c.tolerance is not None:
            return f"  assert.ok(Math.abs({call} - {want}) < {py_float(c.tolerance)});"
        return f"  assert.deepEqual({call},{want});"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return (f"const assert = require('node:assert');\n\n\nfunction test() {{\n  let candidate = {p.entry_point};\n"
                f"{body}\n}}\n\ntest();")


class Php(Emitter):
    code = "php"
    stop_tokens = ["\nfunction", "\n?>", "\n//", "\n#"]
    words = {"a list": "an array", "a tuple": "an array", "a dictionary": "an array", "tuples": "arrays",
             "tuple": "array", "list": "array", "lists": "arrays", "List": "Array", "dictionary": "array",
             "dictionaries": "arrays", "True": "true", "False": "false", "None": "null"}

    def value(self, v: Any, t: T.Type) -> str:
        def leaf(x, tt):
            # "$" is left as is, as MultiPL-E's PHP tests leave it (PHP then interpolates it)
            return f'"{c_escape(x)}"' if isinstance(x, str) else scalar(x, tt)

        return walk_value(v, t, leaf, lambda items, _: "array(" + ", ".join(items) + ")",
                          lambda pairs, _: "array(" + ", ".join(f"{k} => {x}" for k, x in pairs) + ")", "null")

    def args(self, p: Problem, args: tuple) -> list[str]:
        return [self.value(a, top_type(a, t)) for a, (_, t) in zip(args, p.params)]

    def value_doc(self, p: Problem, v: Any) -> str:
        return self.value(v, top_type(v, p.returns))

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"${n}" for n, _ in p.params)
        return "<?php\n" + self.comments(p) + f"function {p.entry_point}({params}) {{\n"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"candidate({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, top_type(c.expected, p.returns))
        fail = '{ throw new Exception("Test failed!"); }'
        if c.tolerance is not None:
            return f"    if (abs({call} - {want}) >= {py_float(c.tolerance)}) {fail}"
        return f"    if ({call} !== {want}) {fail}"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return (f"function candidate(...$args) {{\n    return {p.entry_point}(...$args);\n}}\n\n"
                f"function test(): void {{\n{body}\n}}\n\ntest();")


_SH_DESCRIBE = {"int": "an integer", "float": "a floating point", "str": "a string", "bool": "a boolean",
                "dict": "a two column CSV in key,value order"}


class Bash(Emitter):
    """Bash passes and returns every value as one string: a list as space-separated items, a list of
    lists as rows joined by a literal ``\\n``, a dict as ``key,value`` rows; None is ``None``."""

    code = "sh"
    comment = "#"
    stop_tokens = ["\n}"]
    words = {"dictionary": "CSV", "dictionaries": "CSVs"}

    def check_type(self, t: T.Type) -> None:
        depth = _depth(t)
        if depth > 2:
            raise Untranslatable("sh: nested containers")

    def flat(self, v: Any, t: T.Type) -> str:
        """The string the value is in Bash (before quoting)."""
        if t.kind == "optional":
            return "None" if v is None else self.flat(v, t.elem)
        if v is None:
            return "None"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return scalar(v, t)
        if isinstance(v, str):
            for ch in ("\\", '"', "`", "$", "!"):
                v = v.replace(ch, "\\" + ch)
            return v.replace("\n", "\\n")
        if isinstance(v, dict):
            kt, vt = t.args if t.kind == "dict" else T.of_value(v).args
            return "\\n".join(f"{self.flat(k, kt)},{self.flat(x, vt)}" for k, x in v.items())
        if isinstance(v, (list, tuple)):
            ets = (t.args if t.kind == "tuple" and len(t.args) == len(v)
                   else (t.elem,) * len(v) if t.kind == "list" else tuple(T.of_value(x) for x in v))
            nested = any(et.kind in ("list", "tuple", "dict") for et in ets)
            sep = "\\n" if nested else " "
            return sep.join(self.flat(x, et) for x, et in zip(v, ets))
        raise Untranslatable(f"value of type {type(v).__name__}")

    def value(self, v: Any, t: T.Type) -> str:
        return f'"{self.flat(v, t)}"'

    def args(self, p: Problem, args: tuple) -> list[str]:
        return [self.value(a, top_type(a, t)) for a, (_, t) in zip(args, p.params)]

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"$({' '.join([p.entry_point, *self.args(p, args)])})"

    def value_doc(self, p: Problem, v: Any) -> str:
        return self.value(v, top_type(v, p.returns))

    def describe(self, t: T.Type) -> str:
        if t.kind == "optional":
            return self.describe(t.elem)
        if t.kind in ("list", "tuple"):
            return "a newline-separated, space-separated list" if _depth(t) > 1 else "a space-separated list"
        return _SH_DESCRIBE.get(t.kind, "an argument")

    def prompt(self, p: Problem) -> str:
        lines = "".join(f"# ${i} is {self.describe(t)}\n" for i, (_, t) in enumerate(p.params, 1))
        return "#!/bin/bash\n" + self.comments(p) + "#\n" + lines + f"{p.entry_point}() {{\n"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"$(candidate {' '.join(self.args(p, c.args))})".replace("candidate )", "candidate)")
        want = self.value(c.expected, top_type(c.expected, p.returns))
        if c.tolerance is not None:
            return (f"    [[ $(awk -v a=\"{call}\" -v b={want} -v t={py_float(c.tolerance)} "
                    f"'BEGIN {{ d = a - b; if (d < 0) d = -d; print (d < t) ? \"ok\" : \"no\" }}') = \"ok\" ]]")
        return f"    [[ {call} = {want} ]]"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return (f"}}\n\ncandidate() {{\n    {p.entry_point} \"$@\"\n}}\n\nset -e\nrun_test() {{\n{body}\n}}\n\n"
                f"run_test")


def _depth(t: T.Type) -> int:
    if t.kind in ("list", "tuple", "dict"):
        return 1 + max((_depth(a) for a in t.args), default=0)
    if t.kind in ("optional", "union"):
        return max((_depth(a) for a in t.args), default=0)
    return 0


def _has_newline(v: Any) -> bool:
    if isinstance(v, str):
        return "\n" in v
    if isinstance(v, (list, tuple)):
        return any(_has_newline(x) for x in v)
    if isinstance(v, dict):
        return any(_has_newline(k) or _has_newline(x) for k, x in v.items())
    return False
