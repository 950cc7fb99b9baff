"""The C source of ``oorl-zygote``, the pid 1 of a persistent jail (see ``zygote.py``)."""

SOURCE = r"""
/* oorl-zygote CONTROL_FD JAIL_UID JOB_DIR WIPE_DIR...
   The pid 1 of a persistent jail: bubblewrap built its namespaces (user: this process is uid 0
   with every capability there; pid, net, ipc, uts, cgroup, mount) and its file system view once.
   Per request on CONTROL_FD (a SOCK_SEQPACKET socket; see zygote.py for the message) it forks a
   run that enters its own user namespace (uid JAIL_UID, no way to make another user namespace)
   and IPC namespace, joins the run's cgroup, drops every capability and execs the command. When
   the command exits it kills every other process of the jail, reaps them all, empties the
   writable tmpfs directories and the kernel keyrings, and answers
       EXIT <wait status> <stage> <errno> <clean>
   stage/errno: 0 0, or where the setup of the run failed; clean: 1, or 0 when something of the
   run survived (the host then discards this jail). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG (256 * 1024)
#define MAXFDS 16
#define MAXARGS 4096

static int ctl = -1;
static int last_cap = 63;  /* /proc/sys/kernel/cap_last_cap */
static const char *job = "/job";

static void reply(const char *text) {
    if (send(ctl, text, strlen(text), MSG_NOSIGNAL) < 0) _exit(0);  /* the host is gone */
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* remove everything under dirfd; returns the number of entries that could not be removed */
static int wipe(int dirfd, int depth) {
    int left = 0;
    DIR *d = fdopendir(dirfd);
    if (!d) { close(dirfd); return 1; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0) continue;
        if (errno == EISDIR || errno == EPERM) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 && errno == EACCES) {  /* a mode-000 directory: make it ours again */
                fchmodat(dirfd, e->d_name, 0700, 0);
                sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (sub >= 0 && depth < 4096) left += wipe(sub, depth + 1);
            else if (sub >= 0) close(sub);
            if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0) left++;
        } else if (errno != ENOENT) {
            left++;
        }
    }
    closedir(d);
    return left;
}

#include <sys/vfs.h>
#include <linux/magic.h>
static const char *st_fstype(int fd) {
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC ? "tmpfs" : "other";
}

/* what a run could change on a tmpfs root it owns (mode, extended attributes and ACLs, inode
   flags): put back as it was when the jail started; nonzero when it cannot be */
struct root_state { mode_t mode; uid_t uid; gid_t gid; int has_flags; long flags; };

static int read_root(int fd, struct root_state *r) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    r->mode = st.st_mode & 07777; r->uid = st.st_uid; r->gid = st.st_gid;
    r->has_flags = ioctl(fd, FS_IOC_GETFLAGS, &r->flags) == 0;
    return 0;
}

static int restore_root(int fd, const struct root_state *want) {
    struct root_state now;
    char names[4096];
    if (read_root(fd, &now) != 0) return -1;
    if (now.mode != want->mode && (fchmod(fd, want->mode) != 0 || read_root(fd, &now) != 0)) return -1;
    ssize_t n = flistxattr(fd, names, sizeof names);
    if (n < 0 && errno != ENOTSUP) return -1;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
        if (fremovexattr(fd, names + i) != 0 && errno != ENODATA) return -1;
    if (n > 0 && flistxattr(fd, names, sizeof names) != 0) return -1;
    if (now.mode != want->mode || now.uid != want->uid || now.gid != want->gid) return -1;
    if (want->has_flags && (!now.has_flags || now.flags != want->flags)) return -1;
    return 0;
}

static int set_job_readonly(int ro) {
    struct statvfs sv;
    if (statvfs(job, &sv) != 0) return -1;
    if (!!(sv.f_flag & ST_RDONLY) == !!ro) return 0;
    unsigned long f = MS_REMOUNT | MS_BIND | (ro ? MS_RDONLY : 0);
    if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return mount(NULL, job, NULL, f, NULL);
}

/* the run, between fork and exec; reports (stage, errno) on errfd when it cannot go on */
static void child(char **argv, char **envp, const char *cwd, int *fds, int nfds, int ncg, int side,
                  char **rl, int nrl, long jail_uid, int errfd) {
    int stage = 1;
    char map[64];
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) goto fail;
    if (setsid() < 0) goto fail;
    stage = 2;  /* the run's cgroup, through the descriptors the host opened */
    for (int i = 0; i < ncg; i++)
        if (write(fds[nfds - ncg + i], "0", 1) != 1) goto fail;
    stage = 3;  /* its own user namespace (uid jail_uid, mapped to ours) and IPC namespace */
    if (unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0) goto fail;
    stage = 4;
    if (write_file("/proc/self/setgroups", "deny") != 0) goto fail;
    snprintf(map, sizeof map, "%ld 0 1\n", jail_uid);
    if (write_file("/proc/self/uid_map", map) != 0 || write_file("/proc/self/gid_map", map) != 0) goto fail;
    stage = 5;  /* no user namespace below this one: no capabilities ever again */
    if (write_file("/proc/sys/user/max_user_namespaces", "0") != 0) goto fail;
    stage = 6;
    for (int i = 0; i < nrl; i++) {
        int res; unsigned long long soft, hard;
        if (sscanf(rl[i], "%d:%llu:%llu", &res, &soft, &hard) != 3) { errno = EINVAL; goto fail; }
        struct rlimit r = { (rlim_t)soft, (rlim_t)hard };
        if (setrlimit(res, &r) != 0) goto fail;
    }
    stage = 7;  /* stdin, stdout, stderr (and the side channel as fd 3); nothing else stays open */
    int hi[MAXFDS];
    for (int i = 0; i < 3 + side; i++)
        if ((hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0) goto fail;
    for (int i = 0; i < 3 + side; i++)
        if (dup2(hi[i], i) < 0) goto fail;
    int keep = errfd;  /* CLOEXEC: closes itself on exec */
    if (syscall(SYS_close_range, 3 + side, keep - 1, 0) != 0 && errno != ENOSYS) goto fail;
    if (syscall(SYS_close_range, keep + 1, ~0U, 0) != 0 && errno != ENOSYS) goto fail;
    stage = 8;
    if (chdir(cwd) != 0) goto fail;
    syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, (char *)NULL);  /* a fresh session keyring */
    stage = 9;  /* drop every capability for good */
    if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
              SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
              SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0) goto fail;
    for (int c = 0; c <= last_cap; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) goto fail;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) goto fail;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0) goto fail;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) goto fail;
    stage = 10;
    execve(argv[0], argv, envp);
fail:;
    int report[2] = { stage, errno };
    if (write(errfd, report, sizeof report) < 0) { /* the zygote then sees a plain exit */ }
    _exit(127);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "oorl-zygote: usage: CONTROL_FD JAIL_UID JOB_DIR WIPE_DIR...\n"); return 2; }
    ctl = atoi(argv[1]);
    long jail_uid = strtol(argv[2], NULL, 10);
    job = argv[3];
    char **wipe_dirs = argv + 4;
    int nwipe = argc - 4;
    static struct root_state roots[64];
    if (nwipe > 64) { fprintf(stderr, "oorl-zygote: too many directories\n"); return 2; }
    for (int k = 0; k < nwipe; k++) {
        int fd = open(wipe_dirs[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || read_root(fd, &roots[k]) != 0) { perror(wipe_dirs[k]); return 2; }
        close(fd);
    }
    if (getpid() != 1) { fprintf(stderr, "oorl-zygote: must be the jail's pid 1\n"); return 2; }
    prctl(PR_SET_DUMPABLE, 0);  /* nothing of the jail may ptrace or read this process */
    FILE *lc = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (lc) { if (fscanf(lc, "%d", &last_cap) != 1 || last_cap < 0 || last_cap > 63) last_cap = 63; fclose(lc); }
    fcntl(ctl, F_SETFD, FD_CLOEXEC);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);  /* exits are read from a signalfd; no handler is installed */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) { perror("oorl-zygote: signalfd"); return 2; }
    static char buf[MAXMSG + 1];
    reply("READY");
    for (;;) {
        struct iovec iov = { buf, MAXMSG };
        union { char b[CMSG_SPACE(MAXFDS * sizeof(int))]; struct cmsghdr align; } cm;
        struct msghdr msg = { 0 };
        msg.msg_iov = &iov; msg.msg_iovlen = 1;
        msg.msg_control = cm.b; msg.msg_controllen = sizeof cm.b;
        ssize_t n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
        if (n <= 0) return 0;  /* the host closed the jail */
        buf[n] = 0;
        int fds[MAXFDS], nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (int i = 0; i < k && nfds < MAXFDS; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
        /* RUN \0 job_ro \0 cwd \0 ncg \0 side \0 nrl \0 rl... \0 argc \0 argv... \0 envc \0 env... */
        char *tok[MAXARGS * 2 + 16];
        int nt = 0;
        for (char *p = buf; p < buf + n && nt < (int)(sizeof tok / sizeof *tok) - 1; p += strlen(p) + 1) tok[nt++] = p;
        int ok = nt >= 6 && !strcmp(tok[0], "RUN"), i = 6;
        int ro = 0, ncg = 0, side = 0, nrl = 0, ac = 0, ec = 0;
        char **rl = NULL, **av = NULL, **ev = NULL;
        if (ok) {
            ro = atoi(tok[1]); ncg = atoi(tok[3]); side = atoi(tok[4]); nrl = atoi(tok[5]);
            rl = tok + i; i += nrl;
            ok = i < nt;
        }
        if (ok) { ac = atoi(tok[i++]); av = tok + i; i += ac; ok = ac > 0 && i < nt; }
        if (ok) { ec = atoi(tok[i++]); ev = tok + i; i += ec; ok = ec >= 0 && i == nt; }
        if (ok) ok = nfds == 3 + side + ncg && ncg >= 0 && nrl >= 0 && (side == 0 || side == 1);
        if (!ok) {
            for (int k = 0; k < nfds; k++) close(fds[k]);
            reply("ERR bad request");
            continue;
        }
        /* the argument and environment arrays end with NULL: overwrite the next token's slot */
        char *args[MAXARGS + 1], *envs[MAXARGS + 1];
        if (ac > MAXARGS || ec > MAXARGS) { for (int k = 0; k < nfds; k++) close(fds[k]); reply("ERR too many arguments"); continue; }
        memcpy(args, av, ac * sizeof *av); args[ac] = NULL;
        memcpy(envs, ev, ec * sizeof *ev); envs[ec] = NULL;
        char line[128];
        if (set_job_readonly(ro) != 0) {
            for (int k = 0; k < nfds; k++) close(fds[k]);
            snprintf(line, sizeof line, "EXIT 0 11 %d 1", errno);
            reply(line);
            continue;
        }
        int ep[2];
        if (pipe2(ep, O_CLOEXEC) != 0) { for (int k = 0; k < nfds; k++) close(fds[k]); reply("ERR pipe"); continue; }
        pid_t pid = fork();
        if (pid == 0) {
            close(ep[0]);
            child(args, envs, tok[2], fds, nfds, ncg, side, rl, nrl, jail_uid, ep[1]);
        }
        int fork_errno = errno;
        for (int k = 0; k < nfds; k++) close(fds[k]);
        close(ep[1]);
        int report[2] = { 0, 0 };
        if (pid < 0) {
            close(ep[0]);
            snprintf(line, sizeof line, "EXIT 0 12 %d 1", fork_errno);
            reply(line);
            continue;
        }
        ssize_t got;
        do got = read(ep[0], report, sizeof report); while (got < 0 && errno == EINTR);
        close(ep[0]);
        if (got != sizeof report) report[0] = report[1] = 0;
        /* wait for the command, reaping whatever else of the run ends meanwhile (orphans come to
           pid 1, and a zombie still counts against the run's pids cap); a closed control socket
           (the host died) ends the jail */
        int status = 0, done = 0, st;
        while (!done) {
            for (;;) {
                pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
                if (w == pid) { status = st; done = 1; }
                if (w <= 0) break;
            }
            if (done) break;
            struct pollfd p[2] = { { sfd, POLLIN, 0 }, { ctl, 0, 0 } };
            if (poll(p, 2, -1) < 0 && errno != EINTR) { struct timespec t = { 0, 1000000 }; nanosleep(&t, NULL); }
            if (p[1].revents & (POLLHUP | POLLERR)) { kill(-1, SIGKILL); _exit(0); }
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
        }
        /* everything else the run started goes too (kill(-1) from pid 1 spares only pid 1; the
           kernel creates no child of a process it is killing), and is reaped here */
        kill(-1, SIGKILL);
        int clean = 1;
        struct timespec pause = { 0, 200000 };
        for (int k = 0;; k++) {
            pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
            if (w < 0 && errno == ECHILD) break;
            if (w > 0) continue;
            if (k > 10000) { clean = 0; break; }  /* about 2 s */
            if (k % 50 == 49) kill(-1, SIGKILL);
            nanosleep(&pause, NULL);
        }
        for (int k = 0; k < nwipe && clean; k++) {
            int fd = open(wipe_dirs[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) != 0) { clean = 0; break; }
            /* a tmpfs directory's size counts its entries (an empty one: 40 bytes, . and ..) */
            int empty = st.st_size <= 40 && !strcmp(st_fstype(fd), "tmpfs");
            if (restore_root(fd, &roots[k]) != 0) clean = 0;
            if (clean && !empty) {
                int again = dup(fd);  /* wipe() closes its descriptor */
                if (again < 0 || wipe(again, 0) != 0) clean = 0;
            }
            close(fd);
        }
        snprintf(line, sizeof line, "EXIT %d %d %d %d", status, report[0], report[1], clean);
        reply(line);
    }
}
"""
