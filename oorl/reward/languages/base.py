"""What a language is to the sandbox: how a program and its tests become files, how they are
compiled (with the compile limits) and run, and how failure shows. One ``Language`` subclass per
language, registered by name; ``get_language`` resolves names and aliases.

Every built program ends its tests by printing a per-run *sentinel* line. A run passes only if it
exits with status 0 *and* printed the sentinel, so a program that calls ``exit(0)`` from inside
the function under test (a reward hack RL finds) fails instead of passing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

from oorl.errors import UserError
from oorl.registry import Registry
from oorl.reward.jail import View
from oorl.reward.sandbox import Program, SandboxLimits, StepResult, Verdict

SENTINEL_PREFIX = "OORL-TESTS-DONE-"


def new_sentinel() -> str:
    return SENTINEL_PREFIX + secrets.token_hex(10)


@dataclass
class Ctx:
    """What a language needs to build its command lines for one phase of one program."""

    view: View
    limits: SandboxLimits
    program: Program
    memory_mb: int
    prepared: dict[str, str] = field(default_factory=dict)  # language-specific, host paths

    def job(self, name: str) -> str:
        return f"{self.view.job}/{name}"


_FOUND: dict[tuple[str, str | None], str] = {}


def _which(name: str) -> str | None:
    """``shutil.which`` once per tool and PATH: a judge asks for its interpreter at every run (a tool
    not found is looked up again, so one installed meanwhile is seen)."""
    key = (name, os.environ.get("PATH"))
    path = _FOUND.get(key)
    if path is None:
        path = shutil.which(name)
        if path:
            _FOUND[key] = path
    return path


def _rx(*patterns: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p, re.MULTILINE) for p in patterns)


class Language:
    name: str = ""
    aliases: tuple[str, ...] = ()
    source: str = ""  # the main source file
    tools: tuple[str, ...] = ()  # host executables that must exist (first one is asked its version)
    version_args: tuple[str, ...] = ("--version",)
    address_space_ok = False  # tolerates RLIMIT_AS (used only when no cgroup can be made)
    compiled = False
    memory_markers: tuple[re.Pattern, ...] = ()  # stderr/stdout: ran out of memory -> memory
    assert_markers: tuple[re.Pattern, ...] = ()  # a test said no -> failed
    crash_markers: tuple[re.Pattern, ...] = ()  # uncaught error -> runtime_error
    fail_markers: tuple[re.Pattern, ...] = ()  # failure even when the exit status is 0
    crash_before_assert = False  # a crash marker outranks an assertion marker (Go's panics)

    # -- files ------------------------------------------------------------------------------------
    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        """The generic "program + test code" form: the tests follow the program in one file."""
        return Program(self.name, {self.source: f"{program}\n\n{tests}\n{self.sentinel_code(sentinel)}\n"},
                       meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:  # a statement that prints the sentinel line
        raise NotImplementedError

    # -- toolchain --------------------------------------------------------------------------------
    def tool(self, name: str) -> str:
        path = _which(name)
        if not path:
            raise UserError(f"{self.name}: `{name}` is not installed; run `bash cluster/setup.sh` "
                            f"(the package lists are cluster/packages/apt.txt and npm.txt)")
        return path

    def missing_tools(self) -> list[str]:
        return [t for t in self.tools if not shutil.which(t)]

    def version(self) -> str:
        out = subprocess.run([self.tool(self.tools[0]), *self.version_args], capture_output=True,
                             text=True, timeout=60)
        text = (out.stdout.strip() or out.stderr.strip()).splitlines()
        return text[0] if text else "?"

    def prepare(self, limits: SandboxLimits) -> dict[str, str]:
        """One-time work (prebuilt libraries...); returns host paths the commands refer to."""
        return {}

    def binds(self, limits: SandboxLimits, prepared: dict[str, str]) -> list[tuple[str, str]]:
        """Host directories outside /usr the jail must see read-only, as (host, jail) pairs."""
        return []

    # -- commands ---------------------------------------------------------------------------------
    def compile_argv(self, ctx: Ctx) -> list[str] | None:
        return None

    def run_argv(self, ctx: Ctx) -> list[str]:
        raise NotImplementedError

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        return {}

    def extra_files(self, ctx: Ctx) -> dict[str, str]:
        """Files written next to the program's before compiling (importcfg, preloads...)."""
        return {}

    # -- verdicts ---------------------------------------------------------------------------------
    def classify_compile(self, step: StepResult) -> tuple[Verdict, str] | None:
        """None when the compilation succeeded; else the verdict and a one-line reason."""
        if step.sandbox_error:
            return Verdict.SANDBOX_ERROR, step.sandbox_error
        if step.timed_out or step.cpu_limited:
            return Verdict.COMPILE_ERROR, "compilation exceeded its time limit"
        if step.oom:
            return Verdict.COMPILE_ERROR, "compilation exceeded its memory limit"
        if step.output_exceeded:
            return Verdict.COMPILE_ERROR, "compiler output exceeded the output limit"
        if step.exit_code != 0:
            return Verdict.COMPILE_ERROR, _first_line(step.stderr or step.stdout) or f"compiler exit status {step.exit_code}"
        return None

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        text = step.stderr + "\n" + step.stdout
        if step.sandbox_error:
            return Verdict.SANDBOX_ERROR, step.sandbox_error
        if step.oom:
            return Verdict.MEMORY, "memory limit exceeded (killed)"
        if step.timed_out:
            return Verdict.TIMEOUT, "wall-clock limit exceeded"
        if step.cpu_limited:
            return Verdict.TIMEOUT, "CPU-time limit exceeded"
        if step.output_exceeded:
            return Verdict.RUNTIME_ERROR, "output limit exceeded"
        for m in self.memory_markers:
            if m.search(text):
                return Verdict.MEMORY, _first_line(m.search(text).group(0))
        if step.exit_code == 0:
            for m in self.fail_markers:
                if m.search(text):
                    return Verdict.FAILED, _first_line(m.search(text).group(0))
            if sentinel and sentinel not in step.stdout:
                return Verdict.FAILED, "exited with status 0 before the tests finished"
            return Verdict.PASSED, "all tests passed"
        if step.signal == 25:  # SIGXFSZ
            return Verdict.RUNTIME_ERROR, "file size limit exceeded"
        order = ((self.crash_markers, Verdict.RUNTIME_ERROR), (self.assert_markers, Verdict.FAILED))
        for markers, verdict in (order if self.crash_before_assert else order[::-1]):
            for m in markers:
                hit = m.search(text)
                if hit:
                    return verdict, _first_line(hit.group(0))
        if step.signal is not None:
            import signal as _signal

            try:
                name = _signal.Signals(step.signal).name
            except ValueError:
                name = str(step.signal)
            return Verdict.RUNTIME_ERROR, f"killed by {name}"
        return Verdict.FAILED, f"exit status {step.exit_code}"


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def strip_sentinel(stdout: str, sentinel: str | None) -> str:
    """The program's output without the sentinel line the harness printed (``"\\n" + sentinel + "\\n"``)."""
    if not sentinel or sentinel not in stdout:
        return stdout
    exact = f"\n{sentinel}\n"
    if exact in stdout:
        return stdout.replace(exact, "", 1)
    return "".join(line for line in stdout.splitlines(keepends=True) if sentinel not in line)


LANGUAGES: Registry[Language] = Registry("language")


def register_language(cls: type[Language]) -> type[Language]:
    lang = cls()
    LANGUAGES.add(lang.name, lang, lang.aliases)
    return cls


def get_language(name: str) -> Language:
    return LANGUAGES.get(name)


def canonical_name(name: str) -> str:
    return get_language(name).name


rx = _rx
