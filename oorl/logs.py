"""Where a run's output goes: OORL's own lines on the console, library chatter in ``<run_dir>/logs/``.

The policy, the same in the driver and in every Ray actor:

* the console gets OORL's log records from WARNING up (loggers ``oorl.*``), any library's records
  (vLLM, Ray, DeepSpeed, torch, transformers, ...) from ``trainer.library_log_level`` up (ERROR by
  default), and the driver's own progress lines;
* ``<run_dir>/logs/`` gets everything: one file per actor process, ``<Actor>-<host>-<pid>.log``
  (all Python logging from INFO, ``print``, C++ warnings, progress bars: the process's stdout and
  stderr), and ``driver.log`` for the driver's library logging.

Actors: :func:`placement.connect <oorl.placement.connect>` names :func:`route_worker_output` as the
job's ``worker_process_setup_hook``, so Ray runs it first in every worker process of the job, on
every node, also under ``ray job submit`` (where the run directory is on shared storage). It points
the process's file descriptors 1 and 2 at its log file and keeps a duplicate of the original stderr
for the records that pass the console policy: Ray forwards that stream to the driver as before
(``log_to_driver``), labelled ``(RolloutWorker pid=...)``. Where the run directory cannot be written
from a node, that node's workers keep their output on Ray's usual path (forwarded, and in Ray's
session logs) and say so once. Subprocesses of an actor (vLLM's engine core when it runs in its own
process, the jailed programs' launchers) inherit its log file.

Driver: :func:`route_driver_output` runs before the heavy imports (``oorl train``) and again in
``connect`` for the console handlers the libraries added meanwhile. Ray's own processes (raylet, GCS)
print their errors to the driver too, and repeat some every few seconds for as long as the condition
lasts (a disk over 95% full: every 10 s); :func:`show_cluster_messages_once` lets each through once and
writes every occurrence to ``driver.log``.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import sys
from pathlib import Path

LOG_DIR_ENV = "OORL_LOG_DIR"
LEVEL_ENV = "OORL_LIBRARY_LOG_LEVEL"
HOOK = "oorl.logs.route_worker_output"
DRIVER_LOG = "driver.log"
# Loggers that keep their own handler and do not propagate to the root logger: each also gets the
# console handler (the console filter drops a record that reaches it twice).
OWN_HANDLER_LOGGERS = ("ray", "DeepSpeed", "transformers", "vllm")
# Lines Ray's worker prints to label what follows (ray._private.ray_constants.LOG_PREFIX_*): its log
# monitor reads them from the stream it forwards, so they go to the console stream, not the log file.
RAY_LABELS = (":actor_name:", ":task_name:", ":job_id:")
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Ray's processes whose error output Ray's log monitor forwards to the driver (the batch's "pid")
CLUSTER_PROCESSES = ("raylet", "gcs_server")
_NUMBERED = re.compile(r"\d|0x[0-9a-fA-F]")

_state: dict = {}


def worker_env(log_dir: Path, library_level: str) -> dict[str, str]:
    """Environment of the job's workers: where to log, and vLLM's records through the root logger
    (``VLLM_CONFIGURE_LOGGING=0``: vLLM then adds no handler of its own)."""
    return {LOG_DIR_ENV: str(log_dir), LEVEL_ENV: library_level, "VLLM_CONFIGURE_LOGGING": "0"}


def log_dir() -> Path | None:
    """The logs directory this process routes to (None when it does not)."""
    return _state.get("dir")


class ConsoleFilter(logging.Filter):
    """What reaches the console: ``oorl`` records from WARNING, everyone else's from ``library_level``."""

    def __init__(self, library_level: int | str = logging.ERROR) -> None:
        super().__init__()
        self.library_level = logging.getLevelName(library_level) if isinstance(library_level, str) else library_level
        self._last: logging.LogRecord | None = None

    def passes(self, record: logging.LogRecord) -> bool:
        own = record.name == "oorl" or record.name.startswith("oorl.") or record.name == "__main__"
        return record.levelno >= (logging.WARNING if own else self.library_level)

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last:  # the same record through a second logger's handler
            return False
        ok = self.passes(record)
        if ok:
            self._last = record
        return ok


class _Once(logging.Filter):
    """A record written once by a handler it reaches on two paths."""

    def __init__(self) -> None:
        super().__init__()
        self._last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last:
            return False
        self._last = record
        return True


class _Divert(logging.Filter):
    """On a library's own logger (the driver): every record to the log file, and on to the library's
    console handler only when it passes the policy. A logger filter, so it holds from before the
    library adds its handler (DeepSpeed warns while it is being imported)."""

    def __init__(self, file_handler: logging.Handler, policy: ConsoleFilter) -> None:
        super().__init__()
        self.file_handler, self.policy = file_handler, policy

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.file_handler.level:
            self.file_handler.handle(record)
        return self.policy.passes(record)


def _console_handler(stream, policy: ConsoleFilter) -> logging.Handler:
    h = logging.StreamHandler(stream)
    h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    h.addFilter(policy)
    return h


def _attach(console: logging.Handler, file_handler: logging.Handler, own_loggers: bool = True) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(console)
    root.addHandler(file_handler)
    if own_loggers:  # a worker: the libraries' own handlers write to the log file (fd 1/2)
        for name in OWN_HANDLER_LOGGERS:  # loggers that may set propagate=False (now or when imported)
            logging.getLogger(name).addHandler(console)
    logging.captureWarnings(True)  # warnings.warn -> logger "py.warnings" (WARNING: the log file)


class _LabelWatch:
    """sys.stdout/sys.stderr of a routed worker: everything goes to the log file (fd 1/2); Ray's
    label lines also go to the console stream, and ``:actor_name:`` names the log file."""

    def __init__(self, inner, console_fd: int) -> None:
        self._inner, self._console_fd = inner, console_fd

    def write(self, s: str) -> int:
        if s.startswith(RAY_LABELS):
            try:
                os.write(self._console_fd, s.encode())
            except OSError:
                pass
            if s.startswith(":actor_name:"):
                _name_log_file(s[len(":actor_name:"):].strip())
            return len(s)  # a label for Ray's log monitor, not a line of the log
        return self._inner.write(s)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "actor"


def _name_log_file(actor: str) -> None:
    """worker-<host>-<pid>.log -> <Actor>-<host>-<pid>.log (the open descriptors follow the rename)."""
    path = _state.get("file")
    if path is None or _state.get("named"):
        return
    new = path.with_name(f"{_safe(actor)}-{path.name[len('worker-'):]}")
    try:
        os.replace(path, new)
    except OSError:
        return
    _state.update(file=new, named=True)


def _drop_if_empty() -> None:
    """A worker Ray started but never gave an actor leaves no empty file behind."""
    path = _state.get("file")
    try:
        if path is not None and not _state.get("named") and path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def route_worker_output() -> None:
    """Ray's ``worker_process_setup_hook`` for OORL's jobs (see the module docstring)."""
    directory = os.environ.get(LOG_DIR_ENV)
    if not directory or _state:
        return
    level = os.environ.get(LEVEL_ENV, "ERROR")
    host = socket.gethostname().split(".")[0]
    path = Path(directory) / f"worker-{_safe(host)}-{os.getpid()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as e:
        print(f"oorl: cannot write {directory} on {host} ({e.strerror}); this worker's output stays on "
              "Ray's log path", file=sys.stderr, flush=True)
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    console_fd = os.dup(2)  # Ray's stderr file for this worker: what Ray forwards to the driver
    out_fd = os.dup(1)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _state.update(dir=path.parent, file=path, named=False)
    console = os.fdopen(console_fd, "w", buffering=1, encoding="utf-8", errors="replace")
    sys.stdout = _LabelWatch(sys.stdout, out_fd)
    sys.stderr = _LabelWatch(sys.stderr, console_fd)
    log_file = logging.StreamHandler(os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace"))
    log_file.setFormatter(logging.Formatter(FILE_FORMAT))
    _attach(_console_handler(console, ConsoleFilter(level)), log_file)
    atexit.register(_drop_if_empty)


def route_driver_output(directory: Path, library_level: str = "ERROR") -> None:
    """The driver: library logging to ``logs/driver.log``, only what passes the policy to the console.
    Call it before the libraries are imported (``oorl train`` does) and again after (``connect`` does):
    the second call puts the policy on the console handlers the libraries added meanwhile."""
    if _state.get("driver") != str(directory):
        directory.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")  # vLLM's records through the root logger
        os.environ.setdefault("TQDM_DISABLE", "1")  # e.g. transformers' "Writing model shards" bars
        file_handler = logging.FileHandler(directory / DRIVER_LOG, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        file_handler.addFilter(_Once())
        policy = ConsoleFilter(library_level)
        _attach(_console_handler(sys.stderr, policy), file_handler, own_loggers=False)
        _state.update(dir=directory, driver=str(directory), file_handler=file_handler, policy=policy)
    file_handler, policy = _state["file_handler"], _state["policy"]
    for name in OWN_HANDLER_LOGGERS:
        lg = logging.getLogger(name)
        if not any(isinstance(f, _Divert) for f in lg.filters):
            lg.addFilter(_Divert(file_handler, policy))
        for h in lg.handlers:  # children's records reach these without the logger filter
            if h is not file_handler and type(h) is not logging.FileHandler and policy not in h.filters:
                h.addFilter(policy)
        if not lg.propagate and file_handler not in lg.handlers:
            lg.addHandler(file_handler)


def _message_key(line: str) -> str:
    """A message with its timestamps, counts and sizes left out (its words that hold no digit)."""
    return " ".join(w for w in line.split() if not _NUMBERED.search(w))


class ClusterMessagesOnce:
    """Wraps the driver's printer of forwarded output (Ray's ``ray_print_logs`` handler): a raylet or
    GCS message reaches the console the first time, its repeats (the same words, other numbers) go to
    ``driver.log`` only; every occurrence is in ``driver.log``. Actors' output passes unchanged."""

    def __init__(self, forward, record) -> None:
        self.forward, self.record = forward, record
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, data: dict) -> None:
        source = data.get("pid")
        if source not in CLUSTER_PROCESSES:
            return self.forward(data)
        first = []
        for line in data.get("lines", []):
            self.record(f"({source}) {line}")
            key = (source, _message_key(line))
            if key not in self._seen:
                self._seen.add(key)
                first.append(f"{line} [shown once; repeats in logs/{DRIVER_LOG}]")
        if first:
            self.forward({**data, "lines": first})


def _to_driver_log(text: str) -> None:
    handler = _state.get("file_handler")
    if handler is not None:
        handler.handle(logging.makeLogRecord({"name": "ray.cluster", "levelno": logging.WARNING,
                                              "levelname": "WARNING", "msg": text}))


def show_cluster_messages_once() -> bool:
    """Put :class:`ClusterMessagesOnce` around the driver's printer of forwarded output (after
    ``ray.init``). Ray has no public hook for it: where its dispatcher is not as expected (another Ray
    version), nothing changes and False is returned."""
    try:
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
        with dispatcher._lock:
            handlers = []
            for name, handler in dispatcher.handlers:
                if name == "ray_print_logs" and not isinstance(handler, ClusterMessagesOnce):
                    handler = ClusterMessagesOnce(handler, _to_driver_log)
                handlers.append((name, handler))
            dispatcher.handlers = handlers
            return any(isinstance(h, ClusterMessagesOnce) for _, h in handlers)
    except (ImportError, AttributeError, TypeError, ValueError):
        return False
