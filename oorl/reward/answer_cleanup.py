"""An answer's own entry point and test code, removed before the benchmark's tests are appended
(MultiPL-E whole programs, see ``multipl_e_program.py``): an instruct model's program often brings
its own ``main``, asserts, prints and input reading, which would run first and test the program
against the model's own, maybe wrong, expectations (or exit before the benchmark's tests ran).
Pure functions over source text, one per language family."""

from __future__ import annotations

import ast
import re

from oorl.reward.languages.source_edit import _skip, code_positions, matching_brace, next_code_char


def remove_blocks(src: str, pattern: str) -> str:
    """Remove every definition matching ``pattern`` (outside strings/comments) up to its body's
    closing brace, from the start of its line."""
    rx = re.compile(pattern, re.MULTILINE)
    for _ in range(50):
        hits = code_positions(src, rx)
        if not hits:
            return src
        m = hits[-1]
        start = src.rfind("\n", 0, m.start()) + 1
        if src[start:m.start()].strip() and not re.fullmatch(r"[\w\s<>\[\],]*", src[start:m.start()]):
            start = m.start()
        brace = next_code_char(src, m.end(), "{;")
        if brace < 0 or src[brace] == ";":
            return src
        close = matching_brace(src, brace)
        if close < 0:
            return src
        end = src.find("\n", close)
        src = src[:start] + src[(len(src) if end < 0 else end + 1):]
    return src


def _is_main_guard(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and any(
        isinstance(x, ast.Name) and x.id == "__name__" for x in [test.left, *test.comparators])


def _reads_input(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "input":
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "stdin":
            return True
    return False


def _tests_something(node: ast.AST) -> bool:
    """Whether top-level compound code asserts, prints or reads: the answer's own testing."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assert):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in ("print", "input"):
            return True
    return _reads_input(node)


def python_without_own_tests(code: str) -> str:
    """The answer without its top-level test code: ``if __name__ == "__main__":`` blocks, asserts,
    calls (``print(...)``, ``main()``, ``unittest.main()``; ``sys.*`` set-up calls stay), loops, and
    statements that read standard input."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines(keepends=True)
    drop: set[int] = set()
    for node in tree.body:
        bad = (isinstance(node, ast.If) and _is_main_guard(node.test)) or isinstance(node, ast.Assert)
        if isinstance(node, (ast.For, ast.While, ast.If, ast.With, ast.Try)) and not bad:
            bad = _tests_something(node)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            f = node.value.func
            bad = not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "sys")
        if not bad and isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr)) and _reads_input(node):
            bad = True
        if bad:
            drop.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    return "".join(ln for i, ln in enumerate(lines) if i not in drop)


_BLOCK_START = re.compile(r"(?:export\s+(?:default\s+)?)?(?:async\s+)?(?:function|class|if|for|foreach|while|do|"
                          r"try|switch|namespace|interface|enum|abstract\s+class|final\s+class|trait)\b")
_CONTINUES = ("else", "catch", "finally", "while")


def top_level_statements(src: str, asi: bool = True) -> list[tuple[int, int]] | None:
    """Spans of the top-level statements of C-like script code (JS/TS/PHP); None when unbalanced.
    ``asi``: a line break can end a statement (JavaScript's automatic semicolons)."""
    spans: list[tuple[int, int]] = []
    depth, i, start, n = 0, 0, None, len(src)
    while i < n:
        j = _skip(src, i)
        if j != i:
            if start is None and not src.startswith(("/", "#"), i):
                start = i
            i = j
            continue
        c = src[i]
        if start is None:
            if c.isspace() or c == ";":
                i += 1
                continue
            if c == "#" and not asi:  # PHP comment
                k = src.find("\n", i)
                i = n if k < 0 else k
                continue
            start = i
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0 and c == "}" and _BLOCK_START.match(src, start):
                nxt = re.match(r"\s*(\w+|\S)?", src[i + 1:])
                word = nxt.group(1) if nxt else None
                if word not in _CONTINUES and word not in (".", ",", ")", "(", ";"):
                    spans.append((start, i + 1))
                    start = None
        elif c == ";" and depth == 0:
            spans.append((start, i + 1))
            start = None
        elif c == "\n" and depth == 0 and asi and not _BLOCK_START.match(src, start):
            before = src[start:i].rstrip()
            after = src[i:].lstrip()
            if before and not before.endswith(tuple(",=+-*/([{&|?:.!<>")) and \
                    not after.startswith(tuple(".?:+-*/&|=,)]}")) and not re.match(r"(else|catch|finally)\b", after):
                spans.append((start, i))
                start = None
        i += 1
    if depth != 0:
        return None
    if start is not None and src[start:].strip():
        spans.append((start, n))
    return spans


_DECL = re.compile(r"(?:export\s+(?:default\s+)?)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+|final\s+)?"
                   r"(function\b\s*\*?\s*&?\s*([\w$]+)?|class\s+([\w$]+)|(?:const|let|var)\s+([\w$]+)|"
                   r"interface\s+(\w+)|type\s+(\w+)|enum\s+(\w+)|trait\s+(\w+)|namespace\b|use\b|"
                   r"import\b(?:\s+\*\s+as\s+([\w$]+)|\s+([\w$]+))?)")


def declared(stmt: str) -> tuple[bool, set[str]]:
    """(is a declaration, names it declares) of one top-level statement."""
    m = _DECL.match(stmt)
    if not m:
        return False, set()
    names = {g for g in m.groups()[1:] if g}
    if stmt.startswith(("import", "const", "let", "var")) and "{" in stmt.split("=")[0]:
        names |= set(re.findall(r"[\w$]+", stmt.split("=")[0].split("from")[0])) - {"import", "const", "let", "var"}
    return True, names


def _assignment(stmt: str) -> bool:
    return bool(re.match(r"[\w$.\[\]'\"]+\s*(?:\+|-|\*|\.|\?\?)?=(?!=)", stmt))


def script_without_own_tests(code: str, lang: str, reserved: set[str]) -> str:
    """JS/TS/PHP: keep the answer's declarations and assignments, drop its top-level calls, control
    flow and output (its own tests, its ``main``), ``module.exports``, and declarations of names the
    benchmark's tests declare themselves (``assert``, ``test``, ``candidate``)."""
    spans = top_level_statements(code, asi=lang != "php")
    if spans is None:
        return code
    out, last = [], 0
    for a, b in spans:
        stmt = code[a:b].strip()
        is_decl, names = declared(stmt)
        keep = (is_decl and not (names & reserved)) or (_assignment(stmt) and not stmt.startswith(
            ("module.exports", "exports.")))
        if lang == "php" and re.match(r"(declare|require|include)(_once)?\b", stmt):
            keep = False
        out.append(code[last:a])
        if keep:
            if lang == "js":
                stmt_src = re.sub(r"^export\s+(?:default\s+)?(?=(?:async\s+)?(?:function|class|const|let|var)\b)", "",
                                  code[a:b])
                out.append(stmt_src)
            else:
                out.append(code[a:b])
        last = b
    out.append(code[last:])
    return "".join(out)


_SH_FUNC = re.compile(r"^\s*(?:function\s+)?[\w.:-]+\s*\(\s*\)\s*|^\s*function\s+[\w.:-]+\s*")
_SH_KEEP = re.compile(r"^\s*(?:readonly|declare|typeset|export|shopt|[A-Za-z_]\w*(?:\[[^]]*\])?\+?=)")
_SH_OPEN = {"if": "fi", "case": "esac", "for": "done", "while": "done", "until": "done", "select": "done"}


def _sh_words(line: str) -> list[str]:
    line = re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", " ", line)
    line = re.sub(r"(^|\s)#.*$", " ", line)
    return re.findall(r"[\w]+|[{}()]", line)


def bash_without_own_tests(code: str) -> str:
    """The answer's functions, assignments and shell options; not its top-level commands (calls,
    ``echo``, loops, ``exit``, ``main "$@"``, reads)."""
    lines, out, i = code.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        j = i
        while lines[j].rstrip().endswith("\\") and j + 1 < len(lines):
            j += 1
        head = _SH_FUNC.match(line)
        if head:
            depth, seen = 0, False
            k = i
            while k < len(lines):
                for w in _sh_words(lines[k][head.end():] if k == i else lines[k]):
                    if w == "{":
                        depth, seen = depth + 1, True
                    elif w == "}":
                        depth -= 1
                k += 1
                if seen and depth <= 0:
                    break
            out.extend(lines[i:k])
            i = k
            continue
        if not s or s.startswith("#"):
            out.append(line)
        elif _SH_KEEP.match(line) and "read " not in line:
            out.extend(lines[i:j + 1])
        else:  # a command, maybe compound: skip to its end
            words = _sh_words(" ".join(lines[i:j + 1]))
            first = words[0] if words else ""
            if first in _SH_OPEN or first == "{":
                depth, k = 0, i
                while k < len(lines):
                    for w in _sh_words(lines[k]):
                        if w in _SH_OPEN or w == "{":
                            depth += 1
                        elif w in ("fi", "esac", "done", "}"):
                            depth -= 1
                    k += 1
                    if depth <= 0:
                        break
                j = k - 1
            heredoc = re.search(r"<<-?\s*['\"]?(\w+)", " ".join(lines[i:j + 1]))
            if heredoc:
                k = j + 1
                while k < len(lines) and lines[k].strip() != heredoc.group(1):
                    k += 1
                j = k
        i = j + 1
    return "\n".join(out) + "\n"
