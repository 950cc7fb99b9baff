"""MultiPL-E programs: from a problem (``prompt``, ``tests``, ``stop_tokens``) and a model's answer to
the source the judge runs. Pure functions; the data and the judging are in ``multipl_e.py``.

Two answer styles, told apart by ``split_answer``:

``completion``  the answer continues the prompt (a base model, or the prompt echoed back first). It is
                cut at the first stop token and the program is prompt + completion + tests, as
                MultiPL-E runs it.
``whole``       an instruct model's whole program (usually in a fenced block) that defines the
                problem's function itself. The program is the prompt's header (includes, imports,
                usings) + the answer, with the answer's own entry point and top-level test code
                removed, + the tests, less the closing of the function that the prompt left open
                (C++, Java, C#, Bash, Go, Rust); in Java and C# the tests' ``main`` goes into the
                class that defines the function (Java: declaring ``throws Exception``, as the
                answer's method may declare a checked exception).

``no_code``     nothing to run (an empty answer).

A reasoning model's leading ``<think>...</think>`` block (drafts, maybe fenced) is not part of the answer.

Removing an answer's own ``main`` and test code is in ``answer_cleanup.py``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from oorl.reward.answer_cleanup import (bash_without_own_tests, declared, python_without_own_tests, remove_blocks,
                                        script_without_own_tests, top_level_statements)
from oorl.reward.languages.source_edit import _skip, code_positions, matching_brace

# MultiPL-E's language codes -> the sandbox's languages
LANGUAGES = {"py": "python", "cpp": "cpp", "cs": "csharp", "java": "java", "js": "javascript", "php": "php",
             "sh": "bash", "ts": "typescript", "go": "go", "rs": "rust", "prolog": "prolog"}
STYLES = ("completion", "whole", "no_code")
_FENCE = re.compile(r"```[ \t]*([\w#+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FENCE_TAGS = {"py": {"python", "py", "python3"}, "cpp": {"cpp", "c++", "cxx", "cc", "c"},
               "cs": {"cs", "csharp", "c#"}, "java": {"java"}, "js": {"js", "javascript", "node"},
               "php": {"php"}, "sh": {"sh", "bash", "shell", "zsh"}, "ts": {"ts", "typescript"},
               "go": {"go", "golang"}, "rs": {"rs", "rust"}, "prolog": {"prolog", "pl", "swipl"}}
_COMMENT = {"py": ("#",), "sh": ("#",), "php": ("//", "#", "/*", "*"), "prolog": ("%", "/*", "*")}
_C_COMMENT = ("//", "/*", "*")


@dataclass(frozen=True)
class Assembled:
    """What goes to the language's ``assemble(program, tests, sentinel)``, and how it was read."""

    style: str
    program: str
    tests: str
    code: str  # the answer's code as used (the cut completion, or the whole program)


# -- reading the problem ---------------------------------------------------------------------------

def _is_comment(line: str, code: str) -> bool:
    s = line.strip()
    return any(s.startswith(c) for c in _COMMENT.get(code, _C_COMMENT))


def signature_start(prompt: str, code: str) -> int:
    """Offset in ``prompt`` of the line that opens the problem's function (Python: its ``def``)."""
    if code == "py":
        hits = list(re.finditer(r"^(?:async[ \t]+)?def[ \t]+\w+", prompt, re.MULTILINE))
        return hits[-1].start() if hits else len(prompt)
    end = len(prompt.rstrip())
    start = prompt.rfind("\n", 0, end) + 1
    while start > 0:  # a signature over several lines: go up while the lines are code, not comments
        prev = prompt.rfind("\n", 0, start - 1) + 1
        line = prompt[prev:start - 1]
        if not line.strip() or _is_comment(line, code) or line.rstrip().endswith(("{", ";", "}")):
            break
        start = prev
    return start


def entry_name(problem: dict) -> str | None:
    """The name of the function the tests call: ``entry_point`` when the row has it, else the one
    the prompt's last line opens."""
    if problem.get("entry_point"):
        return str(problem["entry_point"])
    code, prompt = problem["language"], problem.get("prompt", "")
    if code == "py":
        hits = re.findall(r"^(?:async[ \t]+)?def[ \t]+(\w+)", prompt, re.MULTILINE)
        return hits[-1] if hits else None
    sig = prompt[signature_start(prompt, code):]
    if code == "sh":
        m = re.search(r"^\s*(?:function\s+)?([\w.:-]+)\s*(?:\(\s*\)|\{)", sig)
    else:
        m = re.search(r"([A-Za-z_]\w*)\s*(?:<[^<>()]*>)?\s*\(", sig)
    return m.group(1) if m else None


def header(problem: dict) -> str:
    """What a whole program may have dropped from the prompt: its includes/imports/usings (Java and
    C#: the import lines only; elsewhere everything before the function's signature)."""
    code, prompt = problem["language"], problem.get("prompt", "")
    if code in ("java", "cs"):
        word = "import" if code == "java" else "using"
        return "".join(ln + "\n" for ln in prompt.splitlines() if re.match(rf"^\s*{word}\s+[\w.*= ]+;\s*$", ln))
    head = prompt[:signature_start(prompt, code)]
    if code == "php":
        head = _php_strip_tags(head)
    return head


# -- which style -----------------------------------------------------------------------------------

def defines(code_text: str, lang: str, name: str | None) -> bool:
    """Whether ``code_text`` defines the function ``name`` (not just calls it)."""
    return bool(name) and bool(definition_spans(code_text, lang, name, first_only=True))


def _def_regexes(lang: str, n: str) -> list[str]:
    n = re.escape(n)
    return {
        "py": [rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{n}[ \t]*\(", rf"^{n}[ \t]*="],
        "js": [rf"\bfunction\b[ \t]*\*?[ \t]*{n}[ \t]*\(", rf"\b(?:const|let|var)[ \t]+{n}[ \t]*="],
        "ts": [rf"\bfunction\b[ \t]*\*?[ \t]*{n}[ \t]*[<(]", rf"\b(?:const|let|var)[ \t]+{n}[ \t]*(?::[^=\n]+)?="],
        "php": [rf"\bfunction[ \t]+&?{n}[ \t]*\("],
        "sh": [rf"^[ \t]*(?:function[ \t]+)?{n}[ \t]*\([ \t]*\)", rf"^[ \t]*function[ \t]+{n}\b"],
        "go": [rf"\bfunc[ \t]+{n}[ \t]*[\[(]"],
        "rs": [rf"\bfn[ \t]+{n}[ \t]*[<(]"],
        "prolog": [rf"^{n}[ \t]*(?:\(|:-|\.)"],
    }.get(lang, [])


_NOT_A_TYPE = {"return", "else", "new", "throw", "case", "goto", "await", "yield", "delete", "not", "and", "or",
               "if", "while", "for", "switch", "do", "using", "typedef", "sizeof"}


def definition_spans(src: str, lang: str, name: str, first_only: bool = False) -> list[tuple[int, int]]:
    """(line start, match end) of each definition of ``name`` in ``src``, outside strings/comments."""
    if lang in ("cpp", "java", "cs"):
        return _c_like_definitions(src, lang, name, first_only)
    out = []
    for rx in _def_regexes(lang, name):
        flags = re.MULTILINE
        hits = [m for m in re.finditer(rx, src, flags)] if lang in ("py", "sh", "prolog") else \
            code_positions(src, re.compile(rx, flags))
        for m in hits:
            out.append((src.rfind("\n", 0, m.start()) + 1, m.end()))
            if first_only:
                return out
    return sorted(out)


def _c_like_definitions(src: str, lang: str, name: str, first_only: bool) -> list[tuple[int, int]]:
    out = []
    for m in code_positions(src, re.compile(rf"\b{re.escape(name)}[ \t]*(?:<[^<>(){{}};]*>)?[ \t]*\(")):
        line_start = src.rfind("\n", 0, m.start()) + 1
        prefix = src[line_start:m.start()].strip()
        if not prefix or re.search(r"[=();{}\"'+|!]", prefix):
            continue
        words = re.findall(r"[A-Za-z_]\w*", prefix)
        if not words or words[-1] in _NOT_A_TYPE or words[0] in _NOT_A_TYPE:
            continue
        close = _matching_paren(src, m.end() - 1)
        if close < 0:
            continue
        rest = src[close + 1:close + 400]
        tail = re.match(r"\s*(?:(?:const|noexcept|override|final|throws\s+[\w.,\s]+?)\s*)*(?:->\s*[^{;]+?)?\s*(\{|=>)",
                        rest)
        if tail and (tail.group(1) == "{" or lang == "cs"):
            out.append((line_start, m.end()))
            if first_only:
                break
    return out


def _matching_paren(src: str, open_idx: int) -> int:
    return matching_brace(src, open_idx, "()")


def _blocks(text: str) -> list[tuple[str, str]]:
    return _FENCE.findall(text)


_THINK = re.compile(r"\A\s*<think>.*?</think>[ \t]*\n?", re.DOTALL)


def split_answer(problem: dict, answer: str) -> tuple[str, str]:
    """(style, code) of a model's answer to ``problem``: see the module's docstring."""
    lang, prompt = problem["language"], problem.get("prompt", "")
    name = entry_name(problem)
    text = _THINK.sub("", answer or "", count=1)  # a reasoning model's drafts are not its answer
    if not text.strip():
        return "no_code", ""
    stripped = prompt.strip()
    if stripped and text.lstrip().startswith(stripped):  # the prompt echoed back, then the completion
        rest = text.lstrip()[len(stripped):]
        tail = prompt[len(prompt.rstrip()):]  # the prompt's own trailing newline(s) stand for the echo's
        rest = rest[len(tail):] if rest.startswith(tail) else rest.lstrip("\n")
        return ("completion", rest) if rest.strip() else ("no_code", "")
    blocks = _blocks(text)
    if blocks:
        tags = _FENCE_TAGS.get(lang, set())
        ordered = [b for b in blocks if b[0].lower() in tags] + [b for b in blocks if b[0].lower() not in tags]
        for _, body in ordered:
            if defines(body, lang, name):
                return "whole", body
        body = ordered[0][1]
        if not body.strip():
            return "no_code", ""
        if name is None:  # nothing to tell by: a fenced answer is a program
            return "whole", body
        if stripped and body.lstrip().startswith(stripped):
            return split_answer(problem, body)
        return "completion", body
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if defines(text, lang, name) and first[:1] not in (" ", "\t"):
        code = _drop_leading_prose(text, lang, name)
        return "whole", _drop_trailing_prose(code) if lang == "py" else code
    return "completion", text


_CODE_START = {
    "py": r"(import|from|def|class|@|#|async|[A-Za-z_]\w*\s*=)", "cpp": r"(#|using|template|struct|class|typedef|//|/\*)",
    "java": r"(import|package|class|public|final|abstract|//|/\*|@)", "cs": r"(using|namespace|class|public|static|//|/\*|\[)",
    "js": r"(function|const|let|var|class|//|/\*|'use|\"use|import|require|module)",
    "ts": r"(function|const|let|var|class|//|/\*|import|type|interface|export)", "php": r"(<\?php|function|//|#|/\*)",
    "sh": r"(#|function|[A-Za-z_][\w-]*\s*\(\s*\))", "go": r"(package|import|func|//|type)",
    "rs": r"(use|fn|//|struct|impl|#\[)", "prolog": r"(:-|%|[a-z]\w*\s*\()"}


def _drop_leading_prose(text: str, lang: str, name: str | None) -> str:
    """An unfenced whole program sometimes starts with a sentence: start at the first code line."""
    spans = definition_spans(text, lang, name or "", first_only=True) if name else []
    limit = spans[0][0] if spans else len(text)
    pattern = re.compile(rf"^[ \t]*{_CODE_START.get(lang, '.')}", re.MULTILINE)
    m = pattern.search(text, 0, limit + 1)
    start = m.start() if m and m.start() <= limit else limit
    return text[start:]


def _drop_trailing_prose(code: str) -> str:
    """Python that does not parse because a sentence follows it: the longest prefix that parses."""
    lines = code.splitlines(keepends=True)
    for end in range(len(lines), max(0, len(lines) - 40), -1):
        if end < len(lines) and not re.match(r"[A-Za-z]", lines[end]):
            continue  # cut only where an unindented line starts
        try:
            ast.parse("".join(lines[:end]))
            return "".join(lines[:end])
        except SyntaxError:
            pass
    return code


def cut_at_stop_tokens(completion: str, stop_tokens: list[str]) -> str:
    """MultiPL-E's rule: the completion ends at the first occurrence of any stop token."""
    end = len(completion)
    for tok in stop_tokens or ():
        if tok:
            i = completion.find(tok)
            if 0 <= i < end:
                end = i
    return completion[:end]


# -- assembling ------------------------------------------------------------------------------------

def assemble(problem: dict, answer: str) -> Assembled:
    """The program and tests (for ``Language.assemble``) of ``answer`` to ``problem``."""
    lang = problem["language"]
    style, code = split_answer(problem, answer)
    if style == "no_code":
        return Assembled("no_code", "", "", "")
    tests = problem.get("tests", "")
    if style == "completion":
        code = cut_at_stop_tokens(code, list(problem.get("stop_tokens") or ()))
        if not code.strip():
            return Assembled("no_code", "", "", "")
        prompt = problem.get("prompt", "")
        if lang == "prolog":  # SWI-Prolog consults the program, then runs the tests' goals
            return Assembled(style, prompt + code, tests, code)
        if lang in _BRACED and tests.lstrip().startswith("}") and \
                _depth(prompt + code) == _depth(prompt) - 1:  # the completion closed the function itself
            tests = drop_leading_close(tests)
        return _single_file(lang, prompt + code + "\n" + tests, code, style)
    build = _WHOLE.get(lang, _whole_generic)
    return build(problem, code)


_BRACED = ("cpp", "java", "cs", "js", "ts", "php", "go", "rs")


def _depth(src: str) -> int:
    """``{`` minus ``}`` outside strings and comments."""
    depth, i = 0, 0
    while i < len(src):
        j = _skip(src, i)
        if j != i:
            i = j
            continue
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return depth


def _single_file(lang: str, source: str, code: str, style: str) -> Assembled:
    if lang == "go":  # the Go language wants its tests (func TestX) in the tests file
        return Assembled(style, "", source, code)
    return Assembled(style, source, "", code)


def drop_leading_close(tests: str) -> str:
    """The tests without the ``}`` that closes the prompt's open function (when they start with one)."""
    s = tests.lstrip()
    if s.startswith("}"):
        return s[1:]
    if s.startswith("end"):  # languages closing blocks with `end`
        return s[3:]
    return tests


# C++ ------------------------------------------------------------------------------------------------

_STD_UNQUALIFIED = re.compile(r"(?<![\w:])(?:(?:vector|map|set|pair|unordered_map|unordered_set|tuple|optional|deque|"
                              r"queue|stack|priority_queue)\s*<|(?:string|stringstream)\s+[A-Za-z_&*]|"
                              r"(?:cout|cin|endl)\b)")


def _whole_cpp(problem: dict, code: str) -> Assembled:
    body = remove_blocks(code, r"\b(?:int|void|auto|signed)\s+main\s*\(")
    # the benchmark's assert()s must stay live: no NDEBUG, no redefined assert
    body = re.sub(r"^[ \t]*#[ \t]*(?:define[ \t]+NDEBUG|undef[ \t]+assert|define[ \t]+assert)\b.*$", "", body,
                  flags=re.MULTILINE)
    head = header(problem)
    if "using namespace std" not in body and code_positions(body, _STD_UNQUALIFIED):
        head += "using namespace std;\n"
    name = entry_name(problem)
    spans, cls = _chosen_definition(body, "cpp", name)
    if cls is not None:  # a LeetCode-style class: the tests call a free function with the prompt's signature
        prompt = problem.get("prompt", "")
        sig = prompt[signature_start(prompt, "cpp"):].strip().rstrip("{").rstrip()
        ret = "" if re.match(r"(?:static\s+|inline\s+)*void\b", sig) else "return "
        body += f"\n{sig} {{ {ret}{cls[0]}().{name}({', '.join(_params(sig))}); }}\n"
    tests = drop_leading_close(problem.get("tests", ""))
    if name and spans and "using namespace std" in body + head:  # `unique`, `search`...: the answer's, not std's
        tests = re.sub(rf"(\bauto\s+candidate\s*=\s*){re.escape(name)}\s*;", rf"\1::{name};", tests)
    src = f"{head}\n{body}\n{tests}"
    return Assembled("whole", src, "", code)


# Java and C# ---------------------------------------------------------------------------------------

_CLASS_OPEN = re.compile(r"\b(?:class|struct|record)\s+(\w+)[^{;()]*\{")


def _enclosing_class(src: str, pos: int) -> tuple[str, int, int] | None:
    best = None
    for m in code_positions(src, _CLASS_OPEN):
        open_idx = m.end() - 1
        close = matching_brace(src, open_idx)
        if open_idx < pos < close and (best is None or open_idx > best[1]):
            best = (m.group(1), open_idx, close)
    return best


def _chosen_definition(body: str, lang: str, name: str | None
                       ) -> tuple[list[tuple[int, int]], tuple[str, int, int] | None]:
    """([span], enclosing class or None) of the definition of ``name`` the tests should call: one the
    tests can call as it is (C++/PHP: a free function; Java/C#: a static method) before one that
    needs a wrapper (a method of a LeetCode-style class), as an answer may have both."""
    spans = definition_spans(body, lang, name) if name else []
    if not spans:
        return [], None
    found = [(span, _enclosing_class(body, span[1])) for span in spans]
    for span, cls in found:
        callable_as_is = cls is None if lang in ("cpp", "php") else \
            cls is not None and re.search(r"\bstatic\b", body[span[0]:span[1]])
        if callable_as_is:
            return [span], cls
    return [found[0][0]], found[0][1]


def _params(signature: str) -> list[str]:
    """Parameter names of a C-like signature ``... name(T1 a, Map<K, V> b) {``."""
    open_idx = signature.find("(")
    close = _matching_paren(signature, open_idx) if open_idx >= 0 else -1
    if close < 0:
        return []
    inner, parts, depth, cur = signature[open_idx + 1:close], [], 0, ""
    for c in inner:
        if c in "<([{":
            depth += 1
        elif c in ">)]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    parts.append(cur)
    names = [re.findall(r"(\w+)\s*(?:=.*)?$", p.strip()) for p in parts if p.strip()]
    return [n[0] for n in names if n]


def _whole_managed(problem: dict, code: str) -> Assembled:
    lang = problem["language"]
    name = entry_name(problem) or ""
    main = "main" if lang == "java" else "Main"
    body = remove_blocks(code, rf"\bstatic\s+(?:[\w<>\[\]]+\s+)*?(?:void|int|Task(?:<int>)?)\s+{main}\s*\(")
    tests = drop_leading_close(problem.get("tests", "")).rstrip()
    if tests.endswith("}"):  # the tests end by closing the prompt's class: their methods go into the answer's
        tests = tests[:-1]
    if lang == "java":  # the answer's own signature may declare checked exceptions (MD5's NoSuchAlgorithmException)
        tests = _throws_exception(tests, r"\bstatic\s+void\s+main\s*\([^)]*\)")
    spans, cls = _chosen_definition(body, lang, name)
    decl = body[spans[0][0]:spans[0][1]] if spans else ""
    if cls is not None and re.search(r"\bstatic\b", decl):
        _, _, close = cls
        src = f"{body[:close]}\n{tests}\n{body[close:]}"
    elif spans and cls is None:  # methods without a class
        src = f"class Problem {{\n{body}\n{tests}\n}}\n"
    elif cls is not None:  # an instance method: a static wrapper with the prompt's signature calls it
        prompt = problem.get("prompt", "")
        sig = prompt[signature_start(prompt, lang):].strip().rstrip("{").rstrip()
        if not re.search(r"\bstatic\b", sig):
            sig = "public static " + sig
        if lang == "java":
            sig = _throws_exception(sig, rf"\b{re.escape(name)}\s*\(.*\)")
        call = f"new {cls[0]}().{name}({', '.join(_params(sig))})"
        ret = "" if re.search(rf"\bvoid\s+{re.escape(name)}\b", sig) else "return "
        holder = "Problem" if not re.search(r"\b(?:class|struct|record)\s+Problem\b", body) else "OorlProblem"
        src = f"{body}\n\nclass {holder} {{\n    {sig} {{ {ret}{call}; }}\n{tests}\n}}\n"
    else:  # the function is not there: let the compiler say so
        src = f"{body}\n\nclass Problem {{\n{tests}\n}}\n"
    head = header(problem)
    if lang == "cs":  # using directives must come first
        usings = re.findall(r"^[ \t]*using[ \t]+[\w.= ]+;[ \t]*$", src, re.MULTILINE)
        src = re.sub(r"^[ \t]*using[ \t]+[\w.= ]+;[ \t]*$", "", src, flags=re.MULTILINE)
        spaces = [f"using {ns};" for ns in dict.fromkeys(re.findall(r"^[ \t]*namespace[ \t]+([\w.]+)", src, re.MULTILINE))]
        head = "".join(dict.fromkeys(ln.strip() + "\n" for ln in head.splitlines() + usings + spaces if ln.strip()))
    return Assembled("whole", head + "\n" + src, "", code)


def _throws_exception(src: str, head: str) -> str:
    """Java: the method whose declaration matches ``head`` (up to its parameters' ``)``) declares
    ``throws Exception`` unless it declares what it throws already."""
    m = re.search(head + r"(\s*throws\b)?", src, re.DOTALL)
    if m is None or m.group(1):
        return src
    return f"{src[:m.end()]} throws Exception{src[m.end():]}"


# Python --------------------------------------------------------------------------------------------

def _whole_python(problem: dict, code: str) -> Assembled:
    name = entry_name(problem)
    body = python_without_own_tests(code)
    if name and not re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b|^{re.escape(name)}[ \t]*=", body,
                              re.MULTILINE):
        m = re.search(rf"^[ \t]+def[ \t]+{re.escape(name)}\s*\(\s*self\b", body, re.MULTILINE)
        cls = re.findall(r"^class[ \t]+(\w+)", body[:m.start()], re.MULTILINE) if m else []
        if cls:  # a LeetCode-style class: the tests call a function
            body += f"\n\ndef {name}(*args, **kwargs):\n    return {cls[-1]}().{name}(*args, **kwargs)\n"
    src = f"{header(problem)}\n{body}\n\n{problem.get('tests', '')}"
    return Assembled("whole", src, "", code)


# JavaScript, TypeScript, PHP: top-level statements --------------------------------------------------

def _tests_names(tests: str, lang: str) -> set[str]:
    spans = top_level_statements(tests, asi=lang != "php") or []
    names: set[str] = set()
    for a, b in spans:
        names |= declared(tests[a:b].strip())[1]
    return names


def _php_strip_tags(code: str) -> str:
    code = re.sub(r"^\s*<\?(?:php)?", "", code, count=1)
    return re.sub(r"\?>\s*$", "", code, count=1)


def _whole_script(problem: dict, code: str) -> Assembled:
    lang = problem["language"]
    tests = problem.get("tests", "")
    body = _php_strip_tags(code) if lang == "php" else code
    name = entry_name(problem) or ""
    body = script_without_own_tests(body, lang, _tests_names(tests, lang) - {name})
    spans, cls = _chosen_definition(body, lang, name) if lang == "php" else ([], None)
    if cls is not None:  # a method of a class: the tests call a function
        body += f"\nfunction {name}(...$args) {{ return (new {cls[0]}())->{name}(...$args); }}\n"
    src = f"{header(problem)}\n{body}\n\n{tests}"
    if lang == "php":
        src = "<?php\n" + _php_strip_tags(src)
    return Assembled("whole", src, "", code)


# Bash -----------------------------------------------------------------------------------------------

def _whole_bash(problem: dict, code: str) -> Assembled:
    body = bash_without_own_tests(code)
    src = f"{header(problem)}\n{body}\n{drop_leading_close(problem.get('tests', ''))}"
    return Assembled("whole", src, "", code)


# Go, Rust, Prolog ---------------------------------------------------------------------------------------

_GO_IMPORTS = re.compile(r'^import\s*\(\s*\n?(.*?)\)\s*$|^import\s+((?:[\w.]+\s+)?"[^"]+")\s*$', re.MULTILINE | re.DOTALL)


def _go_split(src: str) -> tuple[list[tuple[str, str]], str]:
    specs: list[tuple[str, str]] = []
    for m in _GO_IMPORTS.finditer(src):
        for spec in re.findall(r'((?:[\w.]+\s+)?"[^"]+")', m.group(1) or m.group(2) or ""):
            alias, _, path = spec.rpartition(" ")
            specs.append((alias.strip(), path.strip().strip('"')))
    rest = _GO_IMPORTS.sub("", src)
    rest = re.sub(r"^\s*package\s+\w+\s*;?\s*$", "", rest, count=1, flags=re.MULTILINE)
    return specs, rest


def _whole_go(problem: dict, code: str) -> Assembled:
    h_specs, h_rest = _go_split(header(problem))
    c_specs, c_rest = _go_split(code)
    c_rest = remove_blocks(c_rest, r"^func\s+main\s*\(\s*\)")
    src = f"{h_rest}\n{c_rest}\n{drop_leading_close(problem.get('tests', ''))}"
    seen, keep = set(), []
    for alias, path in h_specs + c_specs:
        if path in seen:
            continue
        seen.add(path)
        ref = alias or path.split("/")[-1]
        if alias in ("_", ".") or re.search(rf"(?<![\w.]){re.escape(ref)}\.", src):
            keep.append(f'\t{alias + " " if alias else ""}"{path}"\n')
    imports = ("import (\n" + "".join(keep) + ")\n") if keep else ""
    return Assembled("whole", "", f"package main\n\n{imports}{src}", code)


def _whole_rust(problem: dict, code: str) -> Assembled:
    body = remove_blocks(code, r"\bfn\s+main\s*\(\s*\)")
    head = "".join(ln + "\n" for ln in header(problem).splitlines() if ln.strip() not in body)
    src = f"{head}\n{body}\n{drop_leading_close(problem.get('tests', ''))}"
    return Assembled("whole", src, "", code)


def _whole_prolog(problem: dict, code: str) -> Assembled:
    body = re.sub(r"^:-\s*initialization\b.*?\.\s*$", "", code, flags=re.MULTILINE)
    return Assembled("whole", header(problem) + "\n" + body, problem.get("tests", ""), code)


def _whole_generic(problem: dict, code: str) -> Assembled:
    return Assembled("whole", f"{header(problem)}\n{code}\n{problem.get('tests', '')}", "", code)


_WHOLE = {"py": _whole_python, "cpp": _whole_cpp, "java": _whole_managed, "cs": _whole_managed,
          "js": _whole_script, "ts": _whole_script, "php": _whole_script, "sh": _whole_bash, "go": _whole_go,
          "rs": _whole_rust, "prolog": _whole_prolog}


def problem_of_request(language: str, tests: str, fields: dict[str, str]) -> dict:
    """The problem a ``multipl-e`` judge request carries (its language, tests and layout fields)."""
    import json

    code = {v: k for k, v in LANGUAGES.items()}[language]
    return {"language": code, "prompt": fields.get("prompt", ""), "tests": tests,
            "stop_tokens": json.loads(fields.get("stop_tokens") or "[]"), "entry_point": fields.get("entry_point", "")}


def program_parts(language: str, program: str, tests: str, fields: dict[str, str]) -> tuple[str, str]:
    """(program, tests) of a ``multipl-e`` request, for the language's ``assemble``."""
    a = assemble(problem_of_request(language, tests, fields), program)
    return a.program, a.tests
