"""One shared sandbox per backend for the whole process, created on first need.

Why shared: a vector env of N copies, a TRL reward function and the benchmark would otherwise each
start their own Docker pool; the sandbox is thread-safe, so one per backend is enough. The exact
answer path never touches it. A forked child (e.g. an `AsyncVectorEnv` worker) forgets the parent's
sandboxes without closing them, since closing would shut down workers the parent still uses.

Why no local fallback by default: this sandbox runs what models and datasets supply (abduction
checks of model answers, programs of user suites), so "auto" without a Docker engine fails with one
line (`sandbox.LocalFallbackRefused`) instead of quietly running them with the local backend's
weaker isolation; backend "local" (or CFCODE_SANDBOX_REQUIRE_DOCKER=0) is the explicit opt-in.
"auto" is resolved once per process (`sandbox.factory`), so it shares the "docker" pool.
"""
from __future__ import annotations

import atexit
import os
import threading

from sandbox import BACKENDS, Sandbox, make_sandbox, resolve_backend

_SHARED: dict[str, Sandbox] = {}
_LOCK = threading.Lock()


def shared_sandbox(backend: str = "auto", allow_local_fallback: bool = False) -> Sandbox:
    """The process-wide sandbox of `backend` ("auto" | "docker" | "local"); closed at exit."""
    if backend not in BACKENDS:
        raise ValueError(f"sandbox backend must be one of {BACKENDS}, got {backend!r}")
    resolved = resolve_backend(backend, allow_local_fallback)  # LocalFallbackRefused: one clear line
    with _LOCK:
        sb = _SHARED.get(resolved)
        if sb is None:
            sb = _SHARED[resolved] = make_sandbox(resolved)
        return sb


def close_shared_sandboxes() -> None:
    with _LOCK:
        for sb in _SHARED.values():
            sb.close()
        _SHARED.clear()


def _forget_in_child() -> None:
    global _LOCK
    _SHARED.clear()
    _LOCK = threading.Lock()


atexit.register(close_shared_sandboxes)
os.register_at_fork(after_in_child=_forget_in_child)
