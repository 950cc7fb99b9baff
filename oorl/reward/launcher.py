"""A tiny C launcher for jailed commands: drops to the jail's host uid, joins the run's cgroup,
sets rlimits and runs bubblewrap. It replaces a Python ``preexec_fn``, which forces Python to fork
itself (instead of vfork) and run after-fork hooks: about 2 ms saved per compile and per run.

It stays as bubblewrap's parent and is a child subreaper: bubblewrap exits as soon as its namespace's
init reports the command's status, without reaping that init, which then goes to the host's pid 1.
Where pid 1 reaps slowly (a microVM's agent) those zombies pile up, stay charged to the run's pids
cgroup and to the jail uid, and forks start failing with EAGAIN. The launcher reaps them itself and
exits with bubblewrap's status (a signal is raised again on itself).

Built once with the system C compiler into the cache dir (root-owned, read-only to others);
without a compiler ``build_launcher`` returns None and the jail uses the Python path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

SOURCE = r"""
/* oorl-launch [-c CGROUP_PROCS]... [-r RESOURCE:SOFT:HARD]... [-u UID] [-m FD] -- PROGRAM ARGS...
   -m FD: once the program and its orphans are reaped, write their peak RSS in KiB to FD (the
   launcher's own ru_maxrss is its parent's, inherited through vfork and exec: useless) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
    fprintf(stderr, "oorl-launch: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
    _exit(125);
}

int main(int argc, char **argv) {
    pid_t judge = getppid();  /* checked again once the parent-death signal is set (below) */
    long uid = -1, report = -1;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i += 2)  /* first pass: the uid */
        if (strcmp(argv[i], "-u") == 0 && i + 1 < argc) uid = strtol(argv[i + 1], NULL, 10);
    if (uid >= 0) {  /* drop root first: joining the cgroup and lowering rlimits need no privilege */
        if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0) die("cannot drop to uid", NULL);
        if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || setuid(0) == 0) { errno = EPERM; die("uid drop did not stick", NULL); }
    }
    /* the judge (a reward worker) killed -9 must not leave its runs behind: die with it (bubblewrap's
       --die-with-parent then ends the jail); set after the uid change, which would clear it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != judge) _exit(137);
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) { errno = EINVAL; die("missing value for", argv[i]); }
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "-c") == 0) {
            int fd = open(v, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, pid, strlen(pid)) < 0) die("cannot join cgroup", v);
            close(fd);
        } else if (strcmp(argv[i], "-r") == 0) {
            int res; unsigned long long soft, hard;
            if (sscanf(v, "%d:%llu:%llu", &res, &soft, &hard) != 3) { errno = EINVAL; die("bad rlimit", v); }
            struct rlimit rl = { (rlim_t)soft, (rlim_t)hard };
            if (setrlimit(res, &rl) != 0) die("setrlimit", v);
        } else if (strcmp(argv[i], "-m") == 0) {
            report = strtol(v, NULL, 10);
        } else if (strcmp(argv[i], "-u") != 0) { errno = EINVAL; die("unknown option", argv[i]); }
    }
    if (i + 1 >= argc) { errno = EINVAL; die("no program", NULL); }
    pid_t child = -1;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) child = fork();
    if (child <= 0) {  /* the child, or no subreaper/fork: run the program in place */
        if (child == 0 && report >= 0) close((int)report);
        execv(argv[i + 1], argv + i + 1);
        die("cannot execute", argv[i + 1]);
    }
    int status = 0, st;
    for (;;) {
        pid_t w = waitpid(-1, &st, 0);
        if (w == child) { status = st; break; }
        if (w < 0 && errno != EINTR) { status = 125 << 8; break; }
    }
    /* the orphans bubblewrap leaves (its namespace's init, exiting): reap them, for at most 2 s */
    struct timespec pause = {0, 5000000};
    for (int k = 0; k < 400; k++) {
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w < 0 && errno != EINTR) break;  /* ECHILD: none left */
        if (w == 0) nanosleep(&pause, NULL);
    }
    if (report >= 0) {
        struct rusage ru;
        char line[32];
        if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
            int n = snprintf(line, sizeof line, "%ld\n", (long)ru.ru_maxrss);
            if (write((int)report, line, (size_t)n) < 0) { /* the supervisor falls back to wait4's figure */ }
        }
        close((int)report);
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}
"""

_lock = threading.Lock()
_built: dict[tuple[str, str], str | None] = {}  # (source hash, cache dir) -> launcher path


def _safe(path: Path) -> bool:
    """Root-owned and writable by nobody else, up to the filesystem root (or not root: ours)."""
    me = os.geteuid()
    for p in [path, *path.parents]:
        st = p.lstat()
        if st.st_uid not in (0, me) or (st.st_mode & 0o022 and not (p.is_dir() and st.st_mode & 0o1000)):
            return False
    return True


def build_launcher(cache: Path) -> str | None:
    """Path of the compiled launcher (built on first use), or None when it cannot be built safely."""
    return build_c(cache, "oorl-launch", SOURCE)


def build_c(cache: Path, name: str, source: str) -> str | None:
    """Compile a one-file C helper into ``cache`` once (static where possible); its path, or None
    without a C compiler or when the result is not safely owned (see ``_safe``)."""
    key = hashlib.sha256(source.encode()).hexdigest()[:12]
    slot = (key, str(cache))  # per cache dir: a judge with another cache_dir must not use this one's
    with _lock:
        if slot in _built and (_built[slot] is None or Path(_built[slot]).exists()):
            return _built[slot]
        _built[slot] = None
        cc = shutil.which("gcc") or shutil.which("cc")
        d = cache / (f"launcher-{key}" if name == "oorl-launch" else f"{name}-{key}")
        exe = d / name
        try:
            if not exe.exists() and cc:
                d.mkdir(parents=True, exist_ok=True)
                src = d / f"{name}.{os.getpid()}.c"
                tmp = d / f"{name}.{os.getpid()}"
                src.write_text(source)
                for flags in (["-static"], []):  # static starts faster; fall back to dynamic
                    out = subprocess.run([cc, "-O2", *flags, "-o", str(tmp), str(src)], capture_output=True)
                    if out.returncode == 0:
                        break
                src.unlink(missing_ok=True)
                if out.returncode == 0:
                    tmp.chmod(0o755)
                    tmp.replace(exe)
            if exe.exists() and _safe(exe):
                _built[slot] = str(exe)
        except OSError:
            pass
        return _built[slot]
