"""Toolchain artefacts built once per machine and reused by every run (read-only in the jail):
the Rust crates HumanEval-X uses (rand, regex, md5) as rlibs, and the Go packages (testify) plus the
standard library as export files with an ``importcfg``. Both are trusted code from Debian packages,
built offline outside the jail under a file lock, in ``SandboxLimits.cache_path()``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from oorl.errors import UserError
from oorl.reward.sandbox import SandboxLimits

_lock = threading.Lock()


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, **kw)


@lru_cache(maxsize=None)
def rust_sysroot() -> str:
    rustc = shutil.which("rustc")
    if not rustc:
        raise UserError("rust: `rustc` is not installed; install Rust (rustup or the Debian rustc package)")
    out = _run([rustc, "--print", "sysroot"])
    if out.returncode != 0:
        raise UserError(f"rust: `rustc --print sysroot` failed: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def rust_crates(limits: SandboxLimits) -> dict[str, str]:
    """{"deps": dir of rlibs, "<crate>": rlib path...}; {} when no crate is configured or available."""
    if not limits.rust_crates:
        return {}
    sysroot = rust_sysroot()
    rustc = f"{sysroot}/bin/rustc"
    version = _run([rustc, "--version"]).stdout.strip()
    key = hashlib.sha256(json.dumps([version, limits.rust_crates, limits.cargo_registry]).encode()).hexdigest()[:12]
    root = limits.cache_path() / f"rust-{key}"
    done = root / "crates.json"
    if done.exists():
        return json.loads(done.read_text())
    if not Path(limits.cargo_registry).is_dir():
        raise UserError(f"rust: cargo registry {limits.cargo_registry} not found, so the crates "
                        f"{sorted(limits.rust_crates)} cannot be built; install librust-rand-dev, librust-regex-dev "
                        "and librust-md5-dev (cluster/packages/apt.txt) or set reward.sandbox.rust_crates={}")
    with _file_lock(root.with_suffix(".lock")):
        if done.exists():
            return json.loads(done.read_text())
        proj = root / "build"
        shutil.rmtree(proj, ignore_errors=True)
        (proj / "src").mkdir(parents=True)
        (proj / ".cargo").mkdir()
        deps = "\n".join(f"{k} = {v}" for k, v in limits.rust_crates.items())
        (proj / "Cargo.toml").write_text(f'[package]\nname = "oorl_rust_crates"\nversion = "0.0.0"\n'
                                         f'edition = "2021"\n\n[dependencies]\n{deps}\n')
        (proj / "src" / "lib.rs").write_text("")
        (proj / ".cargo" / "config.toml").write_text(
            f'[source.crates-io]\nreplace-with = "local"\n[source.local]\ndirectory = "{limits.cargo_registry}"\n'
            "[net]\noffline = true\n")
        env = {**os.environ, "RUSTC": rustc, "CARGO_HOME": str(root / "cargo-home"),
               "CARGO_TARGET_DIR": str(proj / "target")}
        cargo = f"{sysroot}/bin/cargo" if os.path.exists(f"{sysroot}/bin/cargo") else shutil.which("cargo")
        out = _run([cargo, "build", "--release", "--offline", "-q"], cwd=proj, env=env)
        if out.returncode != 0:
            raise UserError(f"rust: building the crates {sorted(limits.rust_crates)} offline failed: "
                            f"{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        dep_dir = root / "deps"
        shutil.rmtree(dep_dir, ignore_errors=True)
        shutil.copytree(proj / "target" / "release" / "deps", dep_dir)
        result = {"deps": str(dep_dir)}
        for crate in limits.rust_crates:
            rlibs = sorted(dep_dir.glob(f"lib{crate.replace('-', '_')}-*.rlib"))
            if rlibs:
                result[crate] = str(rlibs[0])
        shutil.rmtree(proj, ignore_errors=True)
        done.write_text(json.dumps(result))
        return result


def go_env() -> dict[str, str]:
    go = shutil.which("go")
    if not go:
        raise UserError("go: `go` is not installed; install golang-go (cluster/packages/apt.txt)")
    out = _run([go, "env", "-json", "GOROOT", "GOTOOLDIR", "GOVERSION"])
    return json.loads(out.stdout)


def go_packages(limits: SandboxLimits) -> dict[str, str]:
    """{"importcfg": host path of a template (``@PKG@`` stands for the prepared dir), "pkg": that dir,
    "tooldir": the Go compile/link directory}."""
    env = go_env()
    key = hashlib.sha256(json.dumps([env, limits.go_packages, limits.go_path]).encode()).hexdigest()[:12]
    root = limits.cache_path() / f"go-{key}"
    done = root / "prepared.json"
    if done.exists():
        return json.loads(done.read_text())
    with _file_lock(root.with_suffix(".lock")):
        if done.exists():
            return json.loads(done.read_text())
        build_cache = root / "build-cache"
        genv = {**os.environ, "GO111MODULE": "off", "GOPATH": limits.go_path, "GOCACHE": str(build_cache),
                "GOFLAGS": "", "CGO_ENABLED": "1"}
        out = _run([shutil.which("go"), "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}",
                    "std", *limits.go_packages], env=genv, cwd="/")
        if out.returncode != 0:
            raise UserError(f"go: preparing packages {limits.go_packages} failed ({out.stderr.strip()[:300]}); "
                            "install golang-github-stretchr-testify-dev (cluster/packages/apt.txt) or set "
                            "reward.sandbox.go_packages=[]")
        pkg = root / "pkg"
        shutil.rmtree(pkg, ignore_errors=True)
        lines = []
        for line in out.stdout.splitlines():
            path, _, export = line.partition("=")
            if not export:
                continue
            if export.startswith("/usr/"):  # the jail sees /usr as it is
                lines.append(f"packagefile {path}={export}")
                continue
            dest = pkg / f"{path}.a"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(export, dest)
            lines.append(f"packagefile {path}=@PKG@/{path}.a")
        shutil.rmtree(build_cache, ignore_errors=True)
        pkg.mkdir(exist_ok=True)
        cfg = root / "importcfg.in"
        cfg.write_text("\n".join(lines) + "\n")
        result = {"importcfg": str(cfg), "pkg": str(pkg), "tooldir": env["GOTOOLDIR"]}
        done.write_text(json.dumps(result))
        return result
