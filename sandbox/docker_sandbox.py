"""DockerSandbox: a warm pool of hardened containers, each running the worker as PID 1.

Why PID 1 on an attached socket: the host talks to each worker over the engine's attach stream (no
`docker exec` per job, no extra process), and a container's PID 1 ignores every signal sent from
inside its namespace that it has no handler for, SIGKILL included, so programs cannot kill their worker.
Hardening per container: no network, read-only root, small tmpfs /tmp, all capabilities dropped,
no-new-privileges, a distinct unprivileged uid, pids limit, memory limit without swap, CPU quota,
no log (the attach stream is the container's stdout). Inside, the worker ignores SIGINT (the one
signal Python would handle), adds a seccomp filter (no prlimit on other processes, no keyrings), and
empties /tmp, /dev/shm, /dev/mqueue and the SysV IPC namespace after every job, so jobs sharing a
container never see each other.
Containers carry labels naming their owner process; stale ones (owner dead) are removed at start and a
pool removes its own on close.
"""
from __future__ import annotations

import itertools
import logging
import os
import shutil
import socket
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from sandbox.api import SandboxLimits
from sandbox.image import DEFAULT_IMAGE
from sandbox.local import worker_argv, worker_env
from sandbox.pool import PooledSandbox, SandboxUnavailable, Slot
from sandbox.runc_check import RuncCheck, check_engine_runc
from sandbox.transport import AttachedSocketConnection, SocketConnection, WorkerConnection
from sandbox.uid_blocks import claim_uid_block

log = logging.getLogger(__name__)

LABEL = "org.cfcode.sandbox"  # value: owner "<host>:<pid>:<process start time>"
POOL_LABEL = "org.cfcode.sandbox.pool"  # value: one pool instance
_UID_BASE = 1_700_000_000
# The container's only writable places (read-only root); the worker empties them after every job.
# Its IPC namespace is the container's own, so SysV objects left by a job are removed too.
WORKER_PLACES: dict[str, Any] = {"uid": None, "isolate": False, "workdir": "/tmp", "jobdir": "/tmp",
                                 "scratch": ["/tmp", "/dev/shm", "/dev/mqueue"], "ipc_private": True}
_runc_checked: dict[str, RuncCheck] = {}
_runc_lock = threading.Lock()


def _socket_base() -> str:
    if os.geteuid() == 0:
        return "/run/cfcode-sandbox"
    base = os.path.join(tempfile.gettempdir(), f"cfcode-sandbox-{os.geteuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


def _remove_empty_dirs(base: str) -> None:
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        try:
            os.rmdir(os.path.join(base, name))  # only succeeds when empty
        except OSError:
            pass


def _process_start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rfind(b")") + 2:].split()[19].decode()
    except (OSError, IndexError):
        return "?"


def owner_token(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start_time(pid)}"


def owner_alive(token: str) -> bool:
    """Is the process that created a container still running (on this host)?"""
    try:
        host, pid_text, start = token.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # another machine sharing the engine: not ours to judge
    return os.path.exists(f"/proc/{pid}") and _process_start_time(pid) == start


def remove_stale_containers(client, pool_id: str | None = None) -> int:
    """Remove pool containers whose owner process is gone (or all of pool `pool_id`). Returns how many."""
    removed = 0
    # the engine's list answer carries the labels: no inspect per container, which would fail for
    # one auto-removed in between (other pools come and go at the same time)
    for c in client.api.containers(all=True, filters={"label": LABEL}):
        labels = c.get("Labels") or {}
        owner = labels.get(LABEL, "")
        if (labels.get(POOL_LABEL) == pool_id) if pool_id else not owner_alive(owner):
            try:
                client.api.remove_container(c["Id"], force=True)
                removed += 1
            except Exception as exc:  # already gone (auto-remove) is fine
                if "No such container" not in str(exc) and "already in progress" not in str(exc):
                    log.warning("could not remove sandbox container %s: %s", c["Id"][:12], exc)
    return removed


class DockerSandbox(PooledSandbox):
    backend = "docker"

    def __init__(self, size: int | None = None, limits: SandboxLimits | None = None, image: str = DEFAULT_IMAGE,
                 client=None, transport: str = "auto", **kwargs: Any) -> None:
        """transport: "socket" (a Unix socket bind-mounted per container: fastest, local engines only),
        "attach" (the engine's attach stream: works with any engine), or "auto"."""
        import docker

        try:
            self.client = client or docker.from_env(timeout=120)
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(f"no Docker engine answers ({exc}); start dockerd or use backend='local'") from exc
        try:
            self.image = self.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(f"sandbox image {image!r} not found: run `cfcode sandbox build-image`") from None
        self.image_name = image
        self.runc = self._check_runc()
        self.owner = owner_token()
        self.pool_id = uuid.uuid4().hex
        if transport not in ("auto", "socket", "attach"):
            raise ValueError(f"transport must be auto, socket or attach, not {transport!r}")
        local_engine = self.client.api.base_url.startswith("http+docker://localhost")
        self.transport = transport if transport != "auto" else ("socket" if local_engine else "attach")
        self._generation = itertools.count()
        self._socket_root = os.path.join(_socket_base(), self.pool_id)
        _remove_empty_dirs(os.path.dirname(self._socket_root))  # left by pools that crashed
        stale = remove_stale_containers(self.client)
        if stale:
            log.info("removed %d leaked sandbox container(s) from an earlier run", stale)
        self._uid_block = claim_uid_block(_UID_BASE)  # held until close: no live pool shares a uid
        self._uid_base = self._uid_block.base
        try:
            super().__init__(size or os.cpu_count() or 1, limits, **kwargs)
        except BaseException:
            self._uid_block.release()
            raise

    def _check_runc(self) -> RuncCheck:
        key = self.client.api.base_url
        with _runc_lock:
            if key not in _runc_checked:
                _runc_checked[key] = check_engine_runc(self.client)
            return _runc_checked[key]

    # ------------------------------------------------------------------ containers
    def _host_config(self, binds: dict[str, Any] | None = None) -> dict[str, Any]:
        lim = self.limits
        mem = f"{lim.container_memory_mb}m"
        return self.client.api.create_host_config(
            network_mode="none", read_only=True, privileged=False,
            tmpfs={path: f"rw,nosuid,nodev,noexec,size={lim.tmpfs_mb}m,nr_inodes={lim.tmpfs_inodes},mode=1777"
                   for path in ("/tmp", "/dev/shm")},  # capped in bytes and inodes: quick to empty
            cap_drop=["ALL"], security_opt=["no-new-privileges"], pids_limit=lim.container_pids,
            mem_limit=mem, memswap_limit=mem, mem_swappiness=0, nano_cpus=int(lim.container_cpus * 1e9),
            # not auto-removed: a container whose worker died is inspected (OOMKilled) before
            # _discard_worker removes it
            ipc_mode="private", auto_remove=False, init=False, oom_kill_disable=False, binds=binds,
            # nothing logged: over the attach stream the worker's stdout carries every result, which
            # the default json-file driver kept on the host's disk without bound
            log_config={"type": "none", "config": {}},
        )

    def _start_worker(self, slot: Slot) -> WorkerConnection:
        if self.transport == "socket":
            return self._start_socket_worker(slot)
        return self._start_attached_worker(slot)

    def _create(self, slot: Slot, config: dict[str, Any], **extra: Any) -> str:
        uid = self._uid_base + slot.index
        binds = extra.pop("binds", None)
        spec = self.client.api.create_container_config(
            self.image.id, command=worker_argv("python3", config), user=f"{uid}:{uid}",
            environment=worker_env("/tmp"), working_dir="/tmp", tty=False, network_disabled=True,
            labels={LABEL: self.owner, POOL_LABEL: self.pool_id, f"{LABEL}.slot": str(slot.index)},
            host_config=self._host_config(binds), **extra)
        return spec

    def _start_attached_worker(self, slot: Slot) -> WorkerConnection:
        """Talk through the engine's attach stream (works with remote engines too)."""
        import docker

        config = self.worker_config(**WORKER_PLACES)
        cid = None
        try:
            spec = self._create(slot, config, stdin_open=True)
            spec["StdinOnce"] = True  # our socket closing = EOF for the worker, which then exits
            cid = self.client.api.create_container_from_config(spec)["Id"]
            raw = self.client.api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self.client.api.start(cid)
        except docker.errors.DockerException as exc:
            if cid is not None:
                self._remove(cid)
            raise SandboxUnavailable(f"cannot start a sandbox container: {exc}") from exc
        conn = AttachedSocketConnection(getattr(raw, "_sock", raw))
        conn.keepalive = raw  # the HTTP response owning the socket must outlive it
        conn.container_id = cid
        return conn

    def _start_socket_worker(self, slot: Slot) -> WorkerConnection:
        """The worker connects to a Unix socket in a bind-mounted directory of its own.

        The host accepts exactly one connection (the worker's, before any program runs), then removes
        the socket file and directory, so nothing else in the container can ever connect.
        """
        import docker

        uid = self._uid_base + slot.index
        sock_dir = Path(self._socket_root, f"{slot.index}-{next(self._generation)}")
        sock_dir.mkdir(mode=0o700, parents=True)
        path = sock_dir / "w.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cid = None
        try:
            listener.bind(str(path))
            listener.listen(1)
            if os.geteuid() == 0:
                os.chown(sock_dir, uid, uid)
                os.chown(path, uid, uid)
            else:  # the container uid is not ours to give files to; the parent directory stays private
                os.chmod(sock_dir, 0o777)
                os.chmod(path, 0o666)
            config = self.worker_config(**WORKER_PLACES, connect="/run/cfcode/w.sock")
            try:
                spec = self._create(slot, config, binds={str(sock_dir): {"bind": "/run/cfcode", "mode": "ro"}})
                cid = self.client.api.create_container_from_config(spec)["Id"]
                self.client.api.start(cid)
            except docker.errors.DockerException as exc:
                raise SandboxUnavailable(f"cannot start a sandbox container: {exc}") from exc
            listener.settimeout(self.start_timeout_s)
            try:
                worker_sock, _ = listener.accept()
            except TimeoutError:
                raise SandboxUnavailable(f"sandbox container did not connect within {self.start_timeout_s:.0f} s") from None
        except BaseException:
            if cid is not None:
                self._remove(cid)
            raise
        finally:
            listener.close()
            path.unlink(missing_ok=True)
            try:
                sock_dir.rmdir()
            except OSError:
                pass
        conn = SocketConnection(worker_sock)
        conn.container_id = cid
        return conn

    def _remove(self, cid: str) -> None:
        try:
            self.client.api.remove_container(cid, force=True)
        except Exception:  # auto-removed already, or engine gone: nothing to leak then
            pass

    def _discard_worker(self, slot: Slot, conn: WorkerConnection) -> None:
        try:
            conn.close()
        finally:
            self._remove(conn.container_id)

    def _oom_killed(self, conn: WorkerConnection) -> bool:
        """The engine's OOMKilled flag once the container has exited (its PID 1, the worker, is gone)."""
        import time

        for _ in range(50):
            try:
                state = self.client.api.inspect_container(conn.container_id)["State"]
            except Exception:  # engine trouble: not the program's doing
                return False
            if not state.get("Running"):
                return bool(state.get("OOMKilled"))
            time.sleep(0.1)
        return False

    def kill_worker(self, slot_index: int) -> None:
        """Kill one pool container from outside (fault injection; the pool replaces it)."""
        conn = self._slots[slot_index].conn
        if conn is not None:
            self.client.api.kill(conn.container_id)

    def freeze_worker(self, slot_index: int) -> None:
        """Pause one pool container (fault injection: a hung container; the watchdog replaces it)."""
        conn = self._slots[slot_index].conn
        if conn is not None:
            self.client.api.pause(conn.container_id)

    def _worker_id(self, conn: WorkerConnection) -> str:
        return conn.container_id

    @property
    def container_ids(self) -> list[str]:
        return self.worker_ids

    def _release_resources(self) -> None:
        try:
            remove_stale_containers(self.client, pool_id=self.pool_id)
        except Exception:
            pass
        shutil.rmtree(self._socket_root, ignore_errors=True)
        self._uid_block.release()  # after the pool's containers are removed
