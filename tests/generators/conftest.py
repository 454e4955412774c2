"""Shared sandboxes for the generator tests: one local worker pool per session, and the Docker pool
for tests marked `docker` (those fail, not skip, when no engine answers)."""
from __future__ import annotations

import pytest

from sandbox import make_sandbox


@pytest.fixture(scope="session")
def sandbox():
    with make_sandbox("local") as sb:
        yield sb


@pytest.fixture(scope="session")
def docker_sandbox():
    with make_sandbox("docker") as sb:  # raises (test fails) when no Docker engine is reachable
        yield sb
