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

from sandbox.worker import literal_value


class CallStatus(str, enum.Enum):
    """Outcome of one call. Program failures and sandbox failures are deliberately distinct.

    Who is blamed: what the program does (raise, crash, corrupt its result channel, attack its worker)
    gives a program status on that call alone; a limit gives TIMEOUT (wall clock or CPU time), MEMORY
    or OUTPUT_TOO_LARGE; what the infrastructure does (engine gone, worker killed from outside, again
    after the retries) gives SANDBOX_ERROR. A malformed request run with
    `run_batch(..., on_bad_request="result")` gets ERROR with error_type "BadRequest" for each of its
    calls (one result if its `args` is not even a list), and no program runs for it.
    """

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
class Unrepresentable:
    """What python_value() gives for a returned value that has no literal form (an object, a function,
    a range, an instance of a subclass of a builtin type, ...): only a description of it travelled."""

    text: str


@dataclass(frozen=True)
class CallResult:
    """Result of one call of `entry(*args)`. `value` is JSON-safe; other values are a canonical repr.

    error_type (at most 200 characters) and error_message (about 2,000) are bounded strings or None.
    """

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
        """The returned value as a Python object of the type the program returned.

        JSON values come as they are; the canonical repr of any other value of a builtin type (tuple,
        set, frozenset, bytes, bytearray, complex, NaN and infinite floats, ints too wide for JSON,
        dicts with non-str keys, nested any way) is evaluated back exactly (no code runs). A value
        with no literal form gives an Unrepresentable, never a string, so a returned string is always
        told apart from any other value. So does a set or dict of more than 32 distinct values with
        one hash: rebuilding it would take the host quadratic time.
        """
        if not self.value_is_repr:
            return self.value

        if not isinstance(self.value, str):
            return Unrepresentable(repr(self.value)[:1000])
        try:
            return literal_value(self.value)
        except ValueError:
            return Unrepresentable(self.value)


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
    tmpfs_mb: int = 64  # each scratch filesystem (/tmp, /dev/shm, ...); emptied after every job
    tmpfs_inodes: int = 16384
    max_request_bytes: int = 16 << 20  # one request's source + arguments, encoded; larger: BadRequest
    max_timeout_s: float = 3600.0  # timeout_s / job_timeout_s above this are clamped to it


class Sandbox(abc.ABC):
    """Executes untrusted programs. Thread-safe: one instance may serve many concurrent rollouts."""

    backend: str = "abstract"

    @abc.abstractmethod
    def run_batch(self, requests: Sequence[ExecRequest], *, on_bad_request: str = "raise") -> list[list[CallResult]]:
        """Run jobs (concurrently where the backend can); one list of CallResult per request, in order.

        Every call of every request gets exactly one result; infrastructure failures become
        CallStatus.SANDBOX_ERROR rather than exceptions. Requests are validated before anything runs:
        on_bad_request="raise" raises BadRequest (naming the request's index and field) for the first
        malformed one; "result" gives each call of a malformed request an ERROR result with
        error_type "BadRequest" while the other requests run.
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
