"""Persistent jails (``zygote.py``): runs forked inside one long-lived jail must stay as isolated as
one-shot jails. A run must not see or change what an earlier or a concurrent run left (files,
IPC objects, keys, processes), must not be able to kill, stop or read its jail, and a jail that
dies or misbehaves must cost a restart, never a verdict."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oorl.reward.executor import Executor
from oorl.reward.harness import JudgeRequest, build_program
from oorl.reward.judge import Judge
from oorl.reward.sandbox import Verdict

from .helpers import jail_processes, short_limits


def run(ex, program, lang="python", tests=""):
    return ex.run(build_program(JudgeRequest.make(lang, program, tests)))


def live_pids(ex) -> set[int]:
    return {z.pid for z in ex.jail.zygotes.live()}


def stray(ex, grace_s: float = 1.0) -> list[int]:
    """Processes in this test process's jails that are not a live persistent jail's own (its
    launcher, bubblewrap and zygote share the cgroup of its runs)."""
    deadline = time.monotonic() + grace_s
    while True:
        infra = {p for z in ex.jail.zygotes.live() for p in z.infra}
        found = [p for p in jail_processes(grace_s=0) if p not in infra]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ex():
    ex = Executor(short_limits(persistent_jail_idle_s=60))
    if ex.jail.zygotes is None:
        pytest.skip("no persistent jails here (no C compiler or no cgroup with a pids cap)")
    yield ex
    ex.close()


@pytest.fixture()
def warm(ex):
    """One persistent jail for Python is up (the first program of a kind runs one-shot)."""
    for _ in range(2):
        assert run(ex, "print(1)\n").passed
    assert live_pids(ex)
    return ex


# What a run can see of its jail's state: the checker prints it, before and after a polluter.
CHECKER = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
facts = {}
for d in ("/tmp", "/work", "/dev/shm", "/job"):
    st = os.stat(d)
    try:
        xattrs = sorted(os.listxattr(d))
    except OSError:
        xattrs = []
    facts[d] = [sorted(os.listdir(d)), oct(st.st_mode), st.st_uid, xattrs]
facts["sysvipc"] = {k: open(f"/proc/sysvipc/{k}").read().splitlines()[1:] for k in ("shm", "sem", "msg")}
key = libc.syscall(249, b"user", b"oorl-left-behind", None, 0) if os.uname().machine == "x86_64" else -1  # request_key
facts["key"] = key
facts["procs"] = sorted(open(f"/proc/{p}/cmdline").read().replace("\0", " ").strip()
                        for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())
facts["uid"] = [os.getuid(), os.geteuid(), os.getgid()]
facts["caps"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "CapBnd", "CapAmb"))]
print("FACTS " + json.dumps(facts, sort_keys=True))
"""

POLLUTER = r"""
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for d in ("/tmp", "/work", "/dev/shm"):
    open(d + "/left-behind", "w").write("secret of the run before")
    os.mkdir(d + "/locked")
    open(d + "/locked/f", "w").write("x")
    os.chmod(d + "/locked", 0)
    os.symlink("/job", d + "/link")
    try:
        os.setxattr(d, "user.oorl", b"left")
    except OSError:
        pass
    os.chmod(d, 0o1777 if d != "/work" else 0o700)
assert libc.shmget(0x4F4F524C, 4096, 0o1666) >= 0  # IPC_CREAT | 0666: outlives its creator
assert libc.semget(0x4F4F524D, 1, 0o1666) >= 0
assert libc.msgget(0x4F4F524E, 0o1666) >= 0
if os.uname().machine == "x86_64":  # add_key to the user keyring
    assert libc.syscall(248, b"user", b"oorl-left-behind", b"secret", 6, -4) > 0
subprocess.Popen(["sleep", "1000"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    while True:
        pass
print("POLLUTED")
"""


def facts(ex) -> dict:
    res = run(ex, CHECKER)
    assert res.passed, (res.detail, res.stderr[-500:])
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("FACTS "))
    return json.loads(line[len("FACTS "):])


def test_runs_are_forked_in_a_persistent_jail(warm):
    before = dict(warm.jail.counts)
    pids = live_pids(warm)
    for i in range(3):
        res = run(warm, f"print({i} * 7)\n")
        assert res.passed and res.stdout.strip() == str(i * 7)
    assert warm.jail.counts["persistent"] - before.get("persistent", 0) == 3
    assert live_pids(warm) == pids  # the same jail, not a new one per run


def test_a_run_sees_nothing_of_the_run_before(warm):
    baseline = facts(warm)
    pids = live_pids(warm)
    res = run(warm, POLLUTER)
    assert res.passed and "POLLUTED" in res.stdout, (res.detail, res.stderr[-500:])
    assert res.run.leftover_processes == 0
    after = facts(warm)
    assert live_pids(warm) == pids, "the same jail ran all three"
    assert after == baseline
    for d in ("/tmp", "/work", "/dev/shm"):
        assert after[d][0] == []
    assert after["sysvipc"] == {"shm": [], "sem": [], "msg": []}
    assert after["key"] < 0
    assert len(after["procs"]) == 1 and after["procs"][0].startswith("/opt/oorl/.oorl-zygote")  # only pid 1
    assert after["uid"] == [warm.limits.jail_uid] * 3
    assert set(after["caps"]) == {"0000000000000000"}
    assert stray(warm) == []


def test_a_run_cannot_kill_stop_or_read_its_jail(warm):
    pids = live_pids(warm)
    attack = r"""
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGSEGV, signal.SIGCHLD):
    try:
        os.kill(1, sig)
    except OSError as e:
        print("kill", sig, e.errno)
for what in ("environ", "mem", "maps", "fd/0", "fd/3", "fd/4", "root/job", "cwd/job"):
    try:
        if what.startswith(("fd", "root", "cwd")):
            os.listdir("/proc/1/" + what) if what.endswith("job") else os.readlink("/proc/1/" + what)
        else:
            open("/proc/1/" + what, "rb").read(64)
        print("LEAKED", what)
    except OSError:
        pass
for fd in range(3, 8):  # its control socket and signalfd
    try:
        open(f"/proc/1/fd/{fd}", "rb")
        print("LEAKED open fd", fd)
    except OSError:
        pass
print("ptrace", libc.ptrace(16, 1, None, None), ctypes.get_errno())  # PTRACE_ATTACH
try:
    os.unshare(os.CLONE_NEWUSER)
    print("LEAKED userns")
except (OSError, AttributeError):
    pass
os.kill(-1, signal.SIGKILL)  # every process it may signal: none (never pid 1, never itself)
"""
    res = run(warm, attack)
    assert "LEAKED" not in res.stdout, res.stdout
    assert "ptrace -1" in res.stdout
    assert res.status is Verdict.RUNTIME_ERROR and "ProcessLookupError" in res.stderr
    after = run(warm, "print('alive')\n")
    assert after.passed and live_pids(warm) == pids  # the jail did not notice


def test_fork_bomb_and_background_processes_die_with_their_run(warm):
    pids = live_pids(warm)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    res = run(warm, bomb)
    assert res.status in (Verdict.TIMEOUT, Verdict.RUNTIME_ERROR, Verdict.MEMORY), res.detail
    assert res.run.leftover_processes == 0
    assert stray(warm) == []
    assert run(warm, "print('next')\n").passed
    bg = ("import os, subprocess, time\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
          "if os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\nprint('parent done')\n")
    t0 = time.monotonic()
    res = run(warm, bg)
    assert res.passed and time.monotonic() - t0 < warm.limits.wall_s
    assert res.run.leftover_processes == 0 and stray(warm) == []
    assert live_pids(warm) == pids


def test_timeouts_and_caps_keep_the_jail(warm):
    pids = live_pids(warm)
    res = run(warm, "while True:\n    pass\n")
    assert res.status is Verdict.TIMEOUT
    res = run(warm, "import time\ntime.sleep(100)\n")
    assert res.status is Verdict.TIMEOUT and "wall-clock" in res.detail
    res = run(warm, "keep = []\nwhile True:\n    keep.append(b'x' * (1 << 24))\n")
    assert res.status is Verdict.MEMORY
    res = run(warm, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert res.status is Verdict.RUNTIME_ERROR and res.run.output_exceeded
    res = run(warm, "with open('/tmp/big', 'wb') as f:\n    f.write(b'x' * (32 << 20))\n")
    assert res.status is Verdict.RUNTIME_ERROR  # max_file_mb=16
    assert stray(warm) == []
    assert run(warm, "print('still fine')\n").passed
    assert live_pids(warm) == pids


def test_job_is_read_only_when_run_and_emptied_between_programs(warm):
    res = run(warm, "import os\nprint(sorted(os.listdir('/job')))\nopen('/job/x', 'w')\n")
    assert res.status is Verdict.RUNTIME_ERROR and "Read-only file system" in res.stderr
    assert res.stdout.splitlines()[0] == "['main.py']"
    # a compilation may write in /job: change the directory itself as one could
    z = warm.jail.zygotes.live()[0]
    z.slot_written = True  # as after a compilation
    os.chmod(z.slot, 0o777)
    try:
        os.setxattr(z.slot, "user.oorl", b"left")
    except OSError:
        pass
    (z.slot / "stale.txt").write_text("from the program before")
    assert z.clear_slot()
    assert oct(z.slot.stat().st_mode & 0o777) == "0o700" and os.listxattr(z.slot) == []
    assert list(z.slot.iterdir()) == []


def test_compiled_programs_do_not_see_the_previous_build():
    ex = Executor(short_limits())
    try:
        lister = ('#include <dirent.h>\n#include <cstdio>\nint main() {\n DIR* d = opendir("/job");\n'
                  ' while (dirent* e = readdir(d)) std::printf("%s\\n", e->d_name);\n}\n')
        seen = []
        for i in range(3):
            res = run(ex, lister.replace("int main", f"int unused{i}() {{ return {i}; }}\nint main"), lang="cpp")
            assert res.passed, (res.detail, res.stderr[-300:])
            seen.append(sorted(set(res.stdout.split()) - {".", ".."}))
        assert seen[0] == seen[1] == seen[2]
        assert ex.jail.counts["persistent"] >= 2
    finally:
        ex.close()


def test_idle_jails_end(ex):
    short = Executor(short_limits(persistent_jail_idle_s=0.3))
    others = {p for z in ex.jail.zygotes.live() for p in z.infra}  # the module's executor keeps its jail

    def mine(grace_s: float) -> list[int]:
        deadline = time.monotonic() + grace_s
        while True:
            found = [p for p in jail_processes(grace_s=0) if p not in others]
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    try:
        for _ in range(3):
            assert run(short, "print(1)\n").passed
        pids = live_pids(short)
        assert pids and mine(0)  # the jail waits for the next program...
        assert mine(2.0) == []  # ...not for long
        assert live_pids(short) == set()
        assert run(short, "print(2)\n").passed  # and a new one starts when needed
        assert live_pids(short) and not (live_pids(short) & pids)
    finally:
        short.close()
    assert mine(1.0) == []


def test_a_jail_killed_between_runs_is_replaced(warm):
    old = live_pids(warm)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    for i in range(3):
        assert run(warm, f"print({i})\n").passed
    assert live_pids(warm) and not (live_pids(warm) & old)


def test_a_jail_dying_during_a_run_costs_no_verdict(warm):
    """The jail is killed while a run is in it: the run is judged again one-shot, correctly."""
    failed_before = warm.jail.counts["persistent_failed"]
    pids = live_pids(warm)
    assert len(pids) == 1
    zpid = next(iter(pids))

    def kill_soon():
        time.sleep(0.5)
        os.kill(zpid, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    res = run(warm, "import time\ntime.sleep(1.5)\nprint('slept')\n")
    killer.join()
    assert res.passed and res.stdout.strip() == "slept", (res.detail, res.stderr[-300:])
    assert warm.jail.counts["persistent_failed"] == failed_before + 1
    res = run(warm, "raise SystemExit(3)\n")
    assert res.status is Verdict.FAILED and res.exit_code == 3
    assert stray(warm) == []


def test_concurrent_runs_use_separate_jails():
    judge = Judge(short_limits(threads=2), threads=2)
    try:
        prog = ("import os, time\nopen('/tmp/token', 'x').write('{t}')\nopen('/work/token', 'x').write('{t}')\n"
                "time.sleep(0.2)\nassert os.listdir('/tmp') == ['token'] and open('/tmp/token').read() == '{t}'\n"
                "assert open('/work/token').read() == '{t}'\nprint('ok {t}')\n")
        reqs = [JudgeRequest.make("python", prog.format(t=f"t{i}")) for i in range(16)]
        results = judge.judge(reqs)
        assert all(r.passed for r in results), [(r.detail, r.stderr[-200:]) for r in results if not r.passed]
        assert judge.executor.jail.counts["persistent"] >= 10
        assert len(judge.executor.jail.zygotes.live()) == 2
        with ThreadPoolExecutor(2) as pool:  # and the other way round: one jail, programs in turn
            again = list(pool.map(judge.executor.run, [build_program(r) for r in reqs[:6]]))
        assert all(r.passed for r in again)
    finally:
        judge.close()
    assert judge.executor.jail.zygotes.live() == []


def test_closing_ends_every_jail():
    ex = Executor(short_limits())
    for _ in range(3):
        assert run(ex, "print(1)\n").passed
    pids = live_pids(ex)
    assert pids
    ex.close()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split(")")[1][:3]


def test_one_shot_when_persistent_jails_are_off():
    ex = Executor(short_limits(persistent_jail=False))
    for _ in range(3):
        assert run(ex, "print(1)\n").passed
    assert ex.jail.zygotes is None and ex.jail.counts["persistent"] == 0 and ex.jail.counts["one_shot"] == 3
    no_cgroup = Executor(short_limits(cgroup="off"))
    assert no_cgroup.jail.zygotes is None  # no per-run memory and pids caps: only one-shot jails


def test_work_root_is_left_empty():
    root = Path(tempfile.mkdtemp(prefix="oorl-test-work-"))  # reachable by run_as_uid, unlike tmp_path
    root.chmod(0o755)
    ex = Executor(short_limits(work_root=str(root), persistent_jail_idle_s=0.3))
    try:
        for i in range(3):
            assert run(ex, f"print({i})\n").passed
        assert ex.jail.counts["persistent"] >= 2
        slots = list(root.iterdir())
        assert len(slots) == 1 and list(slots[0].iterdir()) == []  # the jail's /job, emptied after each program
        deadline = time.monotonic() + 3
        while list(root.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(root.iterdir()) == []  # and removed with the jail
    finally:
        ex.close()
        shutil.rmtree(root, ignore_errors=True)
