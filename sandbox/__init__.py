"""Isolated, exact execution of untrusted Python programs (Docker pool or local worker).

    from sandbox import make_sandbox, ExecRequest
    with make_sandbox("auto") as sb:                     # a backend of BACKENDS: "auto" | "docker" | "local"
        [results] = sb.run_batch([ExecRequest(source, "f", [(1, 2), (3, 4)], timeout_s=1.0)])
        results[0].status, results[0].value, results[0].python_version

Every call gets exactly one CallResult; infrastructure trouble is CallStatus.SANDBOX_ERROR, never a
program failure. Malformed requests raise BadRequest (naming the request and field) before anything
runs, or with run_batch(..., on_bad_request="result") get ERROR results of type "BadRequest" while the
rest runs. CallResult.python_value() gives a returned value back with its exact type (Unrepresentable
for values with no literal form). One sandbox is safe to share between threads.

    from sandbox import Job, run_jobs                    # many programs, one result per program
    [result] = run_jobs(sb, [Job(source, "f", [[1, 2], [3, 4]])])   # result.status is a CallStatus

`run_jobs` packs programs into few requests, but every record runs in a process of its own.

Names: a `Sandbox` object is `sandbox` everywhere; the choice of backend (a name in `BACKENDS`) is
`backend` inside this package and `sandbox_backend` in the other packages' APIs. The command-line
options (`--backend`, `--sandbox`) and the eval / experiment config key `sandbox` keep their names.
"""
from sandbox.api import CallResult, CallStatus, ExecRequest, Sandbox, SandboxLimits, Unrepresentable
from sandbox.factory import BACKENDS, LocalFallbackRefused, make_sandbox, resolve_backend
from sandbox.jobs import BadRequest
from sandbox.pool import SandboxUnavailable  # raised when a backend cannot start at all (no engine, no image)
from sandbox.programs import UNSUPPORTED, Job, JobResult, SandboxFailure, run_jobs

__all__ = ["BACKENDS", "UNSUPPORTED", "BadRequest", "CallResult", "CallStatus", "ExecRequest", "Job", "JobResult",
           "LocalFallbackRefused", "Sandbox", "SandboxFailure", "SandboxLimits", "SandboxUnavailable",
           "Unrepresentable", "make_sandbox", "resolve_backend", "run_jobs"]
