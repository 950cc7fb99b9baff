"""Languages compiled to a VM: Java (javac/java), C# (Mono's mcs/mono), TypeScript (tsc, then Node).
Each run starts through a small generated runner that calls the tests' entry point and prints the
sentinel only when it returns normally."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from oorl.reward.languages.base import Ctx, Language, register_language, rx
from oorl.reward.languages.scripted import _JS_PRELUDE, _NodeBased
from oorl.reward.languages.source_edit import code_positions, matching_brace, next_code_char, split_java_imports
from oorl.reward.sandbox import Program

_PUBLIC_CLASS = re.compile(r"^public\s+(?:(?:final|abstract|strictfp)\s+)*(?:class|interface|enum|record)\s+(\w+)",
                           re.MULTILINE)
_MAIN = re.compile(r"\bstatic\s+(?:[\w<>\[\]]+\s+)*(?:void|int|Task(?:<int>)?)\s+[Mm]ain\s*\(")
_CLASS = re.compile(r"\b(?:class|struct|record|interface|enum)\s+(\w+)")


def _entry_path(src: str) -> list[str] | None:
    """The classes whose bodies hold the first ``static ... main(`` of ``src``, outermost first (a
    class declared earlier that does not enclose it, such as a local class in a method before
    ``main``, is not one of them); None without a ``main``."""
    mains = code_positions(src, _MAIN)
    if not mains:
        return None
    at = mains[0].start()
    before = [m for m in code_positions(src, _CLASS) if m.start() < at]
    enclosing = []
    for m in before:
        open_idx = next_code_char(src, m.end(), "{;")
        if open_idx < 0 or open_idx > at or src[open_idx] != "{":
            continue
        close = matching_brace(src, open_idx)
        if close < 0 or close > at:  # unbalanced: taken to run to the end
            enclosing.append(m.group(1))
    if enclosing:
        return enclosing
    return [before[-1].group(1)] if before else None


def _entry_class(src: str) -> str | None:
    """The (innermost) class whose body holds the first ``static ... main(`` of ``src``."""
    path = _entry_path(src)
    return path[-1] if path else None


def _jvm_heap(mb: int) -> int:
    return max(32, int(mb * 0.5))


# Libraries on every Java program's class path when installed (the jail sees /usr as it is):
# javatuples, which MultiPL-E's Java prompts import (Debian libjavatuples-java, cluster/packages/apt.txt).
JAVA_LIBRARIES = ("/usr/share/java/javatuples.jar",)


def java_class_path() -> list[str]:
    return [p for p in JAVA_LIBRARIES if os.path.isfile(p)]


@register_language
class Java(Language):
    name, aliases, source = "java", (), "Main.java"
    tools = ("javac", "java")
    version_args = ("-version",)
    compiled = True
    memory_markers = rx(r"java\.lang\.OutOfMemoryError.*")
    assert_markers = rx(r"java\.lang\.AssertionError.*", r"\bAssertionFailedError\b.*")
    crash_markers = rx(r"^Exception in thread .*", r"^Error: .*", r"^\w+(\.\w+)*(Exception|Error)\b.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        imp_p, body_p = split_java_imports(program)
        imp_t, body_t = split_java_imports(tests)
        pub_p = next((m.group(1) for m in code_positions(body_p, _PUBLIC_CLASS)), None)
        pub_t = next((m.group(1) for m in code_positions(body_t, _PUBLIC_CLASS)), None)
        path = _entry_path(body_t) or _entry_path(body_p) or ["Main"]
        entry = path[-1]
        head_p = "\n".join(dict.fromkeys(imp_p))
        head_all = "\n".join(dict.fromkeys(imp_p + imp_t))
        if pub_p and pub_t and pub_p != pub_t:  # two public classes need two files
            files = {f"{pub_p}.java": f"{head_p}\n{body_p}\n", f"{pub_t}.java": f"{head_all}\n{body_t}\n"}
        else:
            files = {f"{pub_t or pub_p or entry}.java": f"{head_all}\n{body_p}\n\n{body_t}\n"}
        files["OorlRunner.java"] = (
            "public class OorlRunner {\n    public static void main(String[] args) throws Throwable {\n"
            f"        {'.'.join(path)}.main(args);\n        System.out.flush();\n"
            f'        System.out.print("\\n{sentinel}\\n");\n        System.out.flush();\n    }}\n}}\n')
        return Program(self.name, files, entry=entry, meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return f'System.out.print("\\n{sentinel}\\n");'

    def _jvm(self) -> list[str]:
        return ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:-UsePerfData", "-Xss8m"]

    def compile_argv(self, ctx: Ctx) -> list[str]:
        javac = ctx.view.path(os.path.realpath(self.tool("javac")))
        flags = [f"-J{f}" for f in self._jvm()] + [f"-J-Xmx{_jvm_heap(ctx.memory_mb)}m"]
        srcs = [ctx.job(f) for f in sorted(ctx.program.files) if f.endswith(".java")]
        libs = [ctx.view.path(p) for p in java_class_path()]
        return [javac, *flags, "-proc:none", "-g:none", "-nowarn", "-encoding", "UTF-8", "-Xlint:none",
                *(["-cp", ":".join(libs)] if libs else []), "-d", ctx.job("classes"), *srcs]

    def run_argv(self, ctx: Ctx) -> list[str]:
        java = ctx.view.path(os.path.realpath(self.tool("java")))
        cp = ":".join([ctx.job("classes"), *(ctx.view.path(p) for p in java_class_path())])
        return [java, *self._jvm(), f"-Xmx{_jvm_heap(ctx.memory_mb)}m", "-ea", "-cp", cp, "OorlRunner"]


_CS_RUNNER = """using System;
using System.Diagnostics;
using System.Reflection;

class OorlAssertListener : TraceListener {
    public override void Write(string m) {}
    public override void WriteLine(string m) {}
    public override void Fail(string m) { throw new Exception("Assertion failed: " + m); }
    public override void Fail(string m, string d) { throw new Exception("Assertion failed: " + m + " " + d); }
}

static class OorlRunner {
    static int Main(string[] args) {
        Trace.Listeners.Clear();
        Trace.Listeners.Add(new OorlAssertListener());
        MethodInfo entry = null;
        foreach (Type t in Assembly.GetExecutingAssembly().GetTypes()) {
            if (t.Name == "OorlRunner" || (ENTRY != null && t.Name != ENTRY)) continue;
            foreach (MethodInfo m in t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
                if (m.Name == "Main") { entry = m; break; }
            if (entry != null) break;
        }
        if (entry == null) { Console.Error.WriteLine("Error: no static Main method in the tests"); return 2; }
        object r;
        try {
            r = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : new object[] { args });
            var task = r as System.Threading.Tasks.Task;
            if (task != null) { task.GetAwaiter().GetResult(); var p = task.GetType().GetProperty("Result"); r = p == null ? null : p.GetValue(task); }
        } catch (TargetInvocationException e) {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
        int code = r is int ? (int)r : 0;
        if (code == 0) { Console.Out.Flush(); Console.Out.Write("\\nSENTINEL\\n"); Console.Out.Flush(); }
        return code;
    }
}
"""


@register_language
class CSharp(Language):
    name, aliases, source = "csharp", ("c#", "cs", "mono"), "program.cs"
    tools = ("mcs", "mono")
    compiled = True
    memory_markers = rx(r"System\.OutOfMemoryException.*", r"Out of memory.*")
    assert_markers = rx(r"Assertion failed.*")
    crash_markers = rx(r"^Unhandled Exception:.*", r"^\[ERROR\] FATAL UNHANDLED EXCEPTION.*",
                       r"^\w+(\.\w+)*Exception\b.*")
    fail_markers = rx(r"^Unhandled Exception:.*", r"^\[ERROR\] FATAL UNHANDLED EXCEPTION.*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        entry = _entry_class(tests) or _entry_class(program)
        runner = _CS_RUNNER.replace("SENTINEL", sentinel).replace("ENTRY", json.dumps(entry) if entry else "null")
        if entry is None:
            runner = runner.replace("(null != null && t.Name != null)", "false")
        files = {self.source: program + "\n", "tests.cs": tests + "\n", "oorl_runner.cs": runner}
        return Program(self.name, files, entry=entry, meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return f'System.Console.Out.Write("\\n{sentinel}\\n");'

    def compile_argv(self, ctx: Ctx) -> list[str]:
        srcs = [ctx.job(f) for f in sorted(ctx.program.files) if f.endswith(".cs")]
        return [ctx.view.path(self.tool("mcs")), "-nologo", "-warn:0", "-optimize-", "-d:DEBUG", "-d:TRACE",
                "-main:OorlRunner", "-r:System.Numerics", f"-out:{ctx.job('prog.exe')}", *srcs]

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("mono")), ctx.job("prog.exe")]

    def env(self, ctx: Ctx, phase: str) -> dict[str, str]:
        return {"MONO_GC_PARAMS": f"max-heap-size={max(32, int(ctx.memory_mb * 0.6))}m",
                "MONO_ENV_OPTIONS": "", "XDG_CONFIG_HOME": "/tmp"}


@register_language
class TypeScript(_NodeBased):
    name, aliases, source = "typescript", ("ts",), "main.ts"
    tools = ("node", "tsc")
    compiled = True

    def version(self) -> str:
        import subprocess

        tsc = subprocess.run([self.tool("node"), self._tsc_js(), "--version"], capture_output=True, text=True)
        node = subprocess.run([self.tool("node"), "--version"], capture_output=True, text=True)
        return f"tsc {tsc.stdout.strip().removeprefix('Version ')} on node {node.stdout.strip()}"

    def _tsc_js(self) -> str:
        return str(Path(os.path.realpath(self.tool("tsc"))).parent.parent / "lib" / "tsc.js")

    def _types_root(self) -> str | None:
        root = Path(os.path.realpath(self.tool("tsc"))).parents[2] / "@types"
        return str(root) if (root / "node").is_dir() else None

    def extra_files(self, ctx: Ctx) -> dict[str, str]:
        opts = {"target": "es2022", "module": "commonjs", "lib": ["es2022"], "skipLibCheck": True,
                "noEmitOnError": True, "strict": False, "outDir": "out", "rootDir": ".", "types": []}
        files = [self.source]
        types = self._types_root()
        if types:
            opts.update(types=["node"], typeRoots=[ctx.view.path(types)])
        else:  # without @types/node: the few globals tests use
            opts["lib"] = ["es2022", "dom"]
            files.append("oorl_globals.d.ts")
        return {"tsconfig.json": json.dumps({"compilerOptions": opts, "files": files}),
                "oorl_globals.d.ts": "declare var require: any;\ndeclare var process: any;\n",
                "oorl_prelude.js": _JS_PRELUDE}

    def compile_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("node")), f"--max-old-space-size={max(64, int(ctx.memory_mb * 0.6))}",
                ctx.view.path(self._tsc_js()), "-p", ctx.job("tsconfig.json")]

    def run_argv(self, ctx: Ctx) -> list[str]:
        return [ctx.view.path(self.tool("node")), *self.node_flags(ctx), "--require", ctx.job("oorl_prelude.js"),
                ctx.job("out/main.js")]
