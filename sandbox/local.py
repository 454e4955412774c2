"""LocalSandbox: the sandbox worker as host subprocesses (no Docker engine needed).

Why: the embedded default where no engine runs, and the container-less baseline of the benchmark.
Isolation is weaker than Docker's; what is available is used: the same rlimits, a scrubbed
environment, the worker's seccomp filter, and when root (or with unprivileged user namespaces) a PID
namespace with the worker as PID 1, private network, IPC and mount namespaces in which the whole
filesystem is read-only but fresh tmpfs on /tmp, /var/tmp, /dev/shm and /run/lock (emptied after
every job); as root also a memory + pids cgroup per worker and a fresh unprivileged uid for every
worker start, so programs cannot signal or limit their worker nor touch its successor's jobs.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from sandbox.api import SandboxLimits
from sandbox.cgroups import WorkerCgroup
from sandbox.pool import PooledSandbox, Slot
from sandbox.transport import PipeConnection, WorkerConnection
from sandbox.uid_blocks import claim_uid_block

log = logging.getLogger(__name__)

# Unprivileged uids handed to local workers when running as root: far above any real account,
# one block of 64 per live pool on this host (sandbox.uid_blocks), so a job can neither signal nor read another job.
_UID_BASE = 1_500_000_000
_warned = threading.Event()


@lru_cache(maxsize=1)
def worker_source() -> str:
    return (Path(__file__).with_name("worker.py")).read_text()


def default_python() -> str:
    """Debian's /usr/bin/python3 when present: the same interpreter build as the Docker image."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def worker_env(home: str) -> dict[str, str]:
    """Nothing from the caller's environment leaks in; the hash seed is fixed for determinism."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def kill_uid(uid: int, rounds: int = 20) -> None:
    """SIGKILL every process whose real uid is `uid` (as root; the uid is this pool's own), until none."""
    for _ in range(rounds):
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/status", "rb") as fh:
                    line = next((ln for ln in fh if ln.startswith(b"Uid:")), b"")
            except OSError:
                continue
            fields = line.split()
            if len(fields) > 1 and int(fields[1]) == uid:
                found.append(int(name))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


# The worker becomes PID 1 of a PID namespace of its own (not root: inside an unprivileged user
# namespace), as in a container: its jobs cannot signal it, cannot see or signal any other process
# of the machine, and all die with it. util-linux `unshare` does the fork a new PID namespace needs.
_PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


@lru_cache(maxsize=1)
def pid_namespace_prefix() -> tuple[str, ...]:
    """The command prefix that starts the worker in a PID namespace of its own; () where impossible."""
    prefix = _PID_NAMESPACE if os.geteuid() == 0 else _PID_NAMESPACE[:1] + ["--user", "--map-root-user"] + _PID_NAMESPACE[1:]
    if not shutil.which("unshare"):
        return ()
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return tuple(prefix) if ok else ()


def worker_argv(python: str, config: dict[str, Any]) -> list[str]:
    # -S: no site-packages (programs see the bare standard library, as in the image); -s: no user site
    return [python, "-S", "-s", "-B", "-c", worker_source(), json.dumps(config, separators=(",", ":"))]


class LocalSandbox(PooledSandbox):
    backend = "local"

    def __init__(self, size: int | None = None, limits: SandboxLimits | None = None, python: str | None = None,
                 isolate: bool = True, **kwargs: Any) -> None:
        self.python = python or default_python()
        self.isolate = isolate
        self._root = os.geteuid() == 0
        self._uid_block = claim_uid_block(_UID_BASE)  # held until close: no live pool shares a uid
        self._uid_base = self._uid_block.base
        self._uid_lock = threading.Lock()
        self._uids_taken: set[int] = set()  # uids of live workers, and of lost ones not yet swept
        self._uid_turn = 0
        self._generation = itertools.count()
        self._host_dirs: list[str] = []
        try:
            super().__init__(size or os.cpu_count() or 1, limits, **kwargs)
        except BaseException:
            self._uid_block.release()
            raise

    def _take_uid(self) -> int:
        """A uid of this pool's 64 that no live worker holds and no stray of a lost worker may hold:
        every worker start gets a fresh one, in turn, so a replaced worker's leftovers cannot touch
        its successor's jobs."""
        with self._uid_lock:
            for _ in range(64):
                uid = self._uid_base + self._uid_turn % 64
                self._uid_turn += 1
                if uid not in self._uids_taken:
                    self._uids_taken.add(uid)
                    return uid
        raise RuntimeError("LocalSandbox supports at most 64 workers as root (one uid each)")

    def _start_worker(self, slot: Slot) -> WorkerConnection:
        uid = self._take_uid() if self._root else None
        # inside the worker's private /tmp when it gets one, else a fresh host directory
        host_dir = tempfile.mkdtemp(prefix=f"cfcode-sandbox-{slot.index}-")
        self._host_dirs.append(host_dir)
        cgroup = None
        if self.isolate:  # root: the job's processes together get a container's memory and pids limits
            cgroup = WorkerCgroup.create(f"{os.getpid()}-{self._uid_base}-{slot.index}-{next(self._generation)}",
                                         self.limits.container_memory_mb, self.limits.container_pids)
        extra = {"oom_file": cgroup.oom_file} if cgroup else {}
        # no Unix-domain sockets: a network namespace does not hide the host's socket files
        config = self.worker_config(uid=uid, isolate=self.isolate, workdir=host_dir, unix_sockets=False, **extra)
        argv = worker_argv(self.python, config)
        if self.isolate:
            argv = list(pid_namespace_prefix()) + argv
        if cgroup:
            argv = cgroup.enter_prefix() + argv
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, env=worker_env(host_dir), cwd="/",
                                    start_new_session=True, close_fds=True)
        except BaseException:
            if cgroup:
                cgroup.remove()
            raise
        conn = PipeConnection(proc)
        conn.uid = uid
        conn.cgroup = cgroup
        return conn

    def _discard_worker(self, slot: Slot, conn: WorkerConnection) -> None:
        """Stop the worker, then everything still running under its uid: a worker killed from outside
        leaves its job's processes orphaned (each in a process group of its own)."""
        try:
            conn.close()
        finally:
            uid = getattr(conn, "uid", None)
            if uid is not None:
                kill_uid(uid)
                with self._uid_lock:
                    self._uids_taken.discard(uid)
            cgroup = getattr(conn, "cgroup", None)
            if cgroup is not None:
                cgroup.remove()

    def _on_hello(self, slot: Slot, hello: dict[str, Any]) -> None:
        have = set(hello.get("isolation", ()))
        missing = [f for f in ("netns", "private_ipc", "readonly_root", "private_tmp", "seccomp") if f not in have]
        if hello.get("pid") != 1:
            missing.append("PID namespace")
        if not self._root:
            missing.append("uid separation")
        if missing and self.isolate and not _warned.is_set():
            _warned.set()
            log.warning("LocalSandbox isolation is weaker than Docker's: no %s on this host", ", ".join(missing))

    def _worker_id(self, conn) -> str:
        return str(conn.proc.pid)

    def kill_worker(self, slot_index: int) -> None:
        """Kill one worker process group from outside (fault injection; the pool replaces it)."""
        self._signal_worker(slot_index, signal.SIGKILL)

    def freeze_worker(self, slot_index: int) -> None:
        """Stop one worker process group (fault injection: a hung worker; the watchdog replaces it)."""
        self._signal_worker(slot_index, signal.SIGSTOP)

    def _signal_worker(self, slot_index: int, sig: int) -> None:
        conn = self._slots[slot_index].conn
        if conn is not None:
            os.killpg(conn.proc.pid, sig)

    def _release_resources(self) -> None:
        for d in self._host_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._uid_block.release()  # after every worker and its uid's processes are gone
