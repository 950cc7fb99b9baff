"""Emitters for TypeScript, C++, Java and C#: MultiPL-E's signatures (C++ ``long``/``float``/
``std::vector``/``std::tuple``/``std::optional``/``std::map``; Java ``long``/``float``/``ArrayList``/
javatuples ``Pair``/``Optional``/``HashMap`` in ``class Problem`` with camelCase names; C#
``long``/``float``/``List``/``Tuple``/``Dictionary`` with PascalCase names). Unions, ``Any`` and
element types no test pins down are untranslatable in C++, Java and C#."""

from __future__ import annotations

from typing import Any

from oorl.data.test_translate import types as T
from oorl.data.test_translate.base import Emitter, c_escape, py_float, scalar
from oorl.data.test_translate.dynamic import JavaScript
from oorl.data.test_translate.errors import Untranslatable
from oorl.data.test_translate.pyside import Check, Problem


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def pascal(name: str) -> str:
    """MultiPL-E's C# names: each ``_`` part capitalised (``minSubArraySum`` -> ``Minsubarraysum``)."""
    return "".join(p.capitalize() for p in name.split("_"))


FLOAT32_TOLERANCE = 1e-5  # float carries ~7 digits: a Python tolerance below this is raised to it


def f32_tol(tol: float) -> str:
    return py_float(max(tol, FLOAT32_TOLERANCE))


def _strict(t: T.Type, what: str) -> None:
    if t.kind in ("union", "any"):
        raise Untranslatable(f"{what}: union or Any type")
    if t.kind == "unknown":
        raise Untranslatable(f"{what}: element type unknown")
    if t.kind == "none":
        raise Untranslatable(f"{what}: None-only type")
    for a in t.args:
        _strict(a, what)


class TypeScript(JavaScript):
    code = "ts"

    def ts_type(self, t: T.Type) -> str:
        k = t.kind
        if k in ("int", "float"):
            return "number"
        if k in ("str", "bool"):
            return {"str": "string", "bool": "boolean"}[k]
        if k == "none":
            return "undefined"
        if k in ("any", "unknown"):
            return "any"
        if k == "list":
            inner = self.ts_type(t.elem)
            return f"({inner})[]" if "|" in inner else f"{inner}[]"
        if k == "tuple":
            return "[" + ", ".join(self.ts_type(a) for a in t.args) + "]"
        if k == "dict":
            key = "number" if t.args[0].kind in ("int", "float") else "string"
            return f"{{[key: {key}]: {self.ts_type(t.args[1])}}}"
        if k == "optional":
            return f"{self.ts_type(t.elem)} | undefined"
        return " | ".join(self.ts_type(a) for a in t.args)

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{n}: {self.ts_type(t)}" for n, t in p.params)
        return self.comments(p, first="") + f"function {p.entry_point}({params}): {self.ts_type(p.returns)} {{\n"

    def tests(self, p: Problem) -> str:
        return "declare var require: any;\n" + super().tests(p)


class Cpp(Emitter):
    code = "cpp"
    stop_tokens = ["\n}"]
    renames = {"operator": "op"}

    def check_type(self, t: T.Type) -> None:
        _strict(t, "cpp")

    def ctype(self, t: T.Type) -> str:
        k = t.kind
        simple = {"int": "long", "float": "float", "str": "std::string", "bool": "bool"}
        if k in simple:
            return simple[k]
        if k == "list":
            return f"std::vector<{self.ctype(t.elem)}>"
        if k == "tuple":
            return f"std::tuple<{', '.join(self.ctype(a) for a in t.args)}>"
        if k == "dict":
            return f"std::map<{self.ctype(t.args[0])},{self.ctype(t.args[1])}>"
        if k == "optional":
            return f"std::optional<{self.ctype(t.elem)}>"
        raise Untranslatable(f"cpp: type {t}")

    def value(self, v: Any, t: T.Type) -> str:
        k = t.kind
        if k == "optional":
            return "std::nullopt" if v is None else f"{self.ctype(t)}({self.value(v, t.elem)})"
        if k == "str":
            return f'"{c_escape(v)}"'
        if k == "float":
            return py_float(float(v)) + "f"
        if k in ("int", "bool"):
            return scalar(v, t)
        if k == "list":
            if not v:
                return f"{self.ctype(t)}()"
            return f"{self.ctype(t)}({{{', '.join(f'({self.ctype(t.elem)}){self.value(x, t.elem)}' for x in v)}}})"
        if k == "tuple":
            return f"std::make_tuple({', '.join(self.value(x, a) for x, a in zip(v, t.args))})"
        if k == "dict":
            kt, vt = t.args
            return f"{self.ctype(t)}({{{', '.join('{' + self.value(a, kt) + ', ' + self.value(b, vt) + '}' for a, b in v.items())}}})"
        raise Untranslatable(f"cpp: value {v!r}")

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{self.ctype(t)} {self.renames.get(n, n)}" for n, t in p.params)
        return ("#include<assert.h>\n#include<bits/stdc++.h>\n" + self.comments(p)
                + f"{self.ctype(p.returns)} {self.fname(p)}({params}) {{\n")

    def fname(self, p: Problem) -> str:
        return {"strlen": "string_length"}.get(p.entry_point, p.entry_point)

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"{self.fname(p)}({', '.join(self.args(p, args))})"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"candidate({', '.join(self.value(a, t) for a, (_, t) in zip(c.args, p.params))})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"    assert(std::abs({call} - {want}) < {f32_tol(c.tolerance)});"
        return f"    assert({call} == ({want}));"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return f"}}\nint main() {{\n    auto candidate = {self.fname(p)};\n{body}\n}}\n"


_JAVA_BOX = {"int": "Long", "float": "Float", "str": "String", "bool": "Boolean"}
_JAVA_TUPLES = {2: "Pair", 3: "Triplet", 4: "Quartet", 5: "Quintet"}
JAVA_HEADER = ("import java.util.*;\nimport java.lang.reflect.*;\nimport org.javatuples.*;\nimport java.security.*;\n"
               "import java.math.*;\nimport java.io.*;\nimport java.util.stream.*;\n")


class Java(Emitter):
    code = "java"
    comment = "    //"
    renames = {"operator": "op"}
    stop_tokens = ["\n    }\n"]

    def check_type(self, t: T.Type) -> None:
        _strict(t, "java")
        if t.kind == "tuple" and len(t.args) not in _JAVA_TUPLES:
            raise Untranslatable("java: tuple size")

    def jtype(self, t: T.Type, boxed: bool = False) -> str:
        k = t.kind
        if k in _JAVA_BOX:
            return _JAVA_BOX[k] if boxed or k == "str" else {"int": "long", "float": "float", "bool": "boolean"}[k]
        if k == "list":
            return f"ArrayList<{self.jtype(t.elem, True)}>"
        if k == "tuple":
            return f"{_JAVA_TUPLES[len(t.args)]}<{', '.join(self.jtype(a, True) for a in t.args)}>"
        if k == "dict":
            return f"HashMap<{self.jtype(t.args[0], True)},{self.jtype(t.args[1], True)}>"
        if k == "optional":
            return f"Optional<{self.jtype(t.elem, True)}>"
        raise Untranslatable(f"java: type {t}")

    def value(self, v: Any, t: T.Type) -> str:
        k = t.kind
        if k == "optional":
            return "Optional.empty()" if v is None else f"Optional.of({self.value(v, t.elem)})"
        if k == "str":
            return f'"{c_escape(v)}"'
        if k == "float":
            return py_float(float(v)) + "f"
        if k == "int":
            return f"{int(v)}l"
        if k == "bool":
            return scalar(v, t)
        if k == "list":
            items = ", ".join(self.value(x, t.elem) for x in v)
            return f"new {self.jtype(t)}(Arrays.asList({items}))"
        if k == "tuple":
            return f"{_JAVA_TUPLES[len(t.args)]}.with({', '.join(self.value(x, a) for x, a in zip(v, t.args))})"
        if k == "dict":
            kt, vt = t.args
            pairs = ", ".join(f"Map.entry({self.value(a, kt)}, {self.value(b, vt)})" for a, b in v.items())
            return f"new {self.jtype(t)}(Map.ofEntries({pairs}))"
        raise Untranslatable(f"java: value {v!r}")

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{self.jtype(t)} {self.renames.get(n, n)}" for n, t in p.params)
        doc = self.comments(p)
        return (JAVA_HEADER + "class Problem {\n" + doc
                + f"    public static {self.jtype(p.returns)} {camel(p.entry_point)}({params}) {{\n")

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"{camel(p.entry_point)}({', '.join(self.args(p, args))})"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"{camel(p.entry_point)}({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"    assert(Math.abs({call} - {want}) < {f32_tol(c.tolerance)});"
        if p.returns.kind in ("int", "float", "bool"):
            return f"    assert({call} == ({want}));"
        return f"    assert({call}.equals({want}));"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return f"    }}\n    public static void main(String[] args) {{\n{body}\n    }}\n\n}}\n"


CS_HEADER = ("using System;\nusing System.Numerics;\nusing System.Diagnostics;\nusing System.Collections.Generic;\n"
             "using System.Linq;\nusing System.Text;\nusing System.Security.Cryptography;\n")


class CSharp(Emitter):
    """Unlike MultiPL-E's C# tests (``Debug.Assert(x.Equals(y))``, reference equality on lists), lists,
    tuples and dictionaries are compared by content."""

    code = "cs"
    comment = "    //"
    renames = {"operator": "op", "string": "str", "base": "numBase", "decimal": "decimalNum"}
    stop_tokens = ["\n    }\n"]

    def check_type(self, t: T.Type) -> None:
        _strict(t, "cs")

    def cstype(self, t: T.Type) -> str:
        k = t.kind
        simple = {"int": "long", "float": "float", "str": "string", "bool": "bool"}
        if k in simple:
            return simple[k]
        if k == "list":
            return f"List<{self.cstype(t.elem)}>"
        if k == "tuple":
            return f"Tuple<{', '.join(self.cstype(a) for a in t.args)}>"
        if k == "dict":
            return f"Dictionary<{self.cstype(t.args[0])},{self.cstype(t.args[1])}>"
        if k == "optional":
            inner = self.cstype(t.elem)
            return inner if t.elem.kind in ("str", "list", "dict", "tuple") else f"Nullable<{inner}>"
        raise Untranslatable(f"cs: type {t}")

    def value(self, v: Any, t: T.Type) -> str:
        k = t.kind
        if k == "optional":
            return f"({self.cstype(t)})null" if v is None else self.value(v, t.elem)
        if k == "str":
            return f'"{c_escape(v)}"'
        if k == "float":
            return py_float(float(v)) + "f"
        if k == "int":
            return f"{int(v)}L"
        if k == "bool":
            return scalar(v, t)
        if k == "list":
            if not v:
                return f"new {self.cstype(t)}()"
            items = ", ".join(self.value(x, t.elem) for x in v)
            return f"new {self.cstype(t)}(new {self.cstype(t.elem)}[]{{{items}}})"
        if k == "tuple":
            return f"Tuple.Create({', '.join(self.value(x, a) for x, a in zip(v, t.args))})"
        if k == "dict":
            kt, vt = t.args
            pairs = ", ".join(f"{{{self.value(a, kt)}, {self.value(b, vt)}}}" for a, b in v.items())
            return f"new {self.cstype(t)}(){{{pairs}}}"
        raise Untranslatable(f"cs: value {v!r}")

    def prompt(self, p: Problem) -> str:
        params = ", ".join(f"{self.cstype(t)} {self.renames.get(n, n)}" for n, t in p.params)
        return (CS_HEADER + "class Problem {\n" + self.comments(p)
                + f"    public static {self.cstype(p.returns)} {pascal(p.entry_point)}({params}) {{\n")

    def call_doc(self, p: Problem, args: tuple) -> str:
        return f"{pascal(p.entry_point)}({', '.join(self.args(p, args))})"

    def assertion(self, p: Problem, c: Check) -> str:
        call = f"{pascal(p.entry_point)}({', '.join(self.args(p, c.args))})"
        want = self.value(c.expected, p.returns)
        if c.tolerance is not None:
            return f"    Debug.Assert(Math.Abs({call} - {want}) < {f32_tol(c.tolerance)});"
        return f"    Debug.Assert(OorlSame({call}, {want}));"

    def tests(self, p: Problem) -> str:
        body = "\n".join(self.assertion(p, c) for c in p.checks)
        return ("    }\n" + _CS_SAME + f"    public static void Main(string[] args) {{\n{body}\n    }}\n\n}}\n")


_CS_SAME = """    static bool OorlSame(object a, object b) {
        if (a == null || b == null) return a == null && b == null;
        if (a is string || b is string) return a.Equals(b);
        if (a is System.Collections.IDictionary da && b is System.Collections.IDictionary db) {
            if (da.Count != db.Count) return false;
            foreach (System.Collections.DictionaryEntry e in da) {
                if (!db.Contains(e.Key) || !OorlSame(e.Value, db[e.Key])) return false;
            }
            return true;
        }
        if (a is System.Collections.IEnumerable ea && b is System.Collections.IEnumerable eb) {
            var la = ea.Cast<object>().ToList(); var lb = eb.Cast<object>().ToList();
            return la.Count == lb.Count && la.Zip(lb, (x, y) => OorlSame(x, y)).All(s => s);
        }
        if (a is System.Runtime.CompilerServices.ITuple ta && b is System.Runtime.CompilerServices.ITuple tb) {
            if (ta.Length != tb.Length) return false;
            for (int i = 0; i < ta.Length; i++) if (!OorlSame(ta[i], tb[i])) return false;
            return true;
        }
        return a.Equals(b);
    }
"""


TYPED_EMITTERS = (TypeScript(), Cpp(), Java(), CSharp())
