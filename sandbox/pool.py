"""A pool of warm workers shared by every backend: scheduling, streaming, retries, replacement.

Why: "every call gets exactly one result" and "infrastructure trouble is SANDBOX_ERROR, not a wrong
answer" are the same rules whether a worker is a host process or a container; only how a worker is
started and stopped differs (subclasses implement `_start_worker` / `_describe`).
"""
from __future__ import annotations

import abc
import itertools
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Sequence

from sandbox.api import CallResult, CallStatus, ExecRequest, Sandbox, SandboxLimits, SandboxStats
from sandbox.jobs import BadRequest, ProtocolError, decode_row, encode_job, sandbox_error, validate
from sandbox.transport import WorkerConnection, WorkerLost

log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """No worker can be started (engine gone, image missing, ...)."""


class Slot:
    """One position in the pool; owns at most one live worker at a time and restarts it lazily."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.conn: WorkerConnection | None = None

    @property
    def python_version(self) -> str | None:
        return self.conn.hello.get("python_version") if self.conn else None


class PooledSandbox(Sandbox):
    """Warm workers + a thread per worker; run_batch may be called from many threads at once."""

    backend = "pooled"

    def __init__(self, size: int, limits: SandboxLimits | None = None, max_retries: int = 2,
                 hang_grace_s: float = 15.0, start_timeout_s: float = 60.0) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.size = size
        self.limits = limits or SandboxLimits()
        self.max_retries = max_retries
        self.hang_grace_s = hang_grace_s
        self.start_timeout_s = start_timeout_s
        self.stats = SandboxStats()
        self._stats_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._slots = [Slot(i) for i in range(size)]
        self._idle: queue.Queue[Slot] = queue.Queue()
        self._closed = False
        self._python_version: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"{self.backend}-sandbox")
        try:
            list(self._executor.map(self._ensure_started, self._slots))
        except BaseException:
            self.close()
            raise
        for slot in self._slots:
            self._idle.put(slot)

    # ------------------------------------------------------------------ backend hooks
    @abc.abstractmethod
    def _start_worker(self, slot: Slot) -> WorkerConnection:
        """Start a fresh worker for `slot` and return its connection (handshake not yet read)."""

    def _stop_worker(self, slot: Slot) -> None:
        if slot.conn is not None:
            try:
                slot.conn.close()
            finally:
                slot.conn = None

    def worker_config(self, **extra: Any) -> dict[str, Any]:
        """argv[1] of the worker: limits plus backend-specific isolation wishes."""
        return {"limits": asdict(self.limits), **extra}

    # ------------------------------------------------------------------ public API
    @property
    def python_version(self) -> str:
        return self._python_version or "unknown"

    def run_batch(self, requests: Sequence[ExecRequest]) -> list[list[CallResult]]:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        requests = list(requests)
        jobs = []
        for position, req in enumerate(requests):
            validate(req, position)
            jobs.append(encode_job(req, position))
        futures = [self._executor.submit(self._run_job, job, len(req.args))
                   for job, req in zip(jobs, requests)]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        for slot in self._slots:
            try:
                self._stop_worker(slot)
            except Exception as exc:  # keep closing the others
                log.warning("stopping sandbox worker %d failed: %s", slot.index, exc)

    def __del__(self) -> None:  # best effort; close() is the contract
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ internals
    def _ensure_started(self, slot: Slot) -> None:
        if slot.conn is not None:
            return
        conn = self._start_worker(slot)
        slot.conn = conn
        try:
            hello = conn.handshake(self.start_timeout_s)
        except WorkerLost:
            self._stop_worker(slot)
            raise
        self._on_hello(slot, hello)
        if self._python_version is None:
            self._python_version = hello.get("python_version")

    def _on_hello(self, slot: Slot, hello: dict[str, Any]) -> None:
        """Hook: backends check the worker's reported isolation."""

    def _bump(self, **counts: int) -> None:
        with self._stats_lock:
            for key, value in counts.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)

    def _run_job(self, job: dict[str, Any], n: int) -> list[CallResult]:
        """Run one request to completion: exactly one CallResult per call, whatever happens."""
        results: list[CallResult | None] = [None] * n
        self._bump(jobs=1, calls=n)
        if n == 0:
            return []
        lost_at: dict[int, int] = {}
        losses = 0
        while True:
            start = next((k for k, r in enumerate(results) if r is None), None)
            if start is None:
                return results  # type: ignore[return-value]
            slot = self._idle.get()
            try:
                try:
                    self._ensure_started(slot)
                except (WorkerLost, SandboxUnavailable, OSError) as exc:
                    msg = f"sandbox worker could not be started: {exc}"
                    log.error(msg)
                    for k in range(start, n):
                        if results[k] is None:
                            results[k] = sandbox_error(msg, self._python_version)
                    continue
                try:
                    self._stream_job(slot, job, start, results)
                except (WorkerLost, ProtocolError) as exc:
                    losses += 1
                    self._bump(retries=1, containers_replaced=1)
                    log.warning("sandbox worker %d lost during a job (%s); replacing it", slot.index, exc)
                    self._stop_worker(slot)
                    in_flight = next((k for k, r in enumerate(results) if r is None), None)
                    if in_flight is None:
                        continue
                    lost_at[in_flight] = lost_at.get(in_flight, 0) + 1
                    if losses > 2 * self.max_retries + 1:  # the sandbox itself is unwell
                        msg = f"sandbox worker lost {losses} times during this job: {exc}"
                        for k in range(in_flight, n):
                            if results[k] is None:
                                results[k] = sandbox_error(msg, slot.python_version or self._python_version)
                    elif lost_at[in_flight] > self.max_retries:
                        # the sandbox restarts fine but this very call keeps taking the worker down
                        results[in_flight] = CallResult(
                            status=CallStatus.CRASHED, error_type="WorkerLost",
                            error_message=f"the worker died {lost_at[in_flight]} times running this call: {exc}",
                            python_version=self._python_version)
            finally:
                self._idle.put(slot)

    def _stream_job(self, slot: Slot, job: dict[str, Any], start: int, results: list[CallResult | None]) -> None:
        conn = slot.conn
        assert conn is not None
        job_id = next(self._ids)
        conn.send({**job, "id": job_id, "start": start})
        silence = 2 * float(job["timeout"]) + self.hang_grace_s
        version = slot.python_version
        n = len(results)
        while True:
            frame = conn.recv(silence)
            if frame.get("t") != "res" or frame.get("id") != job_id:
                raise ProtocolError(f"unexpected frame {str(frame)[:200]}")
            for row in frame.get("r", ()):
                index, result = decode_row(row, n, version)
                if results[index] is None:  # never overwrite: exactly one result per call
                    results[index] = result
            if frame.get("fatal"):
                raise ProtocolError(f"worker failed: {frame['fatal']}")
            if frame.get("done"):
                missing = [k for k in range(start, n) if results[k] is None]
                if missing:
                    raise ProtocolError(f"worker finished without results for calls {missing[:5]}")
                return


__all__ = ["PooledSandbox", "Slot", "SandboxUnavailable", "BadRequest"]
