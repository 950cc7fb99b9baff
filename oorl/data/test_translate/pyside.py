"""The Python side: a HumanEval-style problem -> ``Problem``, a small IR of the function's signature
(types from its annotations, filled in from the test values) and its checks (arguments, expected
value, tolerance), all as plain Python values.

How the checks are read: the ``check`` function's AST is rewritten so that every ``assert`` about
the candidate (``candidate(a) == e``, ``not candidate(a)``, ``candidate(a)``, ``abs(candidate(a) - e)
< tol``, ``math.isclose(candidate(a), e)``, ``tuple(candidate(a)) == tuple(e)``) records its
arguments and expected value instead, and the rewritten function is run next to the problem's
prompt and canonical solution (so loops, local variables and arithmetic in the tests become
concrete values; ``random`` is seeded). Any other use of the candidate makes the problem
untranslatable. Each recorded check is then confirmed against the canonical solution when the row
has one. Left out, as MultiPL-E's tests leave them out: assertions that compare the candidate with
the function's own name (``candidate(x) == sort_third(x)``: in HumanEval that name is the answer's
function, so they test nothing), and checks on random inputs drawn in a loop when fixed ones exist.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import math
import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

from oorl.data.test_translate import types as T
from oorl.data.test_translate.errors import Untranslatable

RUN_SECONDS = 10.0  # a problem's check (run in Python once, to read its values) gets this long
_REC = "__oorl_record__"


@dataclass
class Check:
    args: tuple
    expected: Any
    tolerance: float | None = None  # None: exact equality


@dataclass
class Problem:
    number: str
    entry_point: str
    params: list[tuple[str, T.Type]]
    returns: T.Type
    docstring: str
    checks: list[Check]
    prompt: str  # the Python prompt as given
    helpers: list[str] = field(default_factory=list)  # other functions the prompt defines

    @property
    def name(self) -> str:
        return f"HumanEval_{self.number}_{self.entry_point}"


def _entry_point(row: dict) -> str:
    if row.get("entry_point"):
        return str(row["entry_point"])
    try:  # HumanEval-X's rows: the test ends with check(<name>)
        for node in reversed(ast.parse(row["test"]).body):
            if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                    and getattr(node.value.func, "id", "") == "check" and node.value.args):
                return ast.unparse(node.value.args[0])
    except SyntaxError:
        pass
    try:
        defs = [n.name for n in ast.parse(row["prompt"] + "\n    pass\n").body if isinstance(n, ast.FunctionDef)]
    except SyntaxError:
        defs = [n.name for n in ast.parse(row["prompt"]).body if isinstance(n, ast.FunctionDef)]
    if not defs:
        raise Untranslatable("no function in the prompt")
    return defs[-1]


def parse_problem(row: dict) -> Problem:
    entry = _entry_point(row)
    number = str(row["task_id"]).rpartition("/")[2].strip()
    try:
        try:
            prompt_ast = ast.parse(row["prompt"])
        except SyntaxError:  # a prompt that ends at the signature (no docstring)
            prompt_ast = ast.parse(row["prompt"] + "    pass\n")
        test_ast = ast.parse(row["test"])
    except SyntaxError as e:
        raise Untranslatable(f"Python syntax error ({e.msg})") from None
    funcs = [n for n in prompt_ast.body if isinstance(n, ast.FunctionDef)]
    fn = next((f for f in reversed(funcs) if f.name == entry), None)
    if fn is None:
        raise Untranslatable("entry point not defined in the prompt")
    a = fn.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise Untranslatable("parameters with defaults or varargs")
    helpers = [f.name for f in funcs if f.name != entry]
    used = {n.id for n in ast.walk(test_ast) if isinstance(n, ast.Name)}
    if set(helpers) & used:
        raise Untranslatable("tests use a helper function of the prompt")
    declared = [(p.arg, T.from_annotation(p.annotation)) for p in a.args]
    ret_declared = T.from_annotation(fn.returns)
    checks = _run_checks(row, entry, test_ast)
    if not checks:
        raise Untranslatable("no assertion on the candidate")
    if any(len(c.args) != len(declared) for c in checks):
        raise Untranslatable("call with a different number of arguments")
    checks = _drop_empty_misfits(checks, declared)
    params = []
    for i, (pname, ptype) in enumerate(declared):
        seen = T.unify_all([T.of_value(c.args[i]) for c in checks])
        params.append((pname, T.refine(ptype, seen)))
    seen_ret = T.unify_all([T.of_value(c.expected) for c in checks])
    if ret_declared is None:
        seen_ret = _int_if_integral(seen_ret, [c.expected for c in checks])
    returns = T.refine(ret_declared, seen_ret)
    if ret_declared is not None and ret_declared.kind not in ("bool", "any", "union") \
            and any(isinstance(c.expected, bool) for c in checks):
        raise Untranslatable("truth-value assertion on a non-bool result")
    params = [(n, _str_keys(t)) for n, t in params]
    returns = _str_keys(returns)
    checks = [Check(tuple(_conform(a, t) for a, (_, t) in zip(c.args, params)), _conform(c.expected, returns),
                    c.tolerance) for c in checks]
    doc = ast.get_docstring(fn, clean=True) or ""
    return Problem(number, entry, params, returns, doc, checks, row["prompt"], helpers)


def _drop_empty_misfits(checks: list[Check], declared: list) -> list[Check]:
    """Checks that pass an empty list where every other check passes a scalar of one type (HumanEval's
    ``hex_key([])``) are left out, as a typed signature cannot take both (MultiPL-E leaves them out)."""
    keep = list(checks)
    for i, (_, ptype) in enumerate(declared):
        if ptype is not None:
            continue
        kinds = {T.of_value(c.args[i]).kind for c in keep if c.args[i] not in ([], (), {})}
        if len(kinds) == 1 and kinds <= {"str", "int", "float"}:
            keep = [c for c in keep if c.args[i] not in ([], (), {})]
    return keep


def _str_keys(t: T.Type) -> T.Type:
    """A dict whose keys are strings and ints (HumanEval's ``{"a": 1, 5: 2}``) is read as str-keyed."""
    if t.kind == "dict" and t.args[0] == T.union([T.STR, T.INT]):
        return T.Type("dict", (T.STR, _str_keys(t.args[1])))
    return T.Type(t.kind, tuple(_str_keys(a) for a in t.args))


def _conform(v: Any, t: T.Type) -> Any:
    """``v`` with dict keys turned into strings where the type says str."""
    if isinstance(v, dict) and t.kind == "dict":
        kt, vt = t.args
        return {(str(k) if kt.kind == "str" and not isinstance(k, str) else k): _conform(x, vt) for k, x in v.items()}
    if isinstance(v, list) and t.kind == "list":
        return [_conform(x, t.elem) for x in v]
    if isinstance(v, tuple) and t.kind == "tuple" and len(t.args) == len(v):
        return tuple(_conform(x, a) for x, a in zip(v, t.args))
    if t.kind == "optional" and v is not None:
        return _conform(v, t.elem)
    return v


def _floats(v: Any) -> list[float]:
    if isinstance(v, float):
        return [v]
    if isinstance(v, (list, tuple)):
        return [f for x in v for f in _floats(x)]
    if isinstance(v, dict):
        return [f for x in v.values() for f in _floats(x)]
    return []


def _ints(v: Any) -> bool:
    if isinstance(v, int) and not isinstance(v, bool):
        return True
    if isinstance(v, (list, tuple)):
        return any(_ints(x) for x in v)
    return isinstance(v, dict) and any(_ints(x) for x in v.values())


def _int_if_integral(t: T.Type, values: list) -> T.Type:
    """An unannotated result that mixes ints with floats that are all whole numbers (``tri``: [1, 3,
    2.0, 8.0]) is read as ints, the type its values mean."""
    floats = [f for v in values for f in _floats(v)]
    if not floats or not all(f.is_integer() for f in floats) or not any(_ints(v) for v in values):
        return t

    def down(u: T.Type) -> T.Type:
        return T.INT if u.kind == "float" else T.Type(u.kind, tuple(down(a) for a in u.args))

    return down(t)


# -- reading the checks ----------------------------------------------------------------------------

def _is_call(node: ast.expr, cand: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == cand


def _unwrap_call(node: ast.expr, cand: str) -> ast.Call | None:
    """The candidate call in ``node`` (``candidate(...)``, or inside ``tuple()``/``list()``)."""
    if _is_call(node, cand):
        if node.keywords or any(isinstance(x, ast.Starred) for x in node.args):
            raise Untranslatable("candidate called with keyword or starred arguments")
        return node
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tuple", "list")
            and len(node.args) == 1 and not node.keywords and _is_call(node.args[0], cand)):
        return _unwrap_call(node.args[0], cand)
    return None


def _mentions(node: ast.AST, cand: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == cand for n in ast.walk(node))


def _record(call: ast.Call, expected: ast.expr, tol: ast.expr | None) -> ast.expr:
    return ast.Call(ast.Name(_REC, ast.Load()),
                    [ast.Tuple(list(call.args), ast.Load()), expected, tol or ast.Constant(None)], [])


def _classify(test: ast.expr, cand: str) -> ast.expr:
    """The recording call that replaces ``assert test``."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, (ast.Eq, ast.Is)):
            for a, b in ((left, right), (right, left)):
                call = _unwrap_call(a, cand)
                if call is not None and not _mentions(b, cand):
                    if call is not a:  # tuple(candidate(x)) == tuple(e): compared as sequences
                        b = ast.Call(ast.Name("list", ast.Load()), [b], [])
                    return _record(call, b, None)
        if isinstance(op, (ast.Lt, ast.LtE)) and not _mentions(right, cand):
            diff = _abs_arg(left)
            if isinstance(diff, ast.BinOp) and isinstance(diff.op, ast.Sub):
                for a, b in ((diff.left, diff.right), (diff.right, diff.left)):
                    call = _unwrap_call(a, cand)
                    if call is not None and not _mentions(b, cand):
                        return _record(call, b, right)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        call = _unwrap_call(test.operand, cand)
        if call is not None:
            return _record(call, ast.Constant(False), None)
    call = _unwrap_call(test, cand)
    if call is not None:
        return _record(call, ast.Constant(True), None)
    if (isinstance(test, ast.Call) and ast.unparse(test.func) in ("math.isclose", "isclose")
            and len(test.args) == 2):
        tol = next((k.value for k in test.keywords if k.arg == "abs_tol"), ast.Constant(1e-9))
        for a, b in ((test.args[0], test.args[1]), (test.args[1], test.args[0])):
            call = _unwrap_call(a, cand)
            if call is not None and not _mentions(b, cand):
                return _record(call, b, tol)
    raise Untranslatable("assertion form")


def _abs_arg(node: ast.expr) -> ast.expr | None:
    if (isinstance(node, ast.Call) and ast.unparse(node.func) in ("abs", "math.fabs", "fabs")
            and len(node.args) == 1):
        return node.args[0]
    return None


class _Rewrite(ast.NodeTransformer):
    """``assert``s about the candidate -> recording calls. ``entry``: the function's own name, which in
    HumanEval's tests is the candidate too (the tests run beside the answer's definition of it);
    ``random_names``: names that draw random numbers (checks in a loop that draws them are marked)."""

    def __init__(self, cand: str, entry: str = "", random_names: frozenset[str] = frozenset()):
        self.cand = cand
        self.entry = entry
        self.random_names = random_names
        self.in_random_loop = 0

    def visit_Assert(self, node: ast.Assert):
        if not _mentions(node.test, self.cand):
            return node
        t = node.test
        if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
                and ast.dump(t.left) == ast.dump(t.comparators[0])):
            return ast.copy_location(ast.Pass(), node)  # the candidate against itself tests nothing
        if self.entry and self.entry != self.cand and _mentions(t, self.entry):
            # candidate(x) == sort_third(x): in HumanEval the name is the answer's own function, so the
            # assertion compares the candidate with itself (MultiPL-E leaves these out too)
            return ast.copy_location(ast.Pass(), node)
        call = _classify(node.test, self.cand)
        if self.in_random_loop:
            call.args.append(ast.Constant(True))
        return ast.copy_location(ast.Expr(call), node)

    def _loop(self, node):
        drawn = any(isinstance(n, ast.Name) and n.id in self.random_names for n in ast.walk(node))
        self.in_random_loop += drawn
        try:
            return self.generic_visit(node)
        finally:
            self.in_random_loop -= drawn

    visit_For = visit_While = _loop

    def generic_visit(self, node):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.For, ast.While, ast.If, ast.With, ast.Try)):
            if _mentions(node, self.cand):
                raise Untranslatable("candidate used outside an assertion")
        return super().generic_visit(node)


def _check_function(test_ast: ast.Module) -> tuple[ast.FunctionDef, list[ast.stmt]]:
    check, rest = None, []
    for node in test_ast.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check = node
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "id", "") == "check":
            continue  # HumanEval-X calls check itself
        else:
            rest.append(node)
    if check is None or len(check.args.args) != 1:
        raise Untranslatable("no check(candidate) function")
    return check, rest


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(*_):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _run_checks(row: dict, entry: str, test_ast: ast.Module) -> list[Check]:
    check, rest = _check_function(test_ast)
    cand = check.args.args[0].arg
    random_names = frozenset({"random"} | {a.asname or a.name for n in ast.walk(test_ast)
                                           if isinstance(n, ast.ImportFrom) and n.module == "random" for a in n.names})
    new = _Rewrite(cand, entry, random_names).visit(copy.deepcopy(check))
    module = ast.fix_missing_locations(ast.Module(body=[*rest, new], type_ignores=[]))
    recorded: list[tuple] = []
    ns: dict[str, Any] = {"__name__": "__oorl_problem__", _REC: lambda *a: recorded.append(a)}
    solution = row.get("canonical_solution")
    source = row["prompt"] + (solution if isinstance(solution, str) else "")
    state = random.getstate()
    random.seed(0)
    try:
        with _time_limit(RUN_SECONDS), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<prompt>", "exec"), ns)  # noqa: S102 - the problem's own code
            exec(compile(module, "<test>", "exec"), ns)  # noqa: S102
            ns["check"](ns.get(entry))
    except Untranslatable:
        raise
    except _Timeout:
        raise Untranslatable("tests take too long in Python") from None
    except NameError:
        raise Untranslatable("tests need the reference solution") from None
    except Exception as e:  # noqa: BLE001 - the test's own code failed
        raise Untranslatable(f"tests fail in Python ({type(e).__name__})") from None
    finally:
        random.setstate(state)
    if any(len(r) > 3 for r in recorded) and any(len(r) == 3 for r in recorded):
        # checks on random inputs (a loop drawing them) beside fixed ones: the fixed ones only, as
        # MultiPL-E's tests have them (its translation keeps no random draws)
        recorded = [r for r in recorded if len(r) == 3]
    checks = [Check(tuple(args), expected, None if tol is None else float(tol))
              for args, expected, tol, *_ in recorded]
    ref = ns.get(entry) if isinstance(solution, str) and solution.strip() else None
    if callable(ref):
        with _time_limit(RUN_SECONDS), contextlib.redirect_stdout(io.StringIO()):
            for c in checks:
                try:
                    got = ref(*copy.deepcopy(c.args))
                except Exception:  # noqa: BLE001
                    raise Untranslatable("canonical solution fails its tests") from None
                if not same(got, c.expected, c.tolerance):
                    raise Untranslatable("canonical solution fails its tests")
    return checks


def same(got: Any, expected: Any, tol: float | None) -> bool:
    if tol is not None:
        try:
            return abs(got - expected) < tol
        except TypeError:
            return False
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(same(a, b, None) for a, b in zip(got, expected))
    if isinstance(got, float) and isinstance(expected, float) and math.isnan(got) and math.isnan(expected):
        return True
    return got == expected
