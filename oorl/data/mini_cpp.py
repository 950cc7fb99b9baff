"""Small C++ functions with tests: built-in C/C++ problems for IR groups that a 135M model can train on
with 2 CPU cores (``oorl data mini-cpp --out FILE``, then ``oorl data ir-groups --problems FILE``).

They are the integer families of :mod:`oorl.data.mini_programs` (``add_7``, ``clamp_12``...) written in
C++ with ``long`` arithmetic, the same constants and the same test inputs and expected values (read
back from the Python problems' ``assert candidate(...) == ...`` lines). Their IRs are a few dozen lines
(HumanEval-X's C++ uses the standard library, whose inlined templates make most of its IRs thousands
of tokens long). Each row is the IR-group builder's generic layout: ``id``, ``code``, ``test_program`` (a
C++ file declaring the function and asserting the tests in ``main``), plus ``family``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from oorl.data.mini_programs import generate_problems

# family -> (C++ parameter list, return type, body); {name} and {k} are filled per problem
CPP = {
    "add": ("long x", "long", "    return x + {k};"),
    "times": ("long x", "long", "    return x * {k};"),
    "affine": ("long x", "long", "    return {k} * x + 1;"),
    "max2": ("long a, long b", "long", "    if (a > b)\n        return a + {k};\n    return b + {k};"),
    "min2": ("long a, long b", "long", "    if (a < b)\n        return a - {k};\n    return b - {k};"),
    "absdiff": ("long a, long b", "long", "    long d = a > b ? a - b : b - a;\n    return d * {k};"),
    "multiple": ("long n", "bool", "    return n % {k} == 0;"),
    "clamp": ("long x", "long", "    if (x < -{k})\n        return -{k};\n    if (x > {k})\n        return {k};\n    return x;"),
    "power": ("long n", "long",
              "    long total = {k};\n    for (long i = 1; i <= n; i++)\n        total += i * i;\n    return total;"),
}


def _literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}L"
    raise ValueError(f"no C++ literal for {v!r}")


def _cases(test: str) -> list[tuple[tuple, object]]:
    out = []
    for node in ast.walk(ast.parse(test)):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            call, expected = node.test.left, node.test.comparators[0]
            out.append((tuple(ast.literal_eval(a) for a in call.args), ast.literal_eval(expected)))
    return out


def mini_cpp_problems(seed: int = 0, per_family: int = 12, families: list[str] | None = None) -> list[dict]:
    names = [f for f in CPP if families is None or f in families]
    unknown = sorted(set(families or ()) - set(CPP))
    if unknown:
        raise ValueError(f"no C++ version of families {unknown} (known: {', '.join(CPP)})")
    rows = []
    for p in generate_problems("all", seed=seed, per_family=per_family, families=names):
        params, ret, body = CPP[p["family"]]
        k = int(p["entry_point"].rsplit("_", 1)[1])
        name = p["entry_point"]
        code = f"{ret} {name}({params}) {{\n{body.format(k=k)}\n}}\n"
        checks = "\n".join(f"    assert({name}({', '.join(_literal(a) for a in args)}) == {_literal(want)});"
                           for args, want in _cases(p["test"]))
        test_program = f"#include <cassert>\n\n{ret} {name}({params});\n\nint main() {{\n{checks}\n    return 0;\n}}\n"
        rows.append({"id": f"MiniCpp/{name}", "code": code, "test_program": test_program, "family": p["family"]})
    return rows


def write_mini_cpp(out: Path, seed: int = 0, per_family: int = 12) -> int:
    rows = mini_cpp_problems(seed, per_family)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)
