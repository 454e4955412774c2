"""The one sandbox interface every backend implements, and the typed records it speaks.

Why a separate module: generators, envs and rl depend on these records only, never on a backend,
so the backend (Docker pool or local subprocess worker) is a choice made at construction time.
"""
from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class CallStatus(str, enum.Enum):
    """Outcome of one call. Program failures and sandbox failures are deliberately distinct."""

    OK = "ok"
    ERROR = "error"  # the program raised (error_type / error_message say what)
    TIMEOUT = "timeout"  # the call exceeded its time limit
    MEMORY = "memory"  # the call exceeded the address-space / container memory limit
    OUTPUT_TOO_LARGE = "output_too_large"  # returned value or printed output over the cap
    CRASHED = "crashed"  # the program's process died (segfault, os._exit, killed itself, ...)
    SANDBOX_ERROR = "sandbox_error"  # infrastructure failure: engine gone, container lost after retries

    @property
    def is_program_failure(self) -> bool:
        return self not in (CallStatus.OK, CallStatus.SANDBOX_ERROR)


@dataclass(frozen=True)
class ExecRequest:
    """One job: a program, the function to call, and the argument tuples to call it with."""

    source: str
    entry: str
    args: Sequence[tuple[Any, ...]]
    timeout_s: float = 1.0  # per call, wall clock
    kwargs: Sequence[dict[str, Any]] | None = None  # optional keyword args, aligned with `args`
    job_timeout_s: float | None = None  # optional wall budget for the whole job; later calls -> TIMEOUT


@dataclass(frozen=True)
class CallResult:
    """Result of one call of `entry(*args)`. `value` is JSON-safe; other values are a canonical repr."""

    status: CallStatus
    value: Any = None
    error_type: str | None = None
    error_message: str | None = None
    wall_ms: float = 0.0
    python_version: str | None = None  # interpreter that produced the result
    value_is_repr: bool = False  # True: `value` is the canonical repr of a non-JSON value (tuple, set, ...)

    @property
    def ok(self) -> bool:
        return self.status is CallStatus.OK

    def python_value(self) -> Any:
        """The returned value as a Python object: JSON values as is, repr values literal-evaluated.

        Falls back to the repr string when it is not a literal (e.g. an object's default repr).
        """
        if not self.value_is_repr:
            return self.value
        import ast

        try:
            return ast.literal_eval(self.value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return self.value


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits applied to every job (rlimits in the worker; cgroup limits on containers)."""

    cpu_seconds: int = 10
    address_space_mb: int = 512
    file_size_mb: int = 8
    open_files: int = 64
    processes: int = 64  # RLIMIT_NPROC inside the sandbox user
    max_output_bytes: int = 1 << 20
    container_memory_mb: int = 768
    container_pids: int = 128
    container_cpus: float = 1.0
    tmpfs_mb: int = 64


class Sandbox(abc.ABC):
    """Executes untrusted programs. Thread-safe: one instance may serve many concurrent rollouts."""

    backend: str = "abstract"

    @abc.abstractmethod
    def run_batch(self, requests: Sequence[ExecRequest]) -> list[list[CallResult]]:
        """Run jobs (concurrently where the backend can); one list of CallResult per request, in order.

        Every call of every request gets exactly one result; infrastructure failures become
        CallStatus.SANDBOX_ERROR rather than exceptions.
        """

    def run(self, request: ExecRequest) -> list[CallResult]:
        return self.run_batch([request])[0]

    @property
    @abc.abstractmethod
    def python_version(self) -> str:
        """Version string of the interpreter that executes programs."""

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SandboxStats:
    jobs: int = 0
    calls: int = 0
    retries: int = 0
    containers_replaced: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
