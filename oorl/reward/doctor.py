"""``oorl doctor``: each language's toolchain and version, prepared libraries, and whether the jail
works (isolation probes run inside it, plus a passing and a failing program per language)."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Callable

from oorl.errors import UserError
from oorl.reward.sandbox import SandboxLimits

# (program, tests) that pass; replacing "+" by "-" in the program makes them fail.
HELLO: dict[str, tuple[str, str]] = {
    "python": ("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\n"),
    "javascript": ("const add = (a, b) => a + b;\n", "console.assert(add(1, 2) === 3);\n"),
    "typescript": ("const add = (a: number, b: number): number => a + b;\n", "console.assert(add(1, 2) === 3);\n"),
    "php": ("<?php\nfunction add($a, $b) { return $a + $b; }\n", "assert(add(1, 2) === 3);\n"),
    "bash": ("add() { echo $(( $1 + $2 )); }\n", '[ "$(add 1 2)" = 3 ]\n'),
    "cpp": ("int add(int a, int b) { return a + b; }\n", "#include <cassert>\nint main() { assert(add(1, 2) == 3); }\n"),
    "rust": ("fn add(a: i32, b: i32) -> i32 { a + b }\n",
             "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() { assert_eq!(add(1, 2), 3); }\n}\n"),
    "go": ("func Add(a, b int) int { return a + b }\n",
           'import "testing"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal("Add(1, 2) != 3")\n\t}\n}\n'),
    "java": ("class Solution { int add(int a, int b) { return a + b; } }\n",
             "public class Main { public static void main(String[] a) { "
             "if (new Solution().add(1, 2) != 3) throw new AssertionError(); } }\n"),
    "csharp": ("class Solution { public static int Add(int a, int b) { return a + b; } }\n",
               "class Tests { static void Main() { System.Diagnostics.Debug.Assert(Solution.Add(1, 2) == 3); } }\n"),
    "llvm_ir": ("define i32 @add(i32 %a, i32 %b) {\n  %r = add i32 %a, %b\n  ret i32 %r\n}\n",
                '#include <cassert>\nextern "C" int add(int, int);\nint main() { assert(add(1, 2) == 3); }\n'),
    "prolog": ("add(X, Y, Z) :- Z is X + Y.\n", "add(1, 2, 3).\n"),
}

# Run inside the jail by the system Python: each line prints "name: ok" or "name: LEAK ...".
PROBES = r"""
import os, socket
def probe(name, fn):
    try:
        fn()
        print(f"{name}: LEAK")
    except Exception as e:
        print(f"{name}: ok ({type(e).__name__})")
probe("network (connect 1.1.1.1:53)", lambda: socket.create_connection(("1.1.1.1", 53), timeout=1))
probe("read /etc/shadow", lambda: open("/etc/shadow").read())
probe("list /root", lambda: os.listdir("/root"))
probe("list /home", lambda: os.listdir("/home"))
probe("write /usr", lambda: open("/usr/oorl-probe", "w"))
probe("write /etc", lambda: open("/etc/oorl-probe", "w"))
probe("write /job (program files)", lambda: open("/job/oorl-probe", "w"))
def host_processes():
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    if len(pids) < 8:
        raise LookupError(f"{len(pids)} processes visible")
probe("see host processes", host_processes)
print("uid:", os.getuid(), "pid:", os.getpid(), "cwd:", os.getcwd(), "writable:", os.access(".", os.W_OK))
"""


def report(echo: Callable[[str], None], run_checks: bool = True, limits: SandboxLimits | None = None) -> bool:
    from oorl.reward.executor import Executor
    from oorl.reward.harness import JudgeRequest, build_program
    from oorl.reward.languages import LANGUAGES

    lim = limits or SandboxLimits(wall_s=10, cpu_s=10)
    ok = True
    bwrap = shutil.which("bwrap")
    ver = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip() if bwrap else ""
    echo(f"jail: {ver or 'bubblewrap NOT INSTALLED'} (mode {lim.mode})")
    try:
        ex = Executor(lim)
    except UserError as e:
        echo(f"  FAIL: {e}")
        return False
    cg = ex.jail.cgroups
    echo("  memory/process caps: " + (cg.describe() if cg else
                                       "no writable cgroup: fallback (RLIMIT_AS where tolerated + RSS watchdog, RLIMIT_NPROC)"))
    if ex.jail.zygotes is not None:
        echo("  persistent jails: on (a jail per judging thread forks each run; see oorl/reward/zygote.py)")
    elif lim.mode == "bwrap":
        why = ("off (reward.sandbox.persistent_jail)" if not lim.persistent_jail else
               "unavailable (needs a C compiler and a cgroup with memory and pids caps): one-shot jails")
        echo(f"  persistent jails: {why}")
    if run_checks:
        res = ex.run(build_program(JudgeRequest.make("python", PROBES, "")))
        for line in res.stdout.strip().splitlines():
            echo(f"  {line}")
            if "LEAK" in line:
                ok = False
        if res.status.value != "passed":
            ok = False
            echo(f"  isolation probe did not run: {res.status.value}: {res.detail}")
    echo("languages:")
    for name, lang in sorted(LANGUAGES.items()):
        missing = lang.missing_tools()
        if missing:
            ok = False
            echo(f"  {name:11s} MISSING {', '.join(missing)}")
            continue
        try:
            version = lang.version()
            prep = ex.prepared(lang)
        except UserError as e:
            ok = False
            echo(f"  {name:11s} BROKEN: {e}")
            continue
        extra = [k for k in prep if k not in ("deps", "sysroot", "importcfg", "pkg", "tooldir")]
        line = f"  {name:11s} {version}" + (f"  [crates: {', '.join(extra)}]" if extra else "")
        if name == "go":
            line += "  [packages: " + ", ".join(lim.go_packages) + "]"
        if run_checks and name in HELLO:
            prog, tests = HELLO[name]
            bad = prog.replace("a + b", "a - b").replace("$a + $b", "$a - $b").replace("$1 + $2", "$1 - $2") \
                .replace("X + Y", "X - Y").replace("add i32", "sub i32")
            t0 = time.monotonic()
            good_res = ex.run(build_program(JudgeRequest.make(name, prog, tests)))
            bad_res = ex.run(build_program(JudgeRequest.make(name, bad, tests)))
            fine = good_res.passed and bad_res.status.value in ("failed", "runtime_error")
            ok &= fine
            line += (f"  check: {'ok' if fine else 'FAIL'} (pass->{good_res.status.value}, "
                     f"wrong->{bad_res.status.value}, {time.monotonic() - t0:.2f}s)")
            if not fine:
                line += f"\n      {good_res.detail} | {bad_res.detail}"
        echo(line)
    echo("everything works" if ok else "some checks failed (see above)")
    ex.close()
    return ok
