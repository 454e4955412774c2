"""Byte streams to one worker: a host subprocess's pipes, or a container's attached socket.

Why: the pool logic (sandbox/pool.py) only needs "send a frame / receive a frame before a deadline /
is it gone"; how the bytes travel differs per backend and lives here.
"""
from __future__ import annotations

import abc
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from typing import Any

from sandbox.worker import FrameReader, encode_frame

MAX_RESULT_FRAME = 512 << 20


class WorkerLost(RuntimeError):
    """The worker stopped answering (process or container gone, stream closed, hung, garbage)."""


class WorkerStreamClosed(WorkerLost):
    """The worker's stream ended: its process (or container) is gone."""


class WorkerConnection(abc.ABC):
    """A framed, bidirectional stream to one running worker."""

    def __init__(self) -> None:
        self._reader = FrameReader(MAX_RESULT_FRAME)
        self._ready: list[Any] = []
        self.hello: dict[str, Any] = {}
        self._io_lock = threading.Lock()  # reads vs. close: never touch a closed (reused) descriptor
        self._closed = False

    def send(self, obj: dict[str, Any]) -> None:
        self.send_frame(encode_frame(obj))

    def send_frame(self, frame: bytes) -> None:
        try:
            self._send_bytes(frame)
        except (OSError, ValueError) as exc:
            raise WorkerLost(f"cannot write to worker: {exc}") from exc

    def recv(self, timeout_s: float) -> dict[str, Any] | None:
        """Next frame, or None if none arrived within `timeout_s`; WorkerLost on EOF or garbage."""
        deadline = time.monotonic() + timeout_s
        while not self._ready:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with self._io_lock:
                data = b"" if self._closed else self._recv_bytes(remaining)
            if data is None:
                continue
            if not data:
                raise WorkerStreamClosed("worker stream closed")
            try:
                self._reader.feed(data)
                self._ready.extend(self._reader.frames())
            except (ValueError, UnicodeDecodeError) as exc:
                raise WorkerLost(f"garbled frame from worker: {exc}") from exc
        frame = self._ready.pop(0)
        if not isinstance(frame, dict):
            raise WorkerLost("frame from worker is not an object")
        return frame

    def handshake(self, timeout_s: float) -> dict[str, Any]:
        frame = self.recv(timeout_s)
        if frame is None:
            raise WorkerLost(f"worker did not say hello within {timeout_s:.0f} s")
        if frame.get("t") != "hello":
            raise WorkerLost(f"expected hello from worker, got {str(frame)[:200]}")
        self.hello = frame
        return frame

    @abc.abstractmethod
    def _send_bytes(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def _recv_bytes(self, timeout_s: float) -> bytes | None:
        """Some bytes; b"" at EOF; None if nothing arrived within timeout_s."""

    def close(self) -> None:
        """Stop the worker, then release the stream once no read is in progress."""
        self._stop()
        with self._io_lock:
            if not self._closed:
                self._closed = True
                self._release()

    @abc.abstractmethod
    def _stop(self) -> None:
        """Make the worker go away (a blocked read then returns promptly)."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Close descriptors."""


class PipeConnection(WorkerConnection):
    """A worker running as a host subprocess, talking over its stdin/stdout pipes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__()
        self.proc = proc
        self._out = proc.stdout.fileno()
        self._in = proc.stdin.fileno()
        self._poll = select.poll()
        self._poll.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)

    def _send_bytes(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._in, view):]

    def _recv_bytes(self, timeout_s: float) -> bytes | None:
        try:
            if not self._poll.poll(max(0, int(timeout_s * 1000) + 1)):
                return None
            return os.read(self._out, 1 << 20)
        except OSError:
            return b""

    def _stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _release(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class SocketConnection(WorkerConnection):
    """A worker behind a stream socket: a Unix socket the host listens on, bind-mounted into the
    container (no engine in the data path), or the base for the engine's attach stream."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        sock.setblocking(True)  # no socket timeout: it would also cut a long sendall() short
        self.sock = sock
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        self.container_id: str | None = None

    def _send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_bytes(self, timeout_s: float) -> bytes | None:
        try:
            if not self._poll.poll(max(0, int(timeout_s * 1000) + 1)):
                return None
            return self.sock.recv(1 << 20)
        except OSError:
            return b""

    def _stop(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _release(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


_DEMUX = struct.Struct(">BxxxL")


class AttachedSocketConnection(SocketConnection):
    """A worker that is PID 1 of a container, reached through the engine's attach stream.

    Without a TTY the engine multiplexes stdout/stderr on the socket in frames of an 8-byte header
    (stream id, 3 zero bytes, big-endian length) + payload; only stdout (1) carries protocol bytes.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._raw = bytearray()
        self.keepalive: Any = None  # the HTTP response that owns the socket
        self.stderr_tail = b""

    def _recv_bytes(self, timeout_s: float) -> bytes | None:
        data = super()._recv_bytes(timeout_s)
        if not data:
            return data
        self._raw += data
        out = bytearray()
        while len(self._raw) >= 8:
            stream, size = _DEMUX.unpack_from(self._raw)
            if len(self._raw) < 8 + size:
                break
            payload = bytes(self._raw[8:8 + size])
            del self._raw[:8 + size]
            if stream == 1:
                out += payload
            else:
                self.stderr_tail = (self.stderr_tail + payload)[-4096:]
        return bytes(out) if out else None
