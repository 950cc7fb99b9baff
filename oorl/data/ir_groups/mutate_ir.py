"""IR-level mutants of normalised LLVM IR (pure): each a named, single-site edit that keeps the IR
valid (same types, the result numbering repaired by re-normalising).

Only functions with ordinary (external, internal or private) linkage are mutated: those are the
source's own code; ``linkonce_odr`` copies of library templates may be replaced at link time by the
test program's own copies. Kinds:

``icmp_flip`` (negate an ``icmp`` predicate), ``icmp_off_by_one`` (``slt``<->``sle`` ...),
``fcmp_flip`` (``olt``->``oge`` ...), ``swap_operands`` (of a non-commutative ``sub``, ``sdiv``,
``udiv``, ``srem``, ``urem``, ``shl``, ``lshr``, ``ashr``, ``fsub``, ``fdiv`` or an ordered compare),
``binop_change`` (``add``<->``sub``, ``and``<->``or``, ``fadd``<->``fsub``, ``fmul``<->``fdiv``,
``sdiv``<->``srem``...), ``ext_change`` (``zext``<->``sext``), ``drop_trunc`` (a ``zext``/``sext`` of a
``trunc`` becomes the untruncated value: the missing truncation), ``constant`` (an integer operand
n -> n+1 / n-1), ``branch_swap`` (the two targets of a conditional ``br``), ``drop_store`` and
``drop_call`` (a ``store`` or a ``void`` call removed).

``ir_mutations(ir)`` lists ``IRMutation(kind, line, new_line)`` sites; ``apply_ir_mutation`` makes the
mutant, normalised (``new_line`` None deletes the line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oorl.data.ir_groups.normalize import normalize_ir

ICMP_NEG = {"eq": "ne", "ne": "eq", "slt": "sge", "sge": "slt", "sgt": "sle", "sle": "sgt",
            "ult": "uge", "uge": "ult", "ugt": "ule", "ule": "ugt"}
ICMP_OBO = {"slt": "sle", "sle": "slt", "sgt": "sge", "sge": "sgt", "ult": "ule", "ule": "ult",
            "ugt": "uge", "uge": "ugt"}
FCMP_NEG = {"olt": "oge", "oge": "olt", "ogt": "ole", "ole": "ogt", "oeq": "one", "one": "oeq",
            "ult": "uge", "uge": "ult", "ugt": "ule", "ule": "ugt", "ueq": "une", "une": "ueq"}
NONCOMM = {"sub", "sdiv", "udiv", "srem", "urem", "shl", "lshr", "ashr", "fsub", "fdiv"}
BINOP_CHANGE = {"add": "sub", "sub": "add", "mul": "add", "and": "or", "or": "and", "xor": "and",
                "sdiv": "srem", "srem": "sdiv", "udiv": "urem", "urem": "udiv",
                "fadd": "fsub", "fsub": "fadd", "fmul": "fdiv", "fdiv": "fmul", "shl": "lshr", "lshr": "shl",
                "ashr": "lshr"}
FLAGS = {"nuw", "nsw", "exact"}
FAST_MATH = {"fast", "nnan", "ninf", "nsz", "arcp", "contract", "afn", "reassoc"}
FLAG_OK = {"add": {"nuw", "nsw"}, "sub": {"nuw", "nsw"}, "mul": {"nuw", "nsw"}, "shl": {"nuw", "nsw"},
           "sdiv": {"exact"}, "udiv": {"exact"}, "lshr": {"exact"}, "ashr": {"exact"}}

OPERAND = r'(?:%[-\w$.]+|%"[^"]*"|-?\d+(?:\.\d+(?:e[-+]?\d+)?)?|0x[0-9A-Fa-f]+|true|false|null|undef|poison)'
_BINOP = re.compile(r"^(\s+%\d+ = )(\w+)((?: [a-z]+)*) (\S+) (" + OPERAND + r"), (" + OPERAND + r")\s*$")
_CMP = re.compile(r"^(\s+%\d+ = )(icmp|fcmp)((?: [a-z]+)*?) (eq|ne|[suo]?[lg][te]|o?eq|one|ueq|une) (\S+) ("
                  + OPERAND + r"), (" + OPERAND + r")\s*$")
_EXT = re.compile(r"^(\s+%\d+ = )(zext|sext) (\S+) (%\d+) to (\S+)\s*$")
_TRUNC = re.compile(r"^\s+(%\d+) = trunc (\S+) (" + OPERAND + r") to (\S+)\s*$")
_CONST = re.compile(r"\b(i(?:8|16|32|64)) (-?\d+)\b")
_PHI_CONST = re.compile(r"\[ (-?\d+), %")
_BR = re.compile(r"^(\s+br i1 \S+, )label (%\d+), label (%\d+)\s*$")


@dataclass(frozen=True)
class IRMutation:
    kind: str
    line: int  # index into ir.splitlines()
    new_line: str | None

    def describe(self, ir: str) -> str:
        old = ir.splitlines()[self.line].strip()
        return f"{self.kind}: {old!r} -> {self.new_line.strip() if self.new_line is not None else '(deleted)'!r}"


def _mutable_bodies(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line indices of the bodies of functions that are not linkonce/weak/available."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("define "):
            j = i
            while j < len(lines) and lines[j] != "}":
                j += 1
            head = line.split("@", 1)[0]
            if not re.search(r"\b(linkonce|linkonce_odr|weak|weak_odr|available_externally)\b", head):
                out.append((i + 1, j))
            i = j + 1
            continue
        i += 1
    return out


def _drop_flags(flags: str, op: str) -> str:
    kept = [f for f in flags.split() if f in FAST_MATH or f in FLAG_OK.get(op, set())]
    return "".join(" " + f for f in kept)


def ir_mutations(ir: str) -> list[IRMutation]:
    lines = ir.splitlines()
    out: list[IRMutation] = []
    for first, last in _mutable_bodies(lines):
        truncs = {}
        for k in range(first, last):
            m = _TRUNC.match(lines[k])
            if m:
                truncs[m.group(1)] = (m.group(2), m.group(3))
        for k in range(first, last):
            line = lines[k]
            m = _CMP.match(line)
            if m:
                pre, op, flags, pred, ty, a, b = m.groups()
                neg = (ICMP_NEG if op == "icmp" else FCMP_NEG).get(pred)
                if neg:
                    out.append(IRMutation(f"{op}_flip", k, f"{pre}{op}{flags} {neg} {ty} {a}, {b}"))
                if op == "icmp" and pred in ICMP_OBO:
                    out.append(IRMutation("icmp_off_by_one", k, f"{pre}{op}{flags} {ICMP_OBO[pred]} {ty} {a}, {b}"))
                if pred not in ("eq", "ne", "oeq", "one", "ueq", "une") and a != b:
                    out.append(IRMutation("swap_operands", k, f"{pre}{op}{flags} {pred} {ty} {b}, {a}"))
                out.extend(_operand_consts(k, f"{pre}{op}{flags} {pred} {ty}", a, b, ty))
                continue
            m = _BINOP.match(line)
            if m and (m.group(2) in BINOP_CHANGE or m.group(2) in NONCOMM):
                pre, op, flags, ty, a, b = m.groups()
                if op in NONCOMM and a != b:
                    out.append(IRMutation("swap_operands", k, f"{pre}{op}{flags} {ty} {b}, {a}"))
                if op in BINOP_CHANGE:
                    new = BINOP_CHANGE[op]
                    out.append(IRMutation("binop_change", k, f"{pre}{new}{_drop_flags(flags, new)} {ty} {a}, {b}"))
                out.extend(_operand_consts(k, f"{pre}{op}{flags} {ty}", a, b, ty))
                continue
            m = _EXT.match(line)
            if m:
                pre, op, ty, v, to = m.groups()
                other = "sext" if op == "zext" else "zext"
                out.append(IRMutation("ext_change", k, f"{pre}{other} {ty} {v} to {to}"))
                if v in truncs and truncs[v][0] == to:
                    out.append(IRMutation("drop_trunc", k, f"{pre}bitcast {to} {truncs[v][1]} to {to}"))
                continue
            m = _BR.match(line)
            if m and m.group(2) != m.group(3):
                out.append(IRMutation("branch_swap", k, f"{m.group(1)}label {m.group(3)}, label {m.group(2)}"))
                continue
            s = line.strip()
            if s.startswith("store ") and "volatile" not in s:
                out.append(IRMutation("drop_store", k, None))
                out.extend(_const_sites(k, line))
            elif re.match(r"(tail |musttail |notail )?call void ", s) and "@llvm." not in s:
                out.append(IRMutation("drop_call", k, None))
            elif s.startswith("ret ") or re.match(r"%\d+ = select ", s):
                out.extend(_const_sites(k, line))
            elif re.match(r"%\d+ = phi i(8|16|32|64) ", s):
                for m in _PHI_CONST.finditer(line):
                    out.append(IRMutation("constant", k, line[:m.start(1)] + _bump(int(m.group(1)))
                                          + line[m.end(1):]))
    return out


def _bump(v: int) -> str:
    """The changed constant: n + 1 (so 0 -> 1, -1 -> 0)."""
    return str(v + 1)


def _const_sites(k: int, line: str) -> list[IRMutation]:
    if "getelementptr" in line:  # indices of a constant expression: leave addresses alone
        return []
    return [IRMutation("constant", k, line[:m.start(2)] + _bump(int(m.group(2))) + line[m.end(2):])
            for m in _CONST.finditer(line)]


def _operand_consts(k: int, head: str, a: str, b: str, ty: str) -> list[IRMutation]:
    if not re.fullmatch(r"i(8|16|32|64)", ty):
        return []
    out = []
    if re.fullmatch(r"-?\d+", a):
        out.append(IRMutation("constant", k, f"{head} {_bump(int(a))}, {b}"))
    if re.fullmatch(r"-?\d+", b):
        out.append(IRMutation("constant", k, f"{head} {a}, {_bump(int(b))}"))
    return out


def apply_ir_mutation(ir: str, mut: IRMutation) -> str:
    lines = ir.splitlines()
    if mut.new_line is None:
        del lines[mut.line]
    else:
        lines[mut.line] = mut.new_line
    return normalize_ir("\n".join(lines) + "\n")
