"""Ray clusters for the tests, started with ``ray start`` on this machine (one node, or a head and a
worker node: two raylets with resources of their own), and stopped without touching any other Ray
cluster on the machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def sh(*args, env, timeout=300, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free now: every socket stays bound until all are chosen (one bound and
    closed at a time, the kernel may hand the same port out twice, which Ray refuses)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def node_ports(*taken: int) -> list[str]:
    """Ports of one node's own servers, free now and distinct from ``taken``: Ray's defaults are fixed
    numbers, which a second node on this machine (or another test cluster) would also take."""
    names = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port"]
    while True:
        ports = free_ports(len(names))
        if not set(ports) & set(taken):
            return [x for name, port in zip(names, ports) for x in (name, str(port))]


class Cluster:
    """``ray start --head`` with a job server on loopback; :meth:`add_node` joins more raylets."""

    def __init__(self, head_cpus: int, head_resources: str = "{}") -> None:
        # a short temp dir: Ray's unix socket paths must stay under 108 bytes
        self.tmp = tempfile.mkdtemp(prefix="oorlray")
        self.env = dict(os.environ, RAY_AUTH_MODE="token", PATH=f"{BIN}:{os.environ['PATH']}", RAY_TMPDIR=self.tmp)
        self.env.pop("RAY_ADDRESS", None)
        sh(BIN / "ray", "get-auth-token", "--generate", env=self.env)
        self.gcs_port, dash = free_ports(2)
        self.nodes = 0
        self.address = f"http://127.0.0.1:{dash}"
        sh(BIN / "ray", "start", "--head", "--port", self.gcs_port, "--num-cpus", head_cpus, "--resources",
           head_resources, "--dashboard-host", "127.0.0.1", "--dashboard-port", dash, "--temp-dir", self.tmp,
           "--disable-usage-stats", *node_ports(self.gcs_port, dash), env=self.env, timeout=180)

    def add_node(self, cpus: int, resources: str = "{}", wrap: list[str] = ()) -> None:
        """A worker node (``wrap``: a command line to start it under, e.g. ``unshare --mount ...``)."""
        # a temp dir of its own, as on a real node: nodes sharing one would share (and garbage-collect)
        # each other's runtime_env files; named after the head's so that stop() finds its processes
        self.nodes += 1
        tmp = f"{self.tmp}n{self.nodes}"
        os.makedirs(tmp, exist_ok=True)
        start = [str(BIN / "ray"), "start", "--address", f"127.0.0.1:{self.gcs_port}", "--num-cpus", str(cpus),
                 "--resources", resources, "--disable-usage-stats", "--temp-dir", tmp, *node_ports()]
        sh(*wrap, *start, env=self.env, timeout=180)

    def wait_for_jobs(self) -> None:
        for _ in range(30):  # the job API comes up a little after `ray start` returns
            if sh(BIN / "ray", "job", "list", "--address", self.address, env=self.env, check=False).returncode == 0:
                return
            time.sleep(2)

    def submit(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """``ray job submit`` of ``args`` from the repository (its files travel as the working dir)."""
        for _ in range(60):  # the head's job agent can lag behind the job API ("No available agent")
            r = sh(BIN / "ray", "job", "submit", "--address", self.address, "--working-dir", ".", "--", *args,
                   env=self.env, timeout=timeout, check=False)
            if r.returncode == 0 or "No available agent" not in r.stdout + r.stderr:
                return r
            time.sleep(3)
        return r

    def stop(self) -> None:
        """Stop only this cluster (`ray stop` would stop every Ray cluster on the machine)."""
        import psutil

        procs = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if any(self.tmp in a for a in p.info["cmdline"] or []):
                    procs.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        for p in procs:
            for c in p.children(recursive=True) + [p]:
                try:
                    c.kill()
                except psutil.NoSuchProcess:
                    pass
        psutil.wait_procs(procs, timeout=30)
        for n in range(self.nodes + 1):
            shutil.rmtree(f"{self.tmp}n{n}" if n else self.tmp, ignore_errors=True)
