"""Natively compiled languages: C++ (g++), Rust (rustc, with prebuilt crates), Go (compile/link
with prebuilt packages, no build cache)."""

from __future__ import annotations

import re
from pathlib import Path

from oorl.reward.jail import JAIL_OPT
from oorl.reward.languages import prepared
from oorl.reward.languages.base import Ctx, Language, register_language, rx
from oorl.reward.languages.source_edit import code_positions, rename_c_main, rename_func
from oorl.reward.sandbox import Program, SandboxLimits


@register_language
class Cpp(Language):
    name, aliases, source = "cpp", ("c++", "cxx", "cc"), "main.cpp"
    tools = ("g++",)
    compiled = True
    address_space_ok = True
    memory_markers = rx(r"std::bad_alloc.*")
    assert_markers = rx(r"Assertion [`'].*' failed.*", r"Assertion .* failed\.")
    crash_markers = rx(r"terminate called .*", r"^\w*(Error|Exception)\b.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        return Program(self.name, {self.source: wrap_c_main(f"{program}\n\n{tests}\n", sentinel)},
                       meta={"sentinel": sentinel})

    def compile_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("g++")), "-std=c++17", "-O0", "-pipe", "-w", "-o", ctx.job("prog"),
                ctx.job(self.source), "-lcrypto", "-lm"]

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.job("prog")]


def wrap_c_main(src: str, sentinel: str) -> str:
    """The tests' main() becomes oorl_tests_main(); a new main() runs it, then prints the sentinel."""
    src, found, takes_args = rename_c_main(src, "oorl_tests_main")
    if not found:
        return src
    call = "oorl_tests_main(argc, argv)" if takes_args else "oorl_tests_main()"
    return (f"{src}\n#include <cstdio>\nint main(int argc, char** argv) {{\n    (void)argc; (void)argv;\n"
            f"    int oorl_status = {call};\n"
            f'    if (oorl_status == 0) {{ std::fputs("\\n{sentinel}\\n", stdout); std::fflush(stdout); }}\n'
            f"    return oorl_status;\n}}\n")


@register_language
class Rust(Language):
    """``#[test]`` functions in the tests run with libtest (one thread, name order); a last test
    prints the sentinel. Otherwise the tests' (or program's) ``fn main`` is wrapped."""

    name, aliases, source = "rust", ("rs",), "main.rs"
    tools = ("rustc",)
    compiled = True
    address_space_ok = True
    memory_markers = rx(r"memory allocation of \d+ bytes failed.*")
    assert_markers = rx(r"^assertion (failed|`left [!=]= right` failed).*")
    crash_markers = rx(r"panicked at .*", r"has overflowed its stack.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        if "#[test]" in tests:
            src = f"{program}\n\n{tests}\n{self._sentinel_test(sentinel)}"
            return Program(self.name, {self.source: src}, entry="test", meta={"sentinel": sentinel})
        src = f"{program}\n\n{tests}\n"
        src, found = rename_func(src, r"\bfn\s+main\s*\(\s*\)", "fn oorl_tests_main()")
        if found:
            src += ("\nfn main() -> impl std::process::Termination {\n    let r = oorl_tests_main();\n"
                    f"    {self.sentinel_code(sentinel)}\n    r\n}}\n")
        return Program(self.name, {self.source: src}, entry="main", meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return ("{ use std::io::Write; let mut o = std::io::stdout(); "
                f'let _ = o.write_all(b"\\n{sentinel}\\n"); let _ = o.flush(); }}')

    def _sentinel_test(self, sentinel: str) -> str:
        return f"\n#[test]\nfn zzzzzzzz_oorl_sentinel() {{ {self.sentinel_code(sentinel)} }}\n"

    def prepare(self, limits: SandboxLimits) -> dict[str, str]:
        return {"sysroot": prepared.rust_sysroot(), **prepared.rust_crates(limits)}

    def binds(self, limits: SandboxLimits, prep: dict[str, str]) -> list[tuple[str, str]]:
        b = [] if prep["sysroot"].startswith("/usr/") else [(prep["sysroot"], f"{JAIL_OPT}/rust")]
        if "deps" in prep:
            b.append((prep["deps"], f"{JAIL_OPT}/rust-crates"))
        return b

    def version(self) -> str:
        import subprocess

        return subprocess.run([f"{prepared.rust_sysroot()}/bin/rustc", "--version"], capture_output=True,
                              text=True).stdout.strip()

    def compile_argv(self, ctx: Ctx) -> list[str]:
        p = ctx.prepared
        argv = [ctx.view.path(f"{p['sysroot']}/bin/rustc"), "--edition", "2021", "-C", "opt-level=0",
                "-C", "debuginfo=0", "-A", "warnings", "-o", ctx.job("prog"), ctx.job(self.source)]
        if ctx.program.entry == "test":
            argv.insert(1, "--test")
        if "deps" in p:
            argv += ["-L", f"dependency={ctx.view.path(p['deps'])}"]
            src = ctx.program.files.get(self.source, "")
            for crate, rlib in p.items():
                if crate not in ("deps", "sysroot") and re.search(rf"\b{crate}\b", src):
                    argv += ["--extern", f"{crate}={ctx.view.path(rlib)}"]
        return argv

    def run_argv(self, ctx: Ctx) -> list[str]:
        if ctx.program.entry == "test":
            return [ctx.job("prog"), "--test-threads=1"]
        return [ctx.job("prog")]

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        return {"RUST_BACKTRACE": "0"}


_GO_PACKAGE = re.compile(r"^\s*package\s+\w+\s*;?\s*$", re.MULTILINE)
_GO_TEST = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)


@register_language
class Go(Language):
    """Package main in two files (program, tests) plus a generated main: ``func TestXxx(t *testing.T)``
    tests run through ``testing.Main`` followed by a sentinel test; otherwise the tests' ``func main``
    is wrapped. Compiled with ``go tool compile``/``link`` against prebuilt packages (no build cache)."""

    name, aliases, source = "go", ("golang",), "program.go"
    tools = ("go",)
    version_args = ("version",)
    compiled = True
    memory_markers = rx(r"fatal error: runtime: out of memory.*", r"runtime: out of memory.*")
    assert_markers = rx(r"^--- FAIL: .*", r"^\s+Error:\s+.*")
    crash_markers = rx(r"^panic: .*", r"^fatal error: .*")
    crash_before_assert = True

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        files = {self.source: _as_main_package(program), "tests.go": _as_main_package(tests)}
        names = [m.group(1) for m in code_positions(files["tests.go"], _GO_TEST)]
        main_pat = r"^func\s+main\s*\(\s*\)"
        if names:
            for f in files:
                files[f], _ = rename_func(files[f], main_pat, "func oorl_program_main()")
            listed = "".join(f'\t\t{{"{n}", {n}}},\n' for n in names)
            files["oorl_main.go"] = (
                'package main\n\nimport (\n\t"os"\n\t"testing"\n)\n\n'
                f'func oorlSentinel(t *testing.T) {{ os.Stdout.WriteString("\\n{sentinel}\\n") }}\n\n'
                "func main() {\n\ttesting.Main(func(pat, str string) (bool, error) { return true, nil },\n"
                f'\t\t[]testing.InternalTest{{\n{listed}\t\t{{"TestZzzzOorlSentinel", oorlSentinel}},\n\t\t}}, nil, nil)\n}}\n')
            return Program(self.name, files, entry="test", meta={"sentinel": sentinel})
        for f in ("tests.go", self.source):
            files[f], found = rename_func(files[f], main_pat, "func oorl_tests_main()")
            if found:
                files["oorl_main.go"] = (
                    'package main\n\nimport "os"\n\nfunc main() {\n\toorl_tests_main()\n'
                    f'\tos.Stdout.WriteString("\\n{sentinel}\\n")\n}}\n')
                break
        return Program(self.name, files, entry="main", meta={"sentinel": sentinel})

    def prepare(self, limits: SandboxLimits) -> dict[str, str]:
        return prepared.go_packages(limits)

    def binds(self, limits: SandboxLimits, prep: dict[str, str]) -> list[tuple[str, str]]:
        b = [(prep["pkg"], f"{JAIL_OPT}/go-pkg")]
        if not prep["tooldir"].startswith("/usr/"):
            b.append((str(Path(prep["tooldir"]).parents[2]), f"{JAIL_OPT}/goroot"))
        return b

    def extra_files(self, ctx: Ctx) -> dict[str, str]:
        cfg = Path(ctx.prepared["importcfg"]).read_text()
        return {"importcfg": cfg.replace("@PKG@", ctx.view.path(ctx.prepared["pkg"]))}

    def compile_argv(self, ctx: Ctx) -> list[str]:
        tools = ctx.view.path(ctx.prepared["tooldir"])
        files = " ".join(ctx.job(f) for f in sorted(ctx.program.files) if f.endswith(".go"))
        cfg, out = ctx.job("importcfg"), ctx.job("main.a")
        script = (f"{tools}/compile -p main -complete -pack -importcfg {cfg} -o {out} {files} && "
                  f"{tools}/link -s -w -buildmode=exe -importcfg {cfg} -o {ctx.job('prog')} {out}")
        return ["/bin/sh", "-c", script]

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.job("prog")]

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        if phase == "run":
            return {"GOMEMLIMIT": f"{max(16, int(ctx.memory_mb * 0.8))}MiB", "GOTRACEBACK": "single"}
        return {"GOGC": "400"}


def _as_main_package(src: str) -> str:
    src = _GO_PACKAGE.sub("", src, count=1) if _GO_PACKAGE.search(src) else src
    return "package main\n\n" + src.lstrip("\n")
