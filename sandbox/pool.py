"""A pool of warm workers shared by every backend: scheduling, pipelining, retries, replacement.

Why here: "every call gets exactly one result" and "infrastructure trouble is SANDBOX_ERROR, not a
wrong answer" are the same rules whether a worker is a host process or a container; only how a worker
is started and stopped differs (subclasses implement `_start_worker`).

Each worker gets up to `depth` jobs at once: the next job waits in the worker's input stream while the
current one runs, so the round trip (through the Docker engine, for containers) is hidden. One reader
thread per worker routes result frames to the jobs they belong to and watches for hangs.
"""
from __future__ import annotations

import abc
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.api import CallResult, CallStatus, ExecRequest, Sandbox, SandboxLimits, SandboxStats
from sandbox.jobs import (
    BadRequest,
    EncodedJob,
    ProtocolError,
    bad_request_results,
    decode_row,
    encode_job,
    sandbox_error,
    validate,
)
from sandbox.transport import WorkerConnection, WorkerLost, WorkerStreamClosed

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0


class SandboxUnavailable(RuntimeError):
    """No worker can be started (engine gone, image missing, ...)."""


class WorkerRetired(WorkerLost):
    """The worker said "bye" between jobs: nothing it was holding had started; replace it and resend."""


class WorkerOutOfMemory(WorkerLost):
    """The out-of-memory killer ended the worker: the job running there used up its memory (memory a
    job holds outside any process's RSS, such as memfds, leaves the small worker the largest process
    of its cgroup). That call gets MEMORY, the program's status, instead of being retried."""


@dataclass
class _Attempt:
    """One job sent to one worker: results land in the shared list; `done` fires at the end."""

    results: list[CallResult | None]
    timeout_s: float
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None
    was_running: bool = False  # the worker was executing it (not just holding it queued) when lost


class Slot:
    """One position in the pool: at most one live worker at a time, restarted on demand."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.conn: WorkerConnection | None = None
        self.state_lock = threading.Lock()  # conn, inflight, last_activity
        self.send_lock = threading.Lock()  # frames are written whole
        self.start_lock = threading.Lock()  # one (re)start at a time
        self.inflight: dict[int, _Attempt] = {}  # in the order the worker runs them
        self.last_activity = time.monotonic()

    @property
    def python_version(self) -> str | None:
        conn = self.conn
        return conn.hello.get("python_version") if conn else None


class PooledSandbox(Sandbox):
    """Warm workers; run_batch may be called from many threads at once."""

    backend = "pooled"

    def __init__(self, size: int, limits: SandboxLimits | None = None, max_retries: int = 2,
                 hang_grace_s: float = 15.0, start_timeout_s: float = 60.0, depth: int = 2) -> None:
        if size < 1 or depth < 1:
            raise ValueError(f"pool size and depth must be >= 1, got {size}, {depth}")
        self.size = size
        self.depth = depth
        self.limits = limits or SandboxLimits()
        self.max_retries = max_retries
        self.hang_grace_s = hang_grace_s
        self.start_timeout_s = start_timeout_s
        self.stats = SandboxStats()
        self._stats_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._slots = [Slot(i) for i in range(size)]
        self._tickets: queue.Queue[Slot] = queue.Queue()  # `depth` tickets per slot
        self._closed = False
        self._owner_pid = os.getpid()
        self._python_version: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=size * depth, thread_name_prefix=f"{self.backend}-sandbox")
        try:
            list(self._executor.map(self._ensure_started, self._slots))
        except BaseException:
            self.close()
            raise
        for _ in range(depth):
            for slot in self._slots:
                self._tickets.put(slot)

    # ------------------------------------------------------------------ backend hooks
    @abc.abstractmethod
    def _start_worker(self, slot: Slot) -> WorkerConnection:
        """Start a fresh worker for `slot` and return its connection (handshake not yet read)."""

    def _discard_worker(self, slot: Slot, conn: WorkerConnection) -> None:
        """Stop a worker for good (backends also remove its container)."""
        conn.close()

    def _on_hello(self, slot: Slot, hello: dict[str, Any]) -> None:
        """Hook: backends check the worker's reported isolation."""

    def _oom_killed(self, conn: WorkerConnection) -> bool:
        """Hook: was this worker, whose stream just closed, ended by the out-of-memory killer during
        its current job? (Workers retire after any OOM kill they survive, so one seen now is that job's.)"""
        return False

    def worker_config(self, **extra: Any) -> dict[str, Any]:
        """argv[1] of the worker: limits plus backend-specific isolation wishes."""
        return {"limits": asdict(self.limits), **extra}

    # ------------------------------------------------------------------ public API
    @property
    def worker_ids(self) -> list[str]:
        """Identity of each live worker (process id or container id): changes when one is replaced."""
        return [self._worker_id(s.conn) for s in self._slots if s.conn is not None]

    def _worker_id(self, conn: WorkerConnection) -> str:
        return str(id(conn))

    @property
    def python_version(self) -> str:
        return self._python_version or "unknown"

    def run_batch(self, requests: Sequence[ExecRequest], *, on_bad_request: str = "raise") -> list[list[CallResult]]:
        if on_bad_request not in ("raise", "result"):
            raise ValueError(f"on_bad_request must be 'raise' or 'result', not {on_bad_request!r}")
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        if isinstance(requests, (ExecRequest, str, bytes)) or not isinstance(requests, Iterable):
            raise BadRequest(f"requests must be a list of ExecRequest, got {type(requests).__name__}")
        requests = list(requests)
        jobs: list[EncodedJob | list[CallResult]] = []
        for position, req in enumerate(requests):
            try:
                validate(req, position)
                jobs.append(encode_job(req, position, self.limits))
            except BadRequest as exc:
                if on_bad_request == "raise":
                    raise
                jobs.append(bad_request_results(req, exc, self._python_version))
        futures = [self._executor.submit(self._run_job, job) if isinstance(job, EncodedJob) else job for job in jobs]
        return [job if isinstance(job, list) else job.result() for job in futures]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if os.getpid() != self._owner_pid:
            return  # a forked copy of this object: the workers and their resources are the parent's
        try:
            self._executor.shutdown(wait=True, cancel_futures=True)
            for slot in self._slots:
                with slot.state_lock:
                    conn, slot.conn = slot.conn, None
                if conn is not None:
                    try:
                        self._discard_worker(slot, conn)
                    except Exception as exc:  # keep closing the others
                        log.warning("stopping sandbox worker %d failed: %s", slot.index, exc)
        finally:
            self._release_resources()

    def _release_resources(self) -> None:
        """Hook: remove what the backend owns besides its workers (called once, by the owner process)."""

    def __del__(self) -> None:  # best effort; close() is the contract
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ workers
    def _ensure_started(self, slot: Slot) -> WorkerConnection:
        with slot.start_lock:
            if slot.conn is not None:
                return slot.conn
            conn = self._start_worker(slot)
            try:
                hello = conn.handshake(self.start_timeout_s)
            except WorkerLost:
                self._discard_worker(slot, conn)
                raise
            self._on_hello(slot, hello)
            if self._python_version is None:
                self._python_version = hello.get("python_version")
            with slot.state_lock:
                slot.conn = conn
                slot.last_activity = time.monotonic()
            threading.Thread(target=self._read_loop, args=(slot, conn), daemon=True,
                             name=f"{self.backend}-sandbox-reader-{slot.index}").start()
            return conn

    def _read_loop(self, slot: Slot, conn: WorkerConnection) -> None:
        """Route frames of one worker to their jobs; declare the worker lost on EOF, garbage or hang."""
        while True:
            try:
                frame = conn.recv(IDLE_POLL_S)
            except WorkerLost as exc:
                self._lose(slot, conn, exc)
                return
            with slot.state_lock:
                if slot.conn is not conn:
                    return
                if frame is None:
                    if not slot.inflight:
                        continue
                    limit = 2 * max(a.timeout_s for a in slot.inflight.values()) + self.hang_grace_s
                    if time.monotonic() - slot.last_activity <= limit:
                        continue
                    error: Exception | None = WorkerLost(f"worker silent for {limit:.1f} s (hung)")
                else:
                    slot.last_activity = time.monotonic()
                    error = self._route(slot, frame)
            if error is not None:
                self._lose(slot, conn, error)
                return

    def _route(self, slot: Slot, frame: dict[str, Any]) -> Exception | None:
        """Apply one result frame (caller holds state_lock). Returns an error to lose the worker."""
        if frame.get("t") == "bye":  # the worker retires between jobs (unfit after a hostile job)
            return WorkerRetired(f"worker retired: {str(frame.get('reason'))[:300]}")
        attempt = slot.inflight.get(frame.get("id")) if frame.get("t") == "res" else None
        if attempt is None:
            return ProtocolError(f"unexpected frame {str(frame)[:200]}")
        n = len(attempt.results)
        version = slot.python_version
        try:
            for row in frame.get("r", ()):
                index, result = decode_row(row, n, version)
                if attempt.results[index] is None:  # never overwrite: exactly one result per call
                    attempt.results[index] = result
        except ProtocolError as exc:
            return exc
        if frame.get("fatal"):
            return ProtocolError(f"worker failed: {frame['fatal']}")
        if frame.get("done"):
            del slot.inflight[frame["id"]]
            attempt.done.set()
        return None

    def _lose(self, slot: Slot, conn: WorkerConnection, error: Exception) -> None:
        """A worker is gone: fail its jobs (they retry elsewhere) and stop it."""
        with slot.state_lock:
            if slot.conn is not conn:
                return
            slot.conn = None
            lost = list(slot.inflight.values())
            slot.inflight.clear()
        if lost and not self._closed and isinstance(error, WorkerStreamClosed) and self._oom_killed(conn):
            error = WorkerOutOfMemory(f"the job used up its worker's memory: the out-of-memory killer ended the worker ({error})")
        if lost and not self._closed:
            log.warning("sandbox worker %d lost with %d job(s) in flight (%s); replacing it",
                        slot.index, len(lost), error)
            self._bump(containers_replaced=1)
        for k, attempt in enumerate(lost):
            attempt.error = error
            attempt.was_running = k == 0 and not isinstance(error, WorkerRetired)
            attempt.done.set()
        try:
            self._discard_worker(slot, conn)
        except Exception as exc:
            log.warning("could not stop lost sandbox worker %d: %s", slot.index, exc)

    # ------------------------------------------------------------------ jobs
    def _bump(self, **counts: int) -> None:
        with self._stats_lock:
            for key, value in counts.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)

    def _run_job(self, job: EncodedJob) -> list[CallResult]:
        """Run one request to completion: exactly one CallResult per call, whatever happens."""
        n = job.calls
        results: list[CallResult | None] = [None] * n
        self._bump(jobs=1, calls=n)
        lost_at: dict[int, int] = {}
        losses = 0
        while True:
            start = next((k for k, r in enumerate(results) if r is None), None)
            if start is None:
                return results  # type: ignore[return-value]
            slot = self._tickets.get()
            try:
                attempt = self._submit(slot, job, start, results)
            except Exception as exc:  # engine errors, timeouts, ...: only infrastructure code ran here
                msg = f"sandbox worker could not be started: {type(exc).__name__}: {exc}"
                log.error(msg)
                for k in range(start, n):
                    results[k] = results[k] or sandbox_error(msg, self._python_version)
                continue
            finally:
                self._tickets.put(slot)  # the ticket only guards submission; results come via the reader
            attempt.done.wait()
            if attempt.error is None:
                missing = [k for k in range(start, n) if results[k] is None]
                if not missing:
                    continue
                attempt.error = ProtocolError(f"worker finished without results for calls {missing[:5]}")
                attempt.was_running = True
            if not attempt.was_running:
                continue  # it was only queued behind a job that took the worker down: just resend
            if isinstance(attempt.error, WorkerOutOfMemory):  # the program's doing: no retry
                in_flight = next((k for k, r in enumerate(results) if r is None), None)
                if in_flight is not None:
                    results[in_flight] = CallResult(CallStatus.MEMORY, error_type="MemoryError",
                                                    error_message=str(attempt.error)[:2000],
                                                    python_version=self._python_version)
                continue
            losses += 1
            self._bump(retries=1)
            in_flight = next((k for k, r in enumerate(results) if r is None), None)
            if in_flight is None:
                continue
            lost_at[in_flight] = lost_at.get(in_flight, 0) + 1
            # Programs cannot kill, wedge or cripple their worker (PID 1 or another uid, seccomp, rows
            # validated, limits checked): a worker lost again and again is the infrastructure's doing.
            if losses > 2 * self.max_retries + 1:  # the sandbox itself is unwell
                msg = f"sandbox worker lost {losses} times during this job: {attempt.error}"
                for k in range(in_flight, n):
                    results[k] = results[k] or sandbox_error(msg, self._python_version)
            elif lost_at[in_flight] > self.max_retries:
                results[in_flight] = sandbox_error(
                    f"sandbox worker lost {lost_at[in_flight]} times while running this call: {attempt.error}",
                    self._python_version)

    def _submit(self, slot: Slot, job: EncodedJob, start: int, results: list[CallResult | None]) -> _Attempt:
        """Hand a job to a slot's worker (starting one if needed); the reader thread completes it."""
        job_id = next(self._ids)
        attempt = _Attempt(results=results, timeout_s=job.timeout_s)
        while True:
            conn = self._ensure_started(slot)
            with slot.state_lock:
                if slot.conn is not conn:
                    continue  # lost between start and now: start another
                if not slot.inflight:
                    slot.last_activity = time.monotonic()
                slot.inflight[job_id] = attempt
                break
        try:
            with slot.send_lock:
                conn.send_frame(job.frame(job_id, start))
        except WorkerLost as exc:
            self._lose(slot, conn, exc)
        return attempt


__all__ = ["PooledSandbox", "SandboxUnavailable", "Slot"]
