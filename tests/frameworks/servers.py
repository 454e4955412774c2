"""Start a real server process for a framework test and wait until it answers (shared by the openenv
and verifiers sessions; only the standard library, httpx and pytest, which both venvs have)."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(cmd: list[str], ready_url: str, what: str, cwd: Path, timeout_s: float,
                   poll_s: float = 0.2) -> Iterator[subprocess.Popen]:
    """Run `cmd` until `ready_url` answers 200 (fail the test with the server's output if it dies or
    times out); terminate it afterwards."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{what} did not start:\n{proc.stdout.read().decode(errors='replace')}")
        time.sleep(poll_s)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
