"""Normalise LLVM IR text (clang 14) so that what does not change the program carries no signal.

``normalize_ir(text)`` keeps the module assemblable and linkable (``clang++ ir.ll test.cpp``) and:

* drops comments (``; ModuleID``, ``; Function Attrs``, ``; preds = ...``), ``source_filename``,
  ``target datalayout`` / ``target triple`` (clang sets both from its default target when building),
  metadata (module-level ``!N = ...`` / ``!name = ...`` and every ``, !kind !N`` attachment: hints
  only, dropping them is always correct) and attribute groups (``attributes #N = {...}`` and the
  ``#N`` references; in-line parameter attributes such as ``sret``/``byval``/``noundef`` stay, they
  are part of the ABI), and the metadata-only intrinsics (``llvm.experimental.noalias.scope.decl``,
  ``llvm.dbg.*``: void calls whose only operand is metadata);
* renames private globals (clang's ``@.str.3``, ``@__const.f.a``, ``@switch.table.f``...) to
  ``@.g0``, ``@.g1``... in order of definition;
* renames every local value and basic block of each function to ``%0``, ``%1``... in order of
  definition (arguments, the unlabelled entry block, then labels and results as they appear), which
  is also what makes an edited function (a deleted instruction) valid again;
* collapses blank lines.

It is idempotent: ``normalize_ir(normalize_ir(x)) == normalize_ir(x)``. IR it cannot normalise safely
(a metadata operand such as ``llvm.dbg.*``, numbered types, ``blockaddress``) raises ``IRError``.
"""

from __future__ import annotations

import re

LOCAL = r'%(?:[-a-zA-Z$._][-a-zA-Z$._0-9]*|[0-9]+|"[^"]*")'
GLOBAL = r'@(?:[-a-zA-Z$._][-a-zA-Z$._0-9]*|[0-9]+|"[^"]*")'
_LOCAL_RX = re.compile(LOCAL)
_GLOBAL_RX = re.compile(GLOBAL)
_DROP_LINE = re.compile(r"^(source_filename\s*=|target\s+(datalayout|triple)\s*=|attributes\s+#\d+\s*=|"
                        r"!|uselistorder)")
_ATTACH = re.compile(r",?\s*!(?:[A-Za-z_.][-\w.]*)\s+(?:!\d+|!\{[^}]*\}|distinct\s+!\{[^}]*\})")
# calls (and declarations) of intrinsics that only carry metadata hints: void, so deleting them is exact
_HINT_CALL = re.compile(r"^\s*(?:(?:tail |notail )?call void|declare void) @llvm\.(?:experimental\.noalias\.scope\.decl|"
                        r"dbg\.(?:declare|value|label|addr))\(")
_ATTR_REF = re.compile(r"\s*#\d+\b")
_LABEL = re.compile(r'^((?:[-a-zA-Z$._0-9]+)|(?:"[^"]*")):')
_RESULT = re.compile(r"^\s+(" + LOCAL + r")\s*=")
_PRIVATE = re.compile(r"^(" + GLOBAL + r")\s*=\s*private\b")


class IRError(ValueError):
    """IR this module does not handle (the caller skips it with the message as the reason)."""


def _split_code_comment(line: str) -> tuple[str, str]:
    """The line before its ``;`` comment (outside double quotes), and the comment."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return line[:i], line[i:]
    return line, ""


def _outside_quotes(line: str, fn) -> str:
    """Apply ``fn`` to the parts of ``line`` outside double-quoted strings."""
    parts = line.split('"')
    for i in range(0, len(parts), 2):
        parts[i] = fn(parts[i])
    return '"'.join(parts)


def strip_noise(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        code, _ = _split_code_comment(raw)
        code = code.rstrip()
        if not code.strip():
            lines.append("")
            continue
        if _DROP_LINE.match(code) or _HINT_CALL.search(code):
            continue
        code = _outside_quotes(code, lambda s: _ATTR_REF.sub("", _ATTACH.sub("", s)))
        lines.append(code.rstrip())
    return lines


def _rename_tokens(line: str, rx: re.Pattern, mapping: dict[str, str]) -> str:
    if not mapping:
        return line
    out, pos = [], 0
    quoted = False
    # walk tokens; quoted names ("%\"...\"") are matched whole by the regex, plain strings skipped
    for m in rx.finditer(line):
        seg = line[pos:m.start()]
        quoted ^= seg.count('"') % 2 == 1
        out.append(seg)
        tok = m.group(0)
        out.append(mapping.get(tok, tok) if not quoted else tok)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out)


def _param_list(define: str) -> tuple[int, int]:
    """Start/end offsets of the parameter list of a ``define`` line (inside the parentheses)."""
    m = _GLOBAL_RX.search(define, define.index("define"))
    while m and not define[m.end():].startswith("("):
        m = _GLOBAL_RX.search(define, m.end())
    if not m:
        raise IRError("a define line without a function name")
    start = m.end() + 1
    depth, quoted = 1, False
    for i in range(start, len(define)):
        ch = define[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{<":
            depth += 1
        elif not quoted and ch in ")]}>":
            depth -= 1
            if depth == 0:
                return start, i
    raise IRError("unbalanced parameter list")


def _split_top(s: str) -> list[tuple[int, int]]:
    """Spans of the comma-separated items of ``s`` at nesting depth 0."""
    spans, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(s):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
    if s[start:].strip():
        spans.append((start, len(s)))
    return spans


def _renumber_function(lines: list[str]) -> list[str]:
    """``lines[0]`` is the ``define ... {`` line, ``lines[-1]`` the closing ``}``."""
    define = lines[0]
    a, b = _param_list(define)
    params = define[a:b]
    mapping: dict[str, str] = {}
    n = 0
    new_params = []
    last = 0
    for s, e in _split_top(params):
        item = params[s:e]
        new_params.append(params[last:s])
        last = e
        toks = list(_LOCAL_RX.finditer(item))
        if item.strip() == "...":
            new_params.append(item)
            continue
        if toks and toks[-1].end() == len(item.rstrip()):
            mapping[toks[-1].group(0)] = f"%{n}"
            item = item[:toks[-1].start()] + f"%{n}" + item[toks[-1].end():]
        else:  # an unnamed argument still takes a number
            item = item.rstrip() + f" %{n}"
        n += 1
        new_params.append(item)
    new_params.append(params[last:])
    define = define[:a] + "".join(new_params) + define[b:]

    body = lines[1:-1]
    # the entry block: its label (if any) is dropped and it takes the next number implicitly
    first = next((i for i, l in enumerate(body) if l.strip()), None)
    if first is not None:
        m = _LABEL.match(body[first])
        if m:
            mapping["%" + m.group(1)] = f"%{n}"
            body = body[:first] + body[first + 1:]
    n += 1
    for line in body:
        m = _LABEL.match(line)
        if m:
            mapping["%" + m.group(1)] = f"%{n}"
            n += 1
            continue
        m = _RESULT.match(line)
        if m:
            mapping[m.group(1)] = f"%{n}"
            n += 1
    out = [define]
    for line in body:
        m = _LABEL.match(line)
        if m:
            label = mapping["%" + m.group(1)][1:]
            out.append(f"{label}:")
            continue
        out.append(_rename_tokens(line, _LOCAL_RX, mapping))
    out.append(lines[-1])
    return out


def _collapse_blank(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
        else:
            out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


def normalize_ir(text: str) -> str:
    lines = strip_noise(text)
    joined = _no_strings("\n".join(lines))
    if re.search(r"(^|[\s(,])!\d", joined, re.M) or re.search(r"\bmetadata\b", joined):
        raise IRError("IR with metadata operands (debug info, constrained FP) is not handled")
    if re.search(r"^%\d+\s*=\s*type\b", joined, re.M):
        raise IRError("IR with numbered (unnamed) struct types is not handled")
    if "blockaddress(" in joined:
        raise IRError("IR with blockaddress is not handled")
    # private globals -> @.g<N>
    gmap: dict[str, str] = {}
    for line in lines:
        m = _PRIVATE.match(line)
        if m and m.group(1) not in gmap:
            gmap[m.group(1)] = f"@.g{len(gmap)}"
    if gmap:
        lines = [_rename_tokens(l, _GLOBAL_RX, gmap) for l in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("define ") or line.startswith("define\t"):
            j = i
            while j < len(lines) and lines[j] != "}":
                j += 1
            if j == len(lines):
                raise IRError("a function body without its closing brace")
            out.append("")
            out.extend(_renumber_function(lines[i:j + 1]))
            out.append("")
            i = j + 1
            continue
        out.append(line)
        i += 1
    return "\n".join(_collapse_blank(out)) + "\n"


def _no_strings(text: str) -> str:
    return re.sub(r'"[^"\n]*"', '""', text)


def defined_functions(text: str) -> list[tuple[str, str]]:
    """``(name, linkage-and-keywords before the return type)`` of each ``define`` in the module."""
    out = []
    for line in text.splitlines():
        if line.startswith("define "):
            m = re.search(GLOBAL + r"(?=\()", line)
            if m:
                out.append((m.group(0), line[len("define "):m.start()]))
    return out
