"""The executor image and the setup script install the same toolchains (no Docker engine here:
the install pipelines of both files are run against the package lists and compared)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from oorl.reward.languages import LANGUAGES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "cluster" / "executor.Dockerfile"
SETUP = REPO / "cluster" / "setup.sh"
PACKAGES = REPO / "cluster" / "packages"


def _bash(script: str) -> list[str]:
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    return sorted(out.stdout.split())


def _setup_list(name: str, strip_command: bool) -> list[str]:
    """What cluster/setup.sh installs from cluster/packages/<name>, using its own `pkgs` function."""
    pkgs_fn = re.search(r"^pkgs\(\) \{.*\}$", SETUP.read_text(), re.MULTILINE).group(0)
    post = 'echo "${e%%:*}"' if strip_command else 'echo "$e"'
    return _bash(f"{pkgs_fn}\nfor e in $(pkgs cluster/packages/{name}); do {post}; done")


def _docker_list(name: str) -> list[str]:
    """What the Dockerfile's RUN pipeline passes to its installer for cluster/packages/<name>."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    run = next(line for line in text.splitlines() if line.startswith("RUN") and f"/opt/oorl/packages/{name}" in line)
    pipeline = re.search(rf"(grep [^&]*?/opt/oorl/packages/{re.escape(name)}.*?)\|\s*xargs", run).group(1)
    return _bash(pipeline.replace("/opt/oorl/packages/", "cluster/packages/"))


def test_dockerfile_copies_the_package_lists():
    text = DOCKERFILE.read_text()
    assert text.startswith("#") and "FROM debian:12" in text
    assert "COPY cluster/packages/ /opt/oorl/packages/" in text


def test_same_debian_packages():
    docker, setup = _docker_list("apt.txt"), _setup_list("apt.txt", strip_command=True)
    assert docker == setup and "bubblewrap" in docker


def test_same_npm_packages():
    docker, setup = _docker_list("npm.txt"), _setup_list("npm.txt", strip_command=False)
    assert docker == setup and any(p.startswith("typescript") for p in docker)


def test_every_toolchain_is_in_the_lists():
    apt = set(_setup_list("apt.txt", strip_command=True))
    npm = {p.rsplit("@", 1)[0] if not p.startswith("@") or p.count("@") > 1 else p
           for p in _setup_list("npm.txt", strip_command=False)}
    provides = {"swipl": "swi-prolog-nox", "python3": "python3", "g++": "g++", "go": "golang-go",
                "javac": "default-jdk-headless", "java": "default-jdk-headless", "node": "nodejs",
                "tsc": "typescript", "php": "php-cli", "bash": None, "mcs": "mono-mcs", "mono": "mono-runtime",
                "rustc": "rustc", "clang++": "clang"}
    for lang in LANGUAGES.values():
        for tool in lang.tools:
            pkg = provides[tool]
            assert pkg is None or pkg in apt or pkg in npm, (lang.name, tool, pkg)
    for extra in ("bubblewrap", "util-linux", "golang-github-stretchr-testify-dev", "librust-rand-dev",
                  "librust-regex-dev", "librust-md5-dev", "libssl-dev", "libboost-dev"):
        assert extra in apt
    assert {"@types/node", "js-md5"} <= npm
