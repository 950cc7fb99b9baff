"""The jail itself: fails closed, explicit unsandboxed mode, isolation, limits, and the fallback
used where no cgroup can be created."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from oorl.errors import UserError
from oorl.reward import jail as jail_mod
from oorl.reward.cgroups import CgroupRoot
from oorl.reward.executor import Executor
from oorl.reward.harness import JudgeRequest, build_program
from oorl.reward.jail import Jail
from oorl.reward.process import Capture as _Capture
from oorl.reward.sandbox import SandboxLimits, Verdict

from .helpers import jail_processes, short_limits

REPO = Path(__file__).resolve().parents[2]


def run(executor, lang, program, tests=""):
    return executor.run(build_program(JudgeRequest.make(lang, program, tests)))


def test_limits_are_validated():
    with pytest.raises(ValidationError):
        SandboxLimits(wall_s=-1)
    with pytest.raises(ValidationError):
        SandboxLimits(wal_s=3)  # a typo is an error, not a silent default
    assert SandboxLimits().mode == "bwrap"


def test_fails_closed_without_bubblewrap(monkeypatch):
    real = jail_mod.shutil.which
    monkeypatch.setattr(jail_mod.shutil, "which", lambda n: None if n == "bwrap" else real(n))
    with pytest.raises(UserError, match="bubblewrap"):
        Jail(SandboxLimits())


def test_unsandboxed_mode_must_be_chosen_and_warns(monkeypatch, tmp_path):
    real = jail_mod.shutil.which
    monkeypatch.setattr(jail_mod.shutil, "which", lambda n: None if n == "bwrap" else real(n))
    monkeypatch.setattr(jail_mod, "_warned_unsandboxed", False)
    with pytest.warns(UserWarning, match="unsandboxed"):
        ex = Executor(short_limits(mode="unsandboxed", work_root=str(tmp_path)))
    res = run(ex, "python", f"print(len(open({str(REPO / 'pyproject.toml')!r}).read()) > 0)\n")
    assert res.passed and res.stdout.strip() == "True"  # no jail: the host is visible


def test_cgroup_require_without_cgroup(monkeypatch):
    monkeypatch.setattr(CgroupRoot, "detect", classmethod(lambda cls: None))
    with pytest.raises(UserError, match="cgroup"):
        Jail(SandboxLimits(cgroup="require"))


def test_environment_network_and_host_are_invisible(executor, monkeypatch):
    monkeypatch.setenv("OORL_TEST_SECRET", "s3cret")
    prog = ("import os, socket\nprint(sorted(os.environ))\nprint(open('/proc/net/dev').read().count(':'))\n"
            "print(socket.gethostname())\nprint(os.listdir('/'))\n")
    res = run(executor, "python", prog)
    assert res.passed
    env, ifaces, host, root = res.stdout.strip().splitlines()
    assert "OORL_TEST_SECRET" not in env and "s3cret" not in res.stdout
    assert ifaces == "1"  # loopback only
    assert host == "jail"
    for name in ("root", "home", "work/main", "var", "srv", "mnt"):
        assert f"'{name}'" not in root


def test_wall_clock_limit_kills_a_sleeping_program(executor, limits):
    t0 = time.monotonic()
    res = run(executor, "python", "import time\ntime.sleep(100)\n")
    assert res.status is Verdict.TIMEOUT and "wall-clock" in res.detail
    assert time.monotonic() - t0 < limits.wall_s + 2
    assert jail_processes() == []


def test_work_directories_are_removed(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="oorl-test-work-"))
    root.chmod(0o755)
    try:
        ex = Executor(short_limits(work_root=str(root)))
        assert run(ex, "cpp", "int main() { return 0; }\n").passed
        assert list(root.iterdir()) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops to run_as_uid")
def test_unreachable_work_root_is_a_user_error(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(UserError, match="work_root"):
        Executor(short_limits(work_root=str(private / "jobs")))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops to run_as_uid")
def test_jailed_programs_are_not_root_on_the_host(executor):
    import threading

    seen: set[str] = set()
    t = threading.Thread(target=run, args=(executor, "python", "import time\ntime.sleep(1.5)\n"))
    t.start()
    deadline = time.monotonic() + 3
    while t.is_alive() and time.monotonic() < deadline:
        for pid in jail_processes(grace_s=0):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "oorl-launch":
                    continue  # the launcher, between fork and dropping root
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            seen.add(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        time.sleep(0.05)
    t.join()
    assert seen == {"65534"}  # every process of the jail runs as run_as_uid on the host, none as root


def test_a_broken_jail_is_a_sandbox_error(executor, tmp_path):
    view = executor.jail.view(tmp_path, [("/nonexistent/oorl-dir", "/opt/oorl/x")])
    step = executor.jail.run(["/bin/true"], view=view, job_dir=tmp_path, writable_job=False, wall_s=2, cpu_s=2,
                             memory_mb=64)
    assert step.sandbox_error and "nonexistent" in step.sandbox_error


def test_output_is_capped_head_and_tail(executor):
    cap = _Capture(10)
    for chunk in (b"0123456789", b"abcdefghij", b"KLMNOPQRST"):
        cap.add(chunk)
    assert cap.total == 30
    assert cap.text().startswith("0123456789") and cap.text().endswith("KLMNOPQRST")
    assert "10 bytes not kept" in cap.text()
    big = "import sys\nsys.stdout.write('a' * 300000 + 'THE-END')\nsys.stderr.write('e' * 300000)\n"
    res = run(executor, "python", big)
    assert res.passed and res.run.stdout_bytes >= 300007 and res.run.stderr_bytes == 300000
    assert res.stdout.startswith("aaaa") and res.stdout.rstrip().endswith("THE-END") and "not kept" in res.stdout
    assert len(res.stdout) < 2 * (executor.limits.output_keep_kb << 10) + 200


@pytest.fixture(scope="module")
def fallback():
    """No cgroup: memory is capped by RLIMIT_AS (native languages) or the RSS watchdog (VMs)."""
    return Executor(short_limits(cgroup="off"))


@pytest.mark.parametrize("lang,program", [
    ("python", "keep = []\nwhile True:\n    keep.append(b'\\x01' * (1 << 24))\n"),
    ("javascript", "const keep = [];\nwhile (true) { keep.push(Buffer.alloc(1 << 24, 1)); }\n"),
    ("go", "func main() {\n\tvar keep [][]byte\n\tfor {\n\t\tb := make([]byte, 1<<24)\n\t\tfor i := range b {\n"
           "\t\t\tb[i] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n"),
])
def test_fallback_caps_memory(fallback, lang, program):
    assert fallback.jail.cgroups is None
    res = run(fallback, lang, program)
    assert res.status is Verdict.MEMORY, (res.detail, res.stderr[-300:])
    # Without a cgroup the cap is a watchdog polling every 50 ms: it overshoots by what the program
    # allocates between polls (16 MB chunks, faster under load), but growth stops there, far below
    # what the loop would reach in its wall-clock limit.
    assert res.run.peak_memory_mb < fallback.limits.memory_mb * 4


def test_fallback_caps_processes(fallback):
    res = run(fallback, "python", "import os\nn = 0\nwhile True:\n    os.fork()\n    n += 1\n    if n > 500:\n        print('UNCAPPED')\n        break\n")
    assert "UNCAPPED" not in res.stdout
    assert res.status in (Verdict.RUNTIME_ERROR, Verdict.TIMEOUT)


def test_fallback_still_judges(fallback):
    from oorl.reward.doctor import HELLO

    assert run(fallback, "java", *HELLO["java"]).passed


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    from oorl.reward.launcher import build_launcher

    exe = build_launcher(tmp_path_factory.mktemp("launcher"))
    if exe is None:
        pytest.skip("no C compiler: the jail uses the Python launch path")
    return exe


def test_launcher_reaps_orphans_and_keeps_the_exit_status(launcher):
    """bubblewrap exits before its namespace's init is reaped; the launcher, a subreaper, reaps such
    orphans itself (a pid 1 that reaps slowly let them pile up in the pids cgroup: forks failed)."""
    import subprocess

    p = subprocess.Popen([launcher, "--", "/bin/sh", "-c", "sleep 0.3 & echo $!; exit 3"], stdout=subprocess.PIPE)
    orphan = int(p.stdout.readline())
    assert p.wait(timeout=5) == 3
    p.stdout.close()
    with pytest.raises(ProcessLookupError):  # reaped before the launcher exited, not left to pid 1
        os.kill(orphan, 0)
    assert subprocess.run([launcher, "--", "/bin/sh", "-c", "kill -TERM $$"]).returncode == -15


def test_launcher_dies_with_its_judge(launcher):
    """A reward worker killed with kill -9 must not leave its runs behind (no one would enforce their
    wall clock): the launcher has the kernel kill it when its parent dies (bubblewrap's
    --die-with-parent then ends the jail)."""
    import signal
    import subprocess
    import sys

    judge = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([{launcher!r}, '--', '/bin/sh', '-c', 'echo started; exec sleep 60'])\n"
        "print(p.pid, flush=True)\n"
        "p.wait()\n")], stdout=subprocess.PIPE, text=True)
    run_pid = int(judge.stdout.readline())
    assert judge.stdout.readline().strip() == "started"  # the launcher is past its set-up
    os.kill(run_pid, 0)  # running
    judge.send_signal(signal.SIGKILL)
    judge.wait(timeout=5)
    for _ in range(100):
        try:
            os.kill(run_pid, 0)
            with open(f"/proc/{run_pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":  # dead, its new parent has not reaped it yet
                    break
        except (ProcessLookupError, FileNotFoundError):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the run outlived its judge")


def test_fallback_peak_memory_is_the_runs_not_the_workers(fallback):
    """Without a cgroup the peak comes from rusage; a child's ru_maxrss starts at its parent's peak
    (fork/vfork + exec), so a big worker made every small run look huge: the launcher reports its
    children's instead."""
    if not fallback.jail.launcher:
        pytest.skip("no C launcher here: the Python launch path reports the inherited figure")
    ballast = b"\x01" * (1200 << 20)  # this process's resident peak now passes 1.2 GB
    res = run(fallback, "python", "print(sum(range(10)))\n")
    del ballast
    assert res.status is Verdict.PASSED and res.stdout.strip() == "45"
    assert 1 < res.run.peak_memory_mb < 300
