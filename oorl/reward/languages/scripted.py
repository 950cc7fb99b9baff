"""Interpreted languages: Python, JavaScript, PHP, Bash. One file, no compilation."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from oorl.reward.languages.base import Ctx, Language, register_language, rx
from oorl.reward.sandbox import Program, StepResult, Verdict


def _system_tool(name: str, fallback: str) -> str:
    """Prefer the system's interpreter (/usr), which is what the jail shows."""
    for cand in (f"/usr/bin/{name}", f"/usr/local/bin/{name}"):
        if os.access(cand, os.X_OK):
            return cand
    return fallback


@register_language
class Python(Language):
    name, aliases, source = "python", ("py", "python3"), "main.py"
    tools = ("python3",)
    address_space_ok = True
    memory_markers = rx(r"^MemoryError\b.*")
    assert_markers = rx(r"^AssertionError\b.*")
    crash_markers = rx(r"^\w*(Error|Exception|Interrupt|Exit)\b.*", r"^Traceback \(most recent call last\):")

    def tool(self, name: str) -> str:
        return _system_tool(name, super().tool(name))

    def sentinel_code(self, sentinel: str) -> str:
        return f"\n__import__('sys').stdout.flush()\n__import__('os').write(1, b'\\n{sentinel}\\n')"

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("python3")), "-I", "-B", ctx.job(self.source)]

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        err = step.stderr
        if step.exit_code == 1 and "Traceback (most recent call last)" not in err:
            m = re.search(r"^(SyntaxError|IndentationError|TabError): .*", err, re.MULTILINE)
            if m:
                return Verdict.COMPILE_ERROR, m.group(0)[:300]
        return super().classify_run(step, sentinel)


_JS_PRELUDE = """'use strict';
// OORL: console.assert fails the run (Node only prints), and the program cannot undo it.
const oorlAssert = (cond, ...msg) => {
  if (!cond) {
    const e = new Error('Assertion failed' + (msg.length ? ': ' + msg.join(' ') : ''));
    e.name = 'AssertionError';
    throw e;
  }
};
Object.defineProperty(console, 'assert', { value: oorlAssert, writable: false, configurable: false });
"""


class _NodeBased(Language):
    memory_markers = rx(r"JavaScript heap out of memory.*", r"RangeError: Array buffer allocation failed.*",
                        r"Reached heap limit.*")
    assert_markers = rx(r"^AssertionError\b.*", r"Assertion failed.*")
    crash_markers = rx(r"^\w*(Error|Exception)\b.*", r"^Uncaught\b.*", r"^node:internal.*")
    fail_markers = rx(r"^Assertion failed.*")

    def sentinel_code(self, sentinel: str) -> str:
        return f"\nrequire('fs').writeSync(1, '\\n{sentinel}\\n');"

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        err = step.stderr
        m = re.search(r"^SyntaxError: .*", err, re.MULTILINE)
        if m and step.exit_code == 1 and ("wrapSafe" in err or "internalCompileFunction" in err):
            return Verdict.COMPILE_ERROR, m.group(0)[:300]  # the file did not parse
        return super().classify_run(step, sentinel)

    def node_flags(self, ctx: Ctx) -> list[str]:
        heap = max(32, int(ctx.memory_mb * 0.6))
        return [f"--max-old-space-size={heap}", "--no-warnings"]

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        # globally installed packages (cluster/packages/npm.txt, e.g. js-md5) can be required
        return {"NODE_NO_WARNINGS": "1", "NODE_PATH": ctx.view.path(self.global_modules())}

    def global_modules(self) -> str:
        return str(Path(os.path.realpath(self.tool("node"))).parent.parent / "lib" / "node_modules")


@register_language
class JavaScript(_NodeBased):
    name, aliases, source = "javascript", ("js", "node", "nodejs"), "main.js"
    tools = ("node",)

    def extra_files(self, ctx: Ctx) -> dict[str, str]:
        return {"oorl_prelude.js": _JS_PRELUDE}

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("node")), *self.node_flags(ctx), "--require",
                ctx.job("oorl_prelude.js"), ctx.job(self.source)]


def _php_body(code: str) -> str:
    code = code.strip()
    if code.startswith("<?php"):
        code = code[5:]
    elif code.startswith("<?"):
        code = code[2:]
    if code.rstrip().endswith("?>"):
        code = code.rstrip()[:-2]
    return code


@register_language
class PHP(Language):
    name, aliases, source = "php", (), "main.php"
    tools = ("php",)
    address_space_ok = True
    memory_markers = rx(r"Allowed memory size of \d+ bytes exhausted.*", r"Out of memory.*")
    assert_markers = rx(r"Uncaught AssertionError.*", r"^AssertionError\b.*")
    crash_markers = rx(r"PHP (Fatal|Parse) error:.*", r"^(Fatal|Parse) error:.*", r"Uncaught \w+.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        src = f"<?php\n{_php_body(program)}\n\n{_php_body(tests)}\n{self.sentinel_code(sentinel)}\n"
        return Program(self.name, {self.source: src}, meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return f'fwrite(STDOUT, "\\n{sentinel}\\n");'

    def run_argv(self, ctx: Ctx) -> list[str]:
        mem = max(16, int(ctx.memory_mb * 0.8))
        return [ctx.view.path(self.tool("php")), "-d", "zend.assertions=1", "-d", "assert.exception=1",
                "-d", f"memory_limit={mem}M", "-d", "display_errors=stderr", "-d", "log_errors=0",
                "-d", "error_reporting=E_ALL", ctx.job(self.source)]

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        m = re.search(r"(PHP )?Parse error:.*", step.stderr + step.stdout)
        if m and step.exit_code != 0:
            return Verdict.COMPILE_ERROR, m.group(0)[:300]
        return super().classify_run(step, sentinel)


@register_language
class Bash(Language):
    """Tests run under ``set -e``: a failing test command fails the run."""

    name, aliases, source = "bash", ("sh", "shell"), "main.sh"
    tools = ("bash",)
    address_space_ok = True
    memory_markers = rx(r"xmalloc: .*cannot allocate.*", r"Cannot allocate memory.*")
    crash_markers = rx(r"syntax error.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        src = f"{program}\n\n# --- tests ---\nset -e\n{tests}\n{self.sentinel_code(sentinel)}\n"
        return Program(self.name, {self.source: src}, meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return f"printf '\\n%s\\n' {json.dumps(sentinel)}"

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(_system_tool("bash", self.tool("bash"))), ctx.job(self.source)]

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        m = re.search(r"^.*: syntax error.*", step.stderr, re.MULTILINE)
        if m and step.exit_code == 2:  # bash exits 2 when the script does not parse
            return Verdict.COMPILE_ERROR, m.group(0)[:300]
        return super().classify_run(step, sentinel)
