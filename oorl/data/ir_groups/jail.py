"""The builder's jailed clang work, batched: one jail run emits every IR a problem needs, one more
builds and runs every candidate IR against the problem's test program (``llvm_ir`` scripts)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from oorl.reward.executor import Executor
from oorl.reward.languages import new_sentinel
from oorl.reward.languages.native import wrap_c_main
from oorl.reward.sandbox import Program, SandboxLimits

RUN_TIMEOUT_S = 3  # per candidate executable
RUNS = 2  # each executable runs twice (fresh stack and address layout): a verdict must repeat


def builder_limits() -> SandboxLimits:
    """One jail run holds many clang calls and test runs: the per-run limits are the batch's."""
    return SandboxLimits(wall_s=600, cpu_s=600, compile_wall_s=900, compile_cpu_s=900, output_keep_kb=32768,
                         output_limit_kb=65536, memory_mb=1024, compile_memory_mb=2048)


@dataclass
class Built:
    """One candidate's fate: ``status`` passed | failed | timeout | exit0_early | flaky (the runs
    disagree) | compile_error | sandbox_error."""

    status: str
    detail: str = ""


class ClangJail:
    def __init__(self, executor: Executor | None = None):
        self.executor = executor or Executor(builder_limits())

    def emit(self, sources: dict[str, tuple[str, str]]) -> dict[str, tuple[str | None, str]]:
        """``{name: (C++ source, level)}`` -> ``{name: (IR text or None, compiler error)}``."""
        files, build, run = {}, ['cd "$JOB"'], []
        for name, (src, level) in sources.items():
            files[f"{name}.cpp"] = src
            build.append(f'"$CLANGXX" -S -emit-llvm -{level} -w -o {name}.ll {name}.cpp 2> {name}.err')
            run.append(f'echo "@@OORL {name}"; if [ -f "$JOB/{name}.ll" ]; then cat "$JOB/{name}.ll"; '
                       f'else echo "@@FAILED"; head -c 800 "$JOB/{name}.err"; fi')
        out, err = self._script(files, build, run)
        if err:
            return {name: (None, err) for name in sources}
        res: dict[str, tuple[str | None, str]] = {}
        for name, text in _sections(out).items():
            if text.startswith("@@FAILED"):
                res[name] = (None, _first_error(text[len("@@FAILED"):]))
            else:
                res[name] = (text, "")
        for name in sources:
            res.setdefault(name, (None, "no output"))
        return res

    def verify(self, test_program: str, irs: list[str]) -> list[Built] | str:
        """Build each IR with the test program and run it; a string when the test program itself
        does not compile."""
        sentinel = new_sentinel()
        files = {"test.cpp": wrap_c_main(test_program, sentinel)}
        build = ['cd "$JOB"', '"$CLANGXX" -c -w -o test.o test.cpp 2> test.err || { touch test.failed; exit 0; }']
        run = ['if [ -f "$JOB/test.failed" ]; then echo "@@TESTFAIL"; head -c 800 "$JOB/test.err"; exit 0; fi']
        for i, ir in enumerate(irs):
            files[f"c{i}.ll"] = ir
            build.append(f'"$CLANGXX" -w -o p{i} c{i}.ll test.o -lm 2> c{i}.err')
            once = (f'timeout -s KILL {RUN_TIMEOUT_S} "$JOB/p{i}" > out 2>&1 < /dev/null; rc=$?; '
                    f'if grep -q {shlex.quote(sentinel)} out; then s=1; else s=0; fi; r="$r $rc $s"; ')
            run.append(f'if [ -x "$JOB/p{i}" ]; then r=""; {once * RUNS}echo "@@RUN {i}$r"; '
                       f'else echo "@@RUN {i} compile"; head -n 1 "$JOB/c{i}.err"; fi')
        out, err = self._script(files, build, run)
        if err:
            return [Built("sandbox_error", err) for _ in irs]
        if out.startswith("@@TESTFAIL"):
            return "test program does not compile: " + _first_error(out[len("@@TESTFAIL"):])
        results = [Built("sandbox_error", "no result")] * len(irs)
        lines = out.splitlines()
        for k, line in enumerate(lines):
            if not line.startswith("@@RUN "):
                continue
            parts = line.split()
            i = int(parts[1])
            if parts[2] == "compile":
                nxt = lines[k + 1] if k + 1 < len(lines) and not lines[k + 1].startswith("@@RUN") else ""
                results[i] = Built("compile_error", nxt.strip()[:300])
                continue
            runs = [_one_run(int(rc), sent == "1") for rc, sent in zip(parts[2::2], parts[3::2])]
            if any(r.status != runs[0].status for r in runs):
                results[i] = Built("flaky", " / ".join(r.status for r in runs))
            else:
                results[i] = runs[0]
        return results

    def _script(self, files: dict[str, str], build: list[str], run: list[str]) -> tuple[str, str]:
        """(stdout of run.sh, "") or ("", why the jail could not run it)."""
        files = {**files, "build.sh": "\n".join(build) + "\nexit 0\n", "run.sh": "\n".join(run) + "\nexit 0\n"}
        r = self.executor.run(Program("llvm_ir", files, entry="script"))
        if r.status.value == "sandbox_error" or r.compile is None or r.run is None:
            return "", f"jail: {r.status.value}: {r.detail}"
        if r.run.output_exceeded:
            return "", "jail: output limit exceeded"
        return r.stdout, ""


def _one_run(rc: int, sentinel_seen: bool) -> Built:
    if rc == 0 and sentinel_seen:
        return Built("passed")
    if rc == 0:
        return Built("exit0_early", "exited with status 0 before the tests finished")
    if rc in (124, 137):
        return Built("timeout", f"killed after {RUN_TIMEOUT_S} s")
    return Built("failed", f"exit status {rc}")


def _sections(out: str) -> dict[str, str]:
    res, name, buf = {}, None, []
    for line in out.splitlines(keepends=True):
        if line.startswith("@@OORL "):
            if name is not None:
                res[name] = "".join(buf)
            name, buf = line.split(None, 1)[1].strip(), []
        else:
            buf.append(line)
    if name is not None:
        res[name] = "".join(buf)
    return res


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()[:300]
    return (text.strip().splitlines() or ["failed"])[0][:300]
