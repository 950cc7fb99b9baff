"""Ray placement: the only module that knows about nodes, GPUs and bundles.

``colocate``: one placement group with one bundle per learner rank (a GPU each when there are GPUs);
rollout engines share those bundles with the learner ranks (vLLM sleeps while the learner trains).
``split``: learner ranks and rollout engines get bundles of their own (different GPUs), so the NCCL
weight sync crosses devices. Reward workers always get CPU bundles of their own, spread over nodes
(each bundle may ask for a custom resource, ``placement.reward_resources``, to land on executor
nodes). The strategies of the three kinds of bundles come from the config (pack by role, spread
reward workers by default). Engines and reward workers restart when they die
(``placement.max_restarts``); learner ranks do not (see ``oorl.dispatch``).
Without GPUs everything is placed on CPU resources.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from oorl.allocator import cpu_allocator_env
from oorl.config import Config
from oorl.errors import UserError
from oorl.logs import HOOK as LOG_HOOK
from oorl.logs import route_driver_output, show_cluster_messages_once, worker_env


@dataclass
class Roles:
    learners: list
    rollouts: list
    rewards: list
    use_gpu: bool
    master_addr: str
    master_port: int
    groups: list = field(default_factory=list)
    layout: dict = field(default_factory=dict)  # role -> node id of each actor (see _layout)


def connect(cfg: Config) -> None:
    """Join the cluster named in the config or in RAY_ADDRESS, or a running local one; else start one.

    The job's workers route their output (``oorl.logs``): vLLM, Ray, DeepSpeed and torch output goes
    to ``<run_dir>/logs/``, the console keeps OORL's lines and real warnings and errors.
    """
    if ray.is_initialized():
        return
    address = cfg.placement.ray_address or os.environ.get("RAY_ADDRESS")
    log_dir = (cfg.run_dir() / "logs").resolve()  # absolute: workers run elsewhere (shared storage on a cluster)
    level = cfg.trainer.library_log_level
    route_driver_output(log_dir, level)
    # no progress bars in the log files; repeated lines from several workers are collapsed
    quiet = {"TQDM_DISABLE": "1", "RAY_DEDUP_LOGS": "1"}
    env = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update({k: os.environ.get(k, v) for k, v in quiet.items()})  # the user's settings win
    env.update(worker_env(log_dir, level))
    runtime_env = {"env_vars": env, "worker_process_setup_hook": LOG_HOOK}
    if address and address != "local":
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        show_cluster_messages_once()
        return _say_connected(f"joined the cluster at {address}", cfg.run_dir() / "logs")
    try:
        if address == "local":
            raise ConnectionError("a private local cluster was asked for")
        ray.init(address="auto", runtime_env=runtime_env)
        how = "joined the running local cluster"
    except ConnectionError:
        # Ray's CPU counts are bookkeeping: a local cluster advertises at least what the placement
        # asks for; cpu_threads() sizes each actor's thread pool from the real cores.
        need = sum(sum(b.get("CPU", 0) for b in bundles) for bundles in plan_bundles(cfg, use_gpu=False))
        ray.init(num_cpus=max(os.cpu_count() or 1, int(need + 0.999)), include_dashboard=False,
                 runtime_env=runtime_env)
        how = "started a local cluster"
    show_cluster_messages_once()
    _say_connected(how, cfg.run_dir() / "logs")


def _say_connected(how: str, log_dir: Path) -> None:
    """OORL's line about the cluster (Ray's own ones go to logs/driver.log)."""
    res = ray.cluster_resources()
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    gpus = f", {res['GPU']:g} GPUs" if res.get("GPU") else ""
    print(f"ray: {how} ({nodes} node{'s' if nodes != 1 else ''}, {res.get('CPU', 0):g} CPUs{gpus}); "
          f"vLLM/Ray/DeepSpeed output in {log_dir}/", flush=True)


ENGINE_CPUS = 1.0


def plan_bundles(cfg: Config, use_gpu: bool) -> list[list[dict]]:
    """The bundles of each placement group: [learner/colocated group(s)..., reward group]."""
    lc, rc = cfg.learner, cfg.rollout
    gpu = {"GPU": 1} if use_gpu else {}
    engine_slots = rc.num_engines * rc.tensor_parallel_size if use_gpu else rc.num_engines
    if cfg.placement.mode == "colocate":
        groups = [[{"CPU": lc.cpus_per_worker + ENGINE_CPUS, **gpu}] * max(lc.world_size, engine_slots)]
    else:
        groups = [[{"CPU": lc.cpus_per_worker, **gpu}] * lc.world_size, [{"CPU": ENGINE_CPUS, **gpu}] * engine_slots]
    return groups + [[{"CPU": cfg.reward.cpus_per_worker, **cfg.placement.reward_resources}] * cfg.reward.num_workers]


def cpu_threads(cfg: Config, single_node: bool, cores: int | None = None) -> tuple[int, int]:
    """Threads of (each learner rank, each engine) on a CPU-only run.

    Ray sets OMP_NUM_THREADS to an actor's ``num_cpus`` (1, or 1 for a colocated engine's 0.5), which
    would leave a colocated learner or engine on one core while the other one idles: colocated roles
    take turns, so each gets its whole bundle. On a one-node cluster the machine's cores are shared
    between the bundles that run at the same time.
    """
    lc, rc = cfg.learner, cfg.rollout
    if cfg.placement.cpu_threads:
        return cfg.placement.cpu_threads, cfg.placement.cpu_threads
    cores = cores or os.cpu_count() or 1
    if cfg.placement.mode == "colocate":
        slots = max(lc.world_size, rc.num_engines)
        n = int(lc.cpus_per_worker + ENGINE_CPUS)
        if single_node:
            n = min(n, cores // slots)
        return max(1, n), max(1, n)
    learner, engine = int(lc.cpus_per_worker), int(ENGINE_CPUS)
    if single_node:  # both kinds run at once: share the cores in proportion to the bundles
        total = lc.cpus_per_worker * lc.world_size + ENGINE_CPUS * rc.num_engines
        learner = min(learner, int(cores * lc.cpus_per_worker / total)) if total > cores else learner
        engine = min(engine, int(cores * ENGINE_CPUS / total)) if total > cores else engine
    return max(1, learner), max(1, engine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _gpus_available(cfg: Config) -> int:
    if cfg.placement.num_gpus is not None:
        return cfg.placement.num_gpus
    return int(ray.cluster_resources().get("GPU", 0))


def create_roles(cfg: Config, model_dir: str) -> Roles:
    from oorl.learner.worker import LearnerWorker
    from oorl.reward.worker import RewardWorker
    from oorl.weight_sync import resolve_backend
    from oorl.rollout.worker import RolloutWorker

    lc, rc = cfg.learner, cfg.rollout
    gpus = _gpus_available(cfg)
    use_gpu = gpus > 0
    colocate = cfg.placement.mode == "colocate"
    engine_gpus = rc.num_engines * rc.tensor_parallel_size
    if use_gpu:
        need = max(lc.world_size, engine_gpus) if colocate else lc.world_size + engine_gpus
        if need > gpus:
            raise UserError(f"placement.mode={cfg.placement.mode} needs {need} GPUs but {gpus} are available "
                            "(lower learner.world_size / rollout.num_engines, or use colocate)")
    backend = resolve_backend(cfg.weight_sync.backend, cfg.placement.mode, use_gpu)
    if backend == "oorl_cpu" and use_gpu:
        raise UserError("weight_sync.backend=cpu needs CPU placement (placement.num_gpus=0)")

    gpu = 1 if use_gpu else 0
    learner_cpu, engine_cpu = lc.cpus_per_worker, ENGINE_CPUS
    plan = plan_bundles(cfg, use_gpu)
    pc = cfg.placement
    groups = [placement_group(b, strategy=s) for b, s in zip(plan[:-1], (pc.learner_strategy, pc.rollout_strategy))]
    groups.append(placement_group(plan[-1], strategy=pc.reward_strategy))
    if colocate:
        n = len(plan[0])
        learner_slots = [(groups[0], i) for i in range(lc.world_size)]
        engine_slots = [(groups[0], (i * (rc.tensor_parallel_size if use_gpu else 1)) % n) for i in range(rc.num_engines)]
        learner_gpu, engine_gpu = (0.5 * gpu, 0.5 * gpu)
    else:
        learner_slots = [(groups[0], i) for i in range(lc.world_size)]
        engine_slots = [(groups[1], i * (rc.tensor_parallel_size if use_gpu else 1)) for i in range(rc.num_engines)]
        learner_gpu, engine_gpu = gpu, gpu
    pg_rw = groups[-1]
    ready, _ = ray.wait([g.ready() for g in groups], num_returns=len(groups), timeout=cfg.placement.ready_timeout_s)
    if len(ready) < len(groups):
        raise UserError(f"the Ray cluster cannot place this run within {cfg.placement.ready_timeout_s:.0f} s: it asks for "
                        f"{plan} (CPU/GPU per bundle) and the cluster has {ray.cluster_resources()}; lower "
                        "learner.world_size, rollout.num_engines or reward.num_workers, or add nodes")

    def strategy(pg, index):
        return PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=index,
                                                placement_group_capture_child_tasks=True)

    single_node = sum(1 for n in ray.nodes() if n.get("Alive")) == 1
    learner_threads, engine_threads = cpu_threads(cfg, single_node) if not use_gpu else (1, 1)

    alloc = {} if use_gpu else cpu_allocator_env(pc.cpu_allocator)

    def threads_env(n: int) -> dict:
        return {} if use_gpu else {"runtime_env": {"env_vars": {"OMP_NUM_THREADS": str(n), **alloc}}}

    master_addr = ray.util.get_node_ip_address()
    master_port = _free_port()
    learners = [
        ray.remote(LearnerWorker).options(num_cpus=learner_cpu, num_gpus=learner_gpu,
                                          scheduling_strategy=strategy(*learner_slots[r]), **threads_env(learner_threads))
        .remote(cfg.model_dump(), model_dir, r, lc.world_size, master_addr, master_port, use_gpu, learner_threads)
        for r in range(lc.world_size)
    ]
    max_len = rc.max_prompt_tokens + rc.max_new_tokens
    # With TP > 1 the engine's own Ray workers take the GPUs of its bundles.
    tp_gpu = engine_gpu if rc.tensor_parallel_size == 1 else 0
    rollouts = [
        ray.remote(RolloutWorker).options(num_cpus=engine_cpu if not colocate else 0.5 * engine_cpu, num_gpus=tp_gpu,
                                          max_restarts=pc.max_restarts, max_task_retries=0,
                                          scheduling_strategy=strategy(*engine_slots[e]), **threads_env(engine_threads))
        .remote(model_dir, rc.model_dump(), cfg.model.dtype, cfg.seed + e, backend, use_gpu, max_len,
                enable_sleep=use_gpu and colocate and rc.sleep_when_idle)
        for e in range(rc.num_engines)
    ]
    # a reward worker's calls are pure: Ray runs a call again on the restarted worker by itself
    reward_opts: dict = {"num_cpus": cfg.reward.cpus_per_worker, "resources": dict(pc.reward_resources),
                         "max_restarts": pc.max_restarts, "max_task_retries": -1}
    if cfg.reward.container_image:
        reward_opts["runtime_env"] = {"image_uri": cfg.reward.container_image}
    rewards = [
        ray.remote(RewardWorker).options(scheduling_strategy=strategy(pg_rw, i), **reward_opts)
        .remote(cfg.reward.model_dump())
        for i in range(cfg.reward.num_workers)
    ]
    layout = _layout({"learner": learner_slots, "rollout": engine_slots,
                      "reward": [(pg_rw, i) for i in range(cfg.reward.num_workers)]})
    return Roles(learners, rollouts, rewards, use_gpu, master_addr, master_port, groups, layout)


def _layout(slots: dict[str, list]) -> dict:
    """Where each actor of each role runs: ``{role: [node id, ...], "nodes": {node id: address}}``,
    from the placement groups' bundle-to-node tables (written to the run directory)."""
    from ray.util import placement_group_table

    tables: dict = {}
    out: dict = {"nodes": {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}}
    for role, items in slots.items():
        nodes = []
        for pg, index in items:
            table = tables.setdefault(pg.id, placement_group_table(pg).get("bundles_to_node_id", {}))
            nodes.append(table.get(index))
        out[role] = nodes
    return out


def check_shared_storage(run_dir, model_dir: str, learners) -> None:
    """Every learner rank must see the run directory (it writes checkpoints there) and the model at
    the driver's paths: on a cluster, storage every node mounts at the same path. The driver writes a
    marker with a fresh token, each rank reads it, checks the model directory and writes its own
    marker, and the driver reads those back; any failure is a one-line error naming the path."""
    import uuid
    from pathlib import Path

    token = uuid.uuid4().hex
    marker = Path(run_dir) / f".oorl-storage-{token}"
    marker.write_text(token)
    try:
        answers = learners.call("check_storage", [(str(run_dir), token, model_dir)] * len(learners.learners))
        for rank, (node, problem) in enumerate(answers):
            if problem is None:
                back = marker.with_name(f"{marker.name}-rank{rank}")
                if not back.exists() or back.read_text() != token:
                    problem = f"its marker {str(back)!r} does not reach the driver"
            if problem is not None:
                raise UserError(f"learner rank {rank} on node {node}: {problem}: the output directory and the model "
                                "must be on storage every node sees at the same path (NFS, EFS, a ReadWriteMany "
                                "volume); pass such a path to --output-dir and model.cache_dir / model.path")
    finally:
        for p in Path(run_dir).glob(f"{marker.name}*"):
            p.unlink(missing_ok=True)
