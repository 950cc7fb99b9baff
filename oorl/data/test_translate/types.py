"""The small type language the translator works in, read from Python annotations or inferred from
the values the tests use (HumanEval leaves many functions unannotated).

``Type(kind, args)`` with kind one of int, float, str, bool, none, any, list, tuple, dict,
optional, union, unknown (an empty container's element: unifies with anything).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from oorl.data.test_translate.errors import Untranslatable

@dataclass(frozen=True)
class Type:
    kind: str
    args: tuple["Type", ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.kind
        return f"{self.kind}[{', '.join(map(str, self.args))}]"

    @property
    def elem(self) -> "Type":
        return self.args[0] if self.args else UNKNOWN


INT, FLOAT, STR, BOOL, NONE, ANY, UNKNOWN = (Type(k) for k in ("int", "float", "str", "bool", "none", "any", "unknown"))


def list_of(t: Type) -> Type:
    return Type("list", (t,))


def optional(t: Type) -> Type:
    if t.kind in ("optional", "none", "any"):
        return t
    return Type("optional", (t,))


_NAMES = {"int": INT, "float": FLOAT, "str": STR, "bool": BOOL, "None": NONE, "NoneType": NONE, "Any": ANY,
          "object": ANY, "list": Type("list", (UNKNOWN,)), "List": Type("list", (UNKNOWN,)),
          "tuple": Type("tuple", ()), "Tuple": Type("tuple", ()), "dict": Type("dict", (UNKNOWN, UNKNOWN)),
          "Dict": Type("dict", (UNKNOWN, UNKNOWN))}


def from_annotation(node: ast.expr | None) -> Type | None:
    """The type an annotation names (None when there is none); Untranslatable for what it cannot read."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and node.value is None:
        return NONE
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return from_annotation(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.Attribute):  # typing.List
        return from_annotation(ast.Name(node.attr))
    if isinstance(node, ast.Name):
        if node.id in _NAMES:
            return _NAMES[node.id]
        raise Untranslatable(f"type {node.id}")
    if isinstance(node, ast.Subscript):
        base = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in ("List", "list", "Sequence", "Iterable"):
            return list_of(from_annotation(items[0]) or UNKNOWN)
        if base in ("Tuple", "tuple"):
            if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
                return list_of(from_annotation(items[0]))  # Tuple[int, ...]: a sequence
            return Type("tuple", tuple(from_annotation(i) for i in items))
        if base in ("Dict", "dict"):
            return Type("dict", (from_annotation(items[0]), from_annotation(items[1])))
        if base == "Optional":
            return optional(from_annotation(items[0]))
        if base == "Union":
            return union([from_annotation(i) for i in items])
        raise Untranslatable(f"type {base}[...]")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        return union([from_annotation(node.left), from_annotation(node.right)])
    raise Untranslatable(f"type annotation {ast.unparse(node)}")


def of_value(v: Any) -> Type:
    if v is None:
        return NONE
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, str):
        return STR
    if isinstance(v, list):
        return list_of(unify_all([of_value(x) for x in v]))
    if isinstance(v, tuple):
        return Type("tuple", tuple(of_value(x) for x in v))
    if isinstance(v, dict):
        return Type("dict", (unify_all([of_value(k) for k in v]), unify_all([of_value(x) for x in v.values()])))
    raise Untranslatable(f"value of type {type(v).__name__}")


def unify_all(types: list[Type]) -> Type:
    out = UNKNOWN
    for t in types:
        out = unify(out, t)
    return out


def union(types: list[Type]) -> Type:
    flat: list[Type] = []
    for t in types:
        for u in (t.args if t.kind == "union" else (t,)):
            if u not in flat:
                flat.append(u)
    if NONE in flat and len(flat) == 2:
        return optional(next(t for t in flat if t != NONE))
    return flat[0] if len(flat) == 1 else Type("union", tuple(flat))


def unify(a: Type, b: Type) -> Type:
    """The least type holding both (int and float: float; T and None: Optional[T]; else a union)."""
    if a == b or b.kind == "unknown":
        return a
    if a.kind == "unknown":
        return b
    if "any" in (a.kind, b.kind):
        return ANY
    if {a.kind, b.kind} == {"int", "float"}:
        return FLOAT
    if a.kind == "none":
        return optional(b)
    if b.kind == "none":
        return optional(a)
    if a.kind == "optional" or b.kind == "optional":
        inner = unify(a.elem if a.kind == "optional" else a, b.elem if b.kind == "optional" else b)
        return optional(inner)
    if a.kind == b.kind == "list":
        return list_of(unify(a.elem, b.elem))
    if a.kind == b.kind == "dict":
        return Type("dict", (unify(a.args[0], b.args[0]), unify(a.args[1], b.args[1])))
    if a.kind == b.kind == "tuple" and len(a.args) == len(b.args):
        return Type("tuple", tuple(unify(x, y) for x, y in zip(a.args, b.args)))
    if {a.kind, b.kind} <= {"tuple", "list"}:  # tuples of several lengths: a sequence
        return list_of(unify_all([*_items(a), *_items(b)]))
    return union([a, b])


def _items(t: Type) -> list[Type]:
    return list(t.args) if t.kind == "tuple" else [t.elem]


def refine(declared: Type | None, seen: Type) -> Type:
    """The declared type with its holes (bare ``list``, ``Tuple`` without arguments) filled from what
    the tests pass; the inferred type when nothing is declared."""
    if declared is None:
        return seen
    if declared.kind == "unknown":
        return seen
    if seen.kind == "unknown":
        return declared
    if declared.kind == "list" and seen.kind == "list":
        return list_of(refine(declared.elem, seen.elem))
    if declared.kind == "tuple" and not declared.args and seen.kind == "tuple":
        return seen
    if declared.kind == "dict" and seen.kind == "dict":
        return Type("dict", (refine(declared.args[0], seen.args[0]), refine(declared.args[1], seen.args[1])))
    if declared.kind == "optional" and seen.kind == "optional":
        return optional(refine(declared.elem, seen.elem))
    if declared.kind == "optional" and seen.kind != "none":
        return optional(refine(declared.elem, seen))
    return declared
