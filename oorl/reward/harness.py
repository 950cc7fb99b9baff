"""Test harnesses: how a program and its tests become a ``Program`` to judge.

Three layouts:

``generic``      a complete program plus test code, in any registered language. The tests follow
                 the program (same file, or same package/assembly for Java, C# and Go) and fail by
                 assertion, exception or nonzero exit; see each language's ``assemble``.
``humaneval-x``  HumanEval-X (C++, Go, Java, JavaScript, Python, Rust): the completion continues the
                 problem's prompt/declaration and the problem's ``test`` program checks it, assembled
                 as CodeGeeX's evaluation does (helper imports for Python/C++, Go imports added for
                 the standard packages the code uses, Go's ``test_setup``).
``multipl-e``    MultiPL-E (fields ``prompt``, ``stop_tokens``): a completion continuing the prompt, or an
                 instruct model's whole program; see ``multipl_e_program.py``.

``JudgeRequest`` is what the judge deduplicates and caches: the language, the code, the tests and
the layout fields. ``build_program`` turns it into files (with a fresh sentinel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from oorl.errors import UserError
from oorl.reward.languages import get_language, new_sentinel
from oorl.reward.sandbox import Program

LAYOUTS = ("generic", "humaneval-x", "multipl-e")
HUMANEVAL_X_LANGUAGES = {"cpp": "cpp", "go": "go", "java": "java", "js": "javascript", "javascript": "javascript",
                         "python": "python", "rust": "rust"}

PYTHON_HELPERS = ("import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
                  "import collections", "import heapq", "import statistics", "import functools", "import hashlib",
                  "import string", "from typing import *", "from collections import *",
                  "try:\n    import numpy\n    import numpy as np\nexcept ImportError:\n    pass")
CPP_HELPERS = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
               "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>", "#include<iostream>")
GO_HELPERS = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5",
              "unicode", "errors", "math/big", "container/heap", "reflect")


@dataclass(frozen=True)
class JudgeRequest:
    language: str
    program: str
    tests: str = ""
    layout: str = "generic"
    fields: tuple[tuple[str, str], ...] = field(default=())  # layout fields: prompt, declaration, ...
    stdin: str = ""

    @classmethod
    def make(cls, language: str, program: str, tests: str = "", layout: str = "generic", stdin: str = "",
             **fields: str) -> "JudgeRequest":
        lang = get_language(language).name
        if layout not in LAYOUTS:
            raise UserError(f"unknown test layout {layout!r} (known: {', '.join(LAYOUTS)})")
        kept = tuple(sorted((k, str(v)) for k, v in fields.items() if v is not None))
        return cls(lang, program, tests, layout, kept, stdin)

    def field(self, name: str, default: str = "") -> str:
        return dict(self.fields).get(name, default)


def build_program(req: JudgeRequest) -> Program:
    lang = get_language(req.language)
    sentinel = new_sentinel()
    if req.layout == "humaneval-x":
        program, tests = humaneval_x_parts(lang.name, req)
    elif req.layout == "multipl-e":  # prompt + completion + tests, or a whole program (oorl/reward/multipl_e.py)
        from oorl.reward.multipl_e_program import program_parts

        program, tests = program_parts(req.language, req.program, req.tests, dict(req.fields))
    else:
        program, tests = req.program, req.tests
        setup = req.field("test_setup")
        if setup:
            tests = f"{setup}\n{tests}"
    prog = lang.assemble(program, tests, sentinel)
    prog.stdin = req.stdin
    return prog


def humaneval_x_parts(language: str, req: JudgeRequest) -> tuple[str, str]:
    """(program, tests) of a HumanEval-X problem whose completion is ``req.program``, assembled as
    CodeGeeX's evaluation does: prompt + completion + test (Rust: declaration + completion + test)."""
    code, test = req.program, req.tests or req.field("test")
    prompt, decl = req.field("prompt"), req.field("declaration")
    if language == "python":
        return "\n".join(PYTHON_HELPERS) + "\n" + (prompt or decl) + code, test
    if language == "cpp":
        head = prompt or decl
        setup = "".join(s + "\n" for s in CPP_HELPERS if s not in head)
        return setup + "\n" + head + code, test
    if language == "go":  # one file, as in CodeGeeX: the test header's imports serve the program too
        imports = req.field("import")
        body = (prompt.replace(imports, "") if imports else prompt) if prompt else decl
        setup = req.field("test_setup") or 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
        return "", f"{setup}\n{_go_imports(code, setup)}\n{body}{code}\n{test}"
    if language in ("java", "javascript"):
        return (prompt or decl) + code, test
    if language == "rust":
        return (decl or prompt) + code, test
    raise UserError(f"the humaneval-x layout covers {', '.join(sorted(set(HUMANEVAL_X_LANGUAGES.values())))}; "
                    f"not {language!r} (use the generic layout: program + tests)")


def _go_imports(code: str, already: str) -> str:
    """An import block for the GO_HELPERS packages ``code`` uses and ``already`` does not import."""
    used = [p for p in GO_HELPERS if f'"{p}"' not in already
            and re.search(rf"(?<![\w.]){re.escape(p.split('/')[-1])}\.", code)]
    return ("import (\n" + "".join(f'    "{p}"\n' for p in used) + ")\n") if used else ""


_FENCE = re.compile(r"```[ \t]*([\w#+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str, language: str | None = None) -> str:
    """The code of a model's answer: the first fenced block tagged with the language (else the first
    fenced block, else the whole text)."""
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    if language:
        want = get_language(language)
        names = {want.name, *want.aliases}
        for tag, body in blocks:
            if tag.lower() in names:
                return body
    return blocks[0][1]
