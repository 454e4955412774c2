"""Isolated, exact execution of untrusted Python programs (Docker pool or local worker)."""
from sandbox.api import CallResult, CallStatus, ExecRequest, Sandbox, SandboxLimits

__all__ = ["CallResult", "CallStatus", "ExecRequest", "Sandbox", "SandboxLimits", "make_sandbox"]


def make_sandbox(backend: str = "auto", **kwargs) -> Sandbox:
    """Build a sandbox: "docker", "local", or "auto" (Docker if an engine answers, else local + warning)."""
    from sandbox.factory import make_sandbox as _make

    return _make(backend, **kwargs)
