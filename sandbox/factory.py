"""Choose and build a sandbox backend by name.

Why: callers say what they need ("docker" for untrusted model output, "auto" for convenience) and
never import a backend module, so Docker's SDK is only loaded when Docker is used.

Why "auto" is decided once per process: a backend chosen anew at every `make_sandbox("auto")` lets a
slow engine (a 10-second stall) quietly move a running job to the local backend, whose isolation is
weaker. So the first "auto" asks the engine, logs one warning line naming the backend and why, and
every later "auto" of the process gets the same answer; nothing switches backends afterwards.

Why a refusal setting: where model-written or user-supplied code runs (env rewards, the TRL reward
function, evaluation of model outputs), callers pass `allow_local_fallback=False`, so "auto" without
a Docker engine fails with one line instead of dropping to the local backend. The environment
variable CFCODE_SANDBOX_REQUIRE_DOCKER overrides every caller: "1" refuses the fallback everywhere,
"0" allows it everywhere. An explicit backend="local" is always honoured: that is a choice, not a
fallback.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from sandbox.api import Sandbox
from sandbox.docker_sandbox import DockerSandbox
from sandbox.local import LocalSandbox

log = logging.getLogger(__name__)

BACKENDS = ("auto", "docker", "local")
REQUIRE_DOCKER_ENV = "CFCODE_SANDBOX_REQUIRE_DOCKER"


class LocalFallbackRefused(ValueError):
    """backend="auto" found no Docker engine and the caller (or the environment) refuses local.

    A ValueError (a setting that cannot be met, which commands print as one line), deliberately not a
    RuntimeError/OSError: handlers that turn sandbox trouble into a verifier error catch those, and
    this is a setting to fix, not a flaky verifier."""


@dataclass(frozen=True)
class AutoDecision:
    backend: str  # "docker" | "local"
    reason: str


_DECISION: AutoDecision | None = None
_DECISION_LOCK = threading.Lock()


def docker_engine_available(timeout_s: float = 10.0) -> bool:
    """True if a Docker engine answers a ping (environment-configured, like the docker CLI)."""
    return _ping_docker(timeout_s)[0]


def _ping_docker(timeout_s: float) -> tuple[bool, str]:
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        try:
            return bool(client.ping()), "the Docker engine answered"
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - no engine, no permission, no SDK: all mean "not available"
        return False, f"no Docker engine answered ({type(exc).__name__}: {str(exc)[:200]})"


def auto_backend() -> AutoDecision:
    """The backend "auto" means in this process: decided on first use, then fixed (see module doc)."""
    global _DECISION
    with _DECISION_LOCK:
        if _DECISION is None:
            ok, why = _ping_docker(10.0)
            _DECISION = AutoDecision("docker" if ok else "local", why)
            if ok:
                log.warning("sandbox backend 'auto' -> docker for this process: %s", why)
            else:
                log.warning("sandbox backend 'auto' -> local for this process, whose isolation is weaker "
                            "(host processes with rlimits, no container): %s", why)
        return _DECISION


def local_fallback_allowed(default: bool) -> bool:
    """The caller's default unless CFCODE_SANDBOX_REQUIRE_DOCKER says otherwise ("1" / "0")."""
    value = os.environ.get(REQUIRE_DOCKER_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return False
    if value in ("0", "false", "no", "off"):
        return True
    if value:
        raise ValueError(f"{REQUIRE_DOCKER_ENV} must be 1 or 0, got {value!r}")
    return default


def resolve_backend(backend: str, allow_local_fallback: bool = True) -> str:
    """"docker" or "local" for `backend`; LocalFallbackRefused when "auto" would have to fall back."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    decision = auto_backend()
    if decision.backend == "local" and not local_fallback_allowed(allow_local_fallback):
        raise LocalFallbackRefused(
            f"sandbox backend 'auto' would fall back to the local backend ({decision.reason}), which is "
            f"refused for untrusted code: start a Docker engine (scripts/setup.sh starts dockerd), or choose "
            f"backend 'local' explicitly (or set {REQUIRE_DOCKER_ENV}=0) to accept weaker isolation")
    return decision.backend


def make_sandbox(backend: str = "auto", *, allow_local_fallback: bool = True, **kwargs: Any) -> Sandbox:
    """Build a sandbox: "docker", "local", or "auto" (Docker if the process's one-time check found an
    engine, else local with a warning, or LocalFallbackRefused when `allow_local_fallback` is False).

    kwargs go to the backend (common ones: size, limits, max_retries; docker: image, client).
    """
    if resolve_backend(backend, allow_local_fallback) == "docker":
        return DockerSandbox(**kwargs)

    return LocalSandbox(**kwargs)
