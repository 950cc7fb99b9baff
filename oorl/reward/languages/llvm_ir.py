"""LLVM IR judged by a C++ test program (the OORL IR groups; a model's C++ -> IR translation).

``assemble(program=IR text, tests=C++ test program)`` writes ``prog.ll`` and ``test.cpp`` (the test
program declares the function(s) the IR defines, with C++ linkage, and runs the tests in ``main``;
its ``main`` is wrapped to print the run's sentinel, as for C++). They are built together by
``clang++ -O0 prog.ll test.cpp`` (clang 14 reads ``.ll`` files as IR) and run.

``Program(..., entry="script")`` is the batch form the IR-group builder uses to do many clang calls
in one jail: the files hold ``build.sh`` (run as the compile step, job directory writable) and
``run.sh`` (run as the run step, job directory read-only); both see ``$CLANGXX`` (clang++ as the
jail shows it) and ``$JOB`` (the job directory), and report what they did on stdout themselves.
"""

from __future__ import annotations

from oorl.reward.languages.base import Ctx, Language, register_language, rx
from oorl.reward.languages.native import wrap_c_main
from oorl.reward.sandbox import Program

IR_FILE, TEST_FILE = "prog.ll", "test.cpp"


@register_language
class LlvmIr(Language):
    name, aliases, source = "llvm_ir", ("llvm", "llvm-ir", "ll"), IR_FILE
    tools = ("clang++",)
    compiled = True
    address_space_ok = True
    memory_markers = rx(r"std::bad_alloc.*")
    assert_markers = rx(r"Assertion [`'].*' failed.*", r"Assertion .* failed\.")
    crash_markers = rx(r"terminate called .*", r"^\w*(Error|Exception)\b.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        return Program(self.name, {IR_FILE: program, TEST_FILE: wrap_c_main(tests, sentinel)},
                       meta={"sentinel": sentinel})

    def compile_argv(self, ctx: Ctx) -> list[str]:
        if ctx.program.entry == "script":
            return ["/bin/sh", ctx.job("build.sh")]
        return [ctx.view.path(self.tool("clang++")), "-O0", "-w", "-o", ctx.job("prog"), ctx.job(IR_FILE),
                ctx.job(TEST_FILE), "-lm"]

    def run_argv(self, ctx: Ctx) -> list[str]:
        if ctx.program.entry == "script":
            return ["/bin/sh", ctx.job("run.sh")]
        return [ctx.job("prog")]

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        if ctx.program.entry == "script":
            return {"CLANGXX": ctx.view.path(self.tool("clang++")), "JOB": ctx.view.job}
        return {}
