"""Host files for the jail: the whitelisted /etc it sees, mirrors of toolchains the unprivileged
jail uid cannot reach, and handing a work directory over to that uid."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path


def accessible(path: str | Path, uid: int) -> bool:
    """Whether ``uid`` (not root, no supplementary groups, gid == uid) can reach and read ``path``."""
    def ok(st, bits: int) -> bool:
        if st.st_uid == uid:
            return st.st_mode & (bits << 6) == bits << 6
        if st.st_gid == uid:
            return st.st_mode & (bits << 3) == bits << 3
        return st.st_mode & bits == bits

    try:
        path = Path(os.path.realpath(path))
        for d in reversed(path.parents):
            if not ok(d.stat(), 0o1):
                return False
        return ok(path.stat(), 0o5 if path.is_dir() else 0o4)
    except OSError:
        return False


def etc_view(cache: Path, names: list[str], uid: int, home: str) -> Path:
    """A read-only copy of the whitelisted /etc entries, plus a passwd/group naming only the jail's
    user. One bind is much cheaper for bubblewrap than one per entry. The copy is keyed by a
    fingerprint of the entries, so a change in /etc (a new package) makes a new one."""
    names = sorted({n for n in names if n and "/" not in n and n not in (".", "..", "passwd", "group")
                    and os.path.lexists(f"/etc/{n}")})
    h = hashlib.sha256(f"{uid}|{home}|{names}".encode())
    for n in names:
        for root, dirs, files in os.walk(f"/etc/{n}") if os.path.isdir(f"/etc/{n}") else [("/etc", [], [n])]:
            for f in sorted(dirs + files):
                st = os.lstat(os.path.join(root, f))
                h.update(f"{root}/{f}:{st.st_mtime_ns}:{st.st_size}".encode())
    dest = cache / f"etc-{h.hexdigest()[:16]}"
    if dest.is_dir():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n in names:
        src = Path("/etc") / n
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, tmp / n, symlinks=True, ignore_dangling_symlinks=True)
        else:
            shutil.copy2(src, tmp / n, follow_symlinks=False)
    (tmp / "passwd").write_text(f"jail:x:{uid}:{uid}:jail:{home}:/usr/sbin/nologin\n")
    (tmp / "group").write_text(f"jail:x:{uid}:\n")
    for p in [tmp, *tmp.rglob("*")]:  # readable whatever the umask, never writable
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o444)
    try:
        tmp.rename(dest)
    except OSError:  # another worker made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


class Mirrors:
    """Hard-linked copies (under the cache dir) of directories ``uid`` cannot reach, e.g. a Rust
    toolchain in /root/.rustup. Made once per directory version; read-only for the jail."""

    def __init__(self, cache: Path, uid: int | None):
        self.cache, self.uid = cache, uid
        self._made: dict[str, str] = {}
        self._lock = threading.Lock()

    def source_for(self, host: str) -> str:
        if self.uid is None or not os.path.exists(host) or accessible(host, self.uid):
            return host
        with self._lock:
            if host not in self._made:
                self._made[host] = self._mirror(host)
            return self._made[host]

    def _mirror(self, host: str) -> str:
        st = os.stat(host)
        key = hashlib.sha256(f"{host}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()[:16]
        dest = self.cache / "mirrors" / key
        if dest.exists():
            return str(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{key}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        if subprocess.run(["cp", "-al", host, str(tmp)], capture_output=True).returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)  # another file system: copy
            shutil.copytree(host, tmp, symlinks=True)
        for p in [tmp, *tmp.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o555)
        try:
            tmp.rename(dest)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(dest)


def hand_over(job_dir: Path, uid: int | None) -> None:
    """Give a freshly written work directory to the uid the jail runs as."""
    if uid is None:
        return
    for root, _, files in os.walk(job_dir):
        os.chown(root, uid, uid)
        for f in files:
            os.chown(os.path.join(root, f), uid, uid)


def open_to(path: Path, uid: int) -> None:
    """Make a directory we created (and its parent, if ours) traversable and readable by ``uid``."""
    for d in (path, path.parent):
        if d.stat().st_uid == os.geteuid():
            d.chmod(d.stat().st_mode | 0o755)
