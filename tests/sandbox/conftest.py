"""Shared sandboxes (one per backend per session) and host-side canaries for the sandbox tests.

Docker tests fail (never skip) when no engine answers: DockerSandbox raises SandboxUnavailable.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox import make_sandbox

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]
SECRET_ENV = "CFCODE_CANARY_SECRET"


def costly_to_compile(depth: int, params: str = "") -> str:
    """A source of a few kB whose compilation takes hundreds of MB to GBs: every try/finally copies
    the code of its body."""
    src, indent = f"def f({params}):\n", "    "
    for _ in range(depth):
        src += f"{indent}try:\n{indent}    x = 1\n{indent}finally:\n"
        indent += "    "
    return src + f"{indent}return 1\n"


@dataclass
class Canary:
    """Things a sandboxed program must never reach: a host file, a loopback port, an env secret."""

    secret: str
    directory: Path
    file: Path
    port: int
    connections: list = field(default_factory=list)

    def untouched(self) -> list[str]:
        problems = []
        if self.file.read_text() != self.secret:
            problems.append("canary file modified")
        extra = sorted(p.name for p in self.directory.iterdir() if p != self.file)
        if extra:
            problems.append(f"files created next to the canary: {extra}")
        if self.connections:
            problems.append(f"{len(self.connections)} connection(s) reached the canary port")
        return problems


@pytest.fixture(scope="session")
def canary():
    secret = "canary-" + secrets.token_hex(12)
    # outside /tmp on purpose: the local worker gets a private /tmp, so a canary there proves nothing
    directory = Path("/var/tmp") / f"cfcode-canary-{secrets.token_hex(6)}"
    directory.mkdir(mode=0o755)
    file = directory / "secret.txt"
    file.write_text(secret)
    file.chmod(0o600)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    can = Canary(secret, directory, file, listener.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            can.connections.append(addr)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    old = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret  # the sandboxes are created after this: nothing may leak it
    yield can
    stop.set()
    thread.join(timeout=2)
    listener.close()
    shutil.rmtree(directory, ignore_errors=True)
    if old is None:
        os.environ.pop(SECRET_ENV, None)
    else:
        os.environ[SECRET_ENV] = old



@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """A backend name, for tests that build (and break) their own sandbox."""
    return request.param


@pytest.fixture(scope="session", params=BACKENDS)
def sandbox(request, canary):
    """One warm sandbox per backend, shared by all tests of the session (as rollouts would share it)."""
    sb = make_sandbox(request.param, size=2)
    yield sb
    sb.close()
