"""Emitters for Go, Rust and SWI-Prolog (MultiPL-E's files here have none of them; the layout is
the same: prompt to complete, tests appended).

Go: ``package main``, Python's function name, ``int``/``float64``/``string``/``[]T``/``map[K]V``;
results compared by their ``%v`` text (so an empty and a nil slice agree). Rust: ``isize``/``f64``/
``String``/``Vec<T>``/tuples/``HashMap``/``Option``, ``assert_eq!`` in ``main``. Prolog: a predicate
with the result as its last argument; each test a goal (strings compared through ``atom_string``, so
an atom or a string answer both do; numbers with ``=:=``; dicts as ``Key-Value`` lists; None as
``none``)."""

from __future__ import annotations

from typing import Any

from oorl.data.test_translate import types as T
from oorl.data.test_translate.base import Emitter, c_escape, py_float, scalar
from oorl.data.test_translate.errors import Untranslatable
from oorl.data.test_translate.pyside import Check, Problem
from oorl.data.test_translate.typed import _strict

_GO_KEYWORDS = {"func", "type", "string", "map", "range", "select", "chan", "go", "var", "interface", "package",
                "default", "defer", "fallthrough", "import", "struct", "len", "cap", "new", "make", "copy"}


class Go(Emitter):
    code = "go"
    stop_tokens = ["\nfunc", "struct", "\n// "]

    def check_type(self, t: T.Type) -> None:
        _strict(t, "go")
        if t.kind == "optional":
            raise Untranslatable("go: optional type")
        if t.kind == "tuple" and len(set(t.args)) > 1:
            raise Untranslatable("go: tuple of mixed types")
        for a in t.args:
            self.check_type(a)

    def gotype(self, t: T.Type) -> str:
        k = t.kind
        simple = {"int": "int", "float": "float64", "str": "string", "bool": "bool"}
        if k in simple:
            return simple[k]
        if k == "list":
            return "[]" + self.gotype(t.elem)
        if k == "tuple":
            return "[]" + self.gotype(t.args[0])
        if k == "dict":
            return f"map[{self.gotype(t.args[0])}]{self.gotype(t.args[1])}"
        raise Untranslatable(f"go: type {t}")

    def value(self, v: Any, t: T.Type) -> str:
        k = t.kind
        if k == "str":
            return f'"{c_escape(v)}"'
        if k == "float":
            return py_float(float(v))
        if k in ("int", "bool"):
            return scalar(v, t)
        if k in ("list", "tuple"):
            et = t.elem if k == "list" else t.args[0]
            return f"{self.gotype(t)}{{{', '.join(self.value(x, et) for x in v)}}}"
        if k == "dict":
            kt, vt = t.args
            return f"{self.gotype(t)}{{{', '.join(f'{self.value(a, kt)}: {self.value(b, vt)}' for a, b in v.items())}}}"
        raise Untranslatable(f"go: value {v!r}")

    def pname(self, n: str) -> str:
        return n + "_" if n in _GO_KEYWORDS else n

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{self.pname(n)} {self.gotype(t)}" for n, t in p.params)
        imports = (('    "fmt"\n' if any(c.tolerance is None for c in p.checks) else "")
                   + ('    "math"\n' if any(c.tolerance is not None for c in p.checks) else ""))
        return (f"package main\n\nimport (\n{imports})\n\n" + self.comments(p)
                + f"func {p.entry_point}({params}) {self.gotype(p.returns)} {{\n")

    def assertion(self, i: int, p: Problem, c: Check) -> str:
        call = f"candidate({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"    if math.Abs({call} - {want}) >= {py_float(c.tolerance)} {{ panic(\"test {i} failed\") }}"
        return (f"    if got, want := fmt.Sprintf(\"%v\", {call}), fmt.Sprintf(\"%v\", {want}); got != want "
                f"{{ panic(\"test {i} failed: got \" + got + \", want \" + want) }}")

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(i, p, c) for i, c in enumerate(p.checks, 1))
        return f"}}\n\nfunc main() {{\n    candidate := {p.entry_point}\n{body}\n}}\n"


_RUST_KEYWORDS = {"type", "match", "fn", "let", "mut", "ref", "move", "impl", "trait", "loop", "use", "mod",
                  "crate", "self", "super", "struct", "enum", "where", "in", "as", "box", "dyn"}


class Rust(Emitter):
    code = "rs"
    stop_tokens = ["\n}"]

    def check_type(self, t: T.Type) -> None:
        _strict(t, "rs")

    def rtype(self, t: T.Type) -> str:
        k = t.kind
        simple = {"int": "isize", "float": "f64", "str": "String", "bool": "bool"}
        if k in simple:
            return simple[k]
        if k == "list":
            return f"Vec<{self.rtype(t.elem)}>"
        if k == "tuple":
            return "(" + ", ".join(self.rtype(a) for a in t.args) + ("," if len(t.args) == 1 else "") + ")"
        if k == "dict":
            return f"HashMap<{self.rtype(t.args[0])}, {self.rtype(t.args[1])}>"
        if k == "optional":
            return f"Option<{self.rtype(t.elem)}>"
        raise Untranslatable(f"rs: type {t}")

    def value(self, v: Any, t: T.Type) -> str:
        k = t.kind
        if k == "optional":
            return "None" if v is None else f"Some({self.value(v, t.elem)})"
        if k == "str":
            return f'String::from("{c_escape(v)}")'
        if k == "float":
            return py_float(float(v))
        if k in ("int", "bool"):
            return scalar(v, t)
        if k == "list":
            if not v:  # vec![] alone leaves the element type to infer, which assert_eq! cannot
                return f"Vec::<{self.rtype(t.elem)}>::new()"
            return f"vec![{', '.join(self.value(x, t.elem) for x in v)}]"
        if k == "tuple":
            return "(" + ", ".join(self.value(x, a) for x, a in zip(v, t.args)) + ("," if len(v) == 1 else "") + ")"
        if k == "dict":
            kt, vt = t.args
            items = ", ".join(f"({self.value(a, kt)}, {self.value(b, vt)})" for a, b in v.items())
            return f"HashMap::<{self.rtype(kt)}, {self.rtype(vt)}>::from([{items}])"
        raise Untranslatable(f"rs: value {v!r}")

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{n + '_' if n in _RUST_KEYWORDS else n}: {self.rtype(t)}" for n, t in p.params)
        uses = "use std::collections::HashMap;\n\n" if "HashMap" in self.tests(p) else ""
        return uses + self.comments(p) + f"fn {p.entry_point}({params}) -> {self.rtype(p.returns)} {{\n"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"candidate({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"    assert!(({call} - {want}).abs() < {py_float(c.tolerance)});"
        return f"    assert_eq!({call}, {want});"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return f"}}\n\nfn main() {{\n    let candidate = {p.entry_point};\n{body}\n}}\n"


def _pl_var(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "X"


class Prolog(Emitter):
    code = "prolog"
    comment = "%"
    stop_tokens = ["\n\n\n"]
    words = {"list": "list", "True": "true", "False": "false", "None": "none"}

    def value(self, v: Any, t: T.Type) -> str:
        if v is None:
            return "none"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return scalar(v, t if t.kind in ("int", "float") else T.of_value(v))
        if isinstance(v, str):
            return f'"{c_escape(v)}"'
        inner = t.elem if t.kind == "optional" else t
        if isinstance(v, dict):
            kt, vt = inner.args if inner.kind == "dict" else T.of_value(v).args
            return "[" + ", ".join(f"{self.value(a, kt)}-{self.value(b, vt)}" for a, b in v.items()) + "]"
        if isinstance(v, (list, tuple)):
            ets = (inner.args if inner.kind == "tuple" and len(inner.args) == len(v)
                   else (inner.elem,) * len(v) if inner.kind == "list" else tuple(T.of_value(x) for x in v))
            return "[" + ", ".join(self.value(x, et) for x, et in zip(v, ets)) + "]"
        raise Untranslatable(f"prolog: value {v!r}")

    def signature(self, p: Problem) -> str:
        names = [_pl_var(n) for n, _ in p.params]
        result = "Result" if "Result" not in names else "Result0"
        return f"{p.entry_point}({', '.join([*names, result])})"

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"{p.entry_point}({', '.join([*self.args(p, args), 'R'])})"

    def prompt(self, p: Problem) -> str:
        sig = self.signature(p)
        modes = sig.replace("(", "(+", 1).replace(", ", ", +")
        head, _, last = modes.rpartition("+")
        return self.comments(p) + f"% {head}-{last}\n{sig} :-\n"

    def assertion(self, p: Problem, c: Check) -> str:
        goal = f"{p.entry_point}({', '.join([*self.args(p, c.args), 'R'])})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"{goal}, abs(R - {want}) < {py_float(c.tolerance)}."
        if isinstance(c.expected, bool) or c.expected is None:
            return f"{goal}, R == {want}."
        if isinstance(c.expected, (int, float)):
            return f"{goal}, number(R), R =:= {want}."
        if isinstance(c.expected, str):
            return f"{goal}, atom_string(R, S), S == {want}."
        return f"{goal}, R == {want}."

    def tests(self, p: Problem) -> str:
        return "\n".join(self.assertion(p, c) for c in p.checks) + "\n"


OTHER_EMITTERS = (Go(), Rust(), Prolog())
