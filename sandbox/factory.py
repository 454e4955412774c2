"""Choose and build a sandbox backend by name.

Why: callers say what they need ("docker" for untrusted model output, "auto" for convenience) and
never import a backend module, so Docker's SDK is only loaded when Docker is used.
"""
from __future__ import annotations

import logging
from typing import Any

from sandbox.api import Sandbox

log = logging.getLogger(__name__)

BACKENDS = ("auto", "docker", "local")


def docker_engine_available(timeout_s: float = 10.0) -> bool:
    """True if a Docker engine answers a ping (environment-configured, like the docker CLI)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception as exc:  # no engine, no permission, no SDK: all mean "not available"
        log.info("Docker engine not available: %s", exc)
        return False


def make_sandbox(backend: str = "auto", **kwargs: Any) -> Sandbox:
    """Build a sandbox: "docker", "local", or "auto" (Docker if an engine answers, else local + warning).

    kwargs go to the backend (common ones: size, limits, max_retries; docker: image, client).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        if docker_engine_available():
            backend = "docker"
        else:
            log.warning("no Docker engine answers: using LocalSandbox, whose isolation is weaker "
                        "(host processes with rlimits, no container)")
            backend = "local"
    if backend == "docker":
        from sandbox.docker_sandbox import DockerSandbox

        return DockerSandbox(**kwargs)
    from sandbox.local import LocalSandbox

    return LocalSandbox(**kwargs)
