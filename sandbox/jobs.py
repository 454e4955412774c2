"""Host side of the worker protocol: validate requests, encode job frames, decode result rows.

Why: both backends speak to the same worker (sandbox/worker.py), so this translation lives once.
Arguments travel as JSON when that round-trips exactly, else as canonical Python literals
(worker.canonical_repr, read back in the child by worker.literal_value, which evaluates no code), so
tuples, sets, frozensets, bytes, complex numbers, NaN and wide ints arrive as what the caller passed.
"""
from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.api import CallResult, CallStatus, ExecRequest, SandboxLimits
from sandbox.worker import _ENCODE, HEADER, MAX_DEPTH, MAX_ERROR_MESSAGE, MAX_ERROR_TYPE, canonical_repr

_STATUSES = {s.value: s for s in CallStatus}
# argument types that travel (exact types after normalisation; subclasses are converted to these)
_SCALARS = (bool, int, float, complex, str, bytes, bytearray)
_CONTAINERS = (tuple, list, dict, set, frozenset)


class BadRequest(ValueError):
    """The request itself is malformed (raised before anything runs), naming the request and field."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_timeout(value: Any, field: str, where: str, optional: bool) -> None:
    """A positive number of seconds (inf and huge values are clamped to SandboxLimits.max_timeout_s)."""
    if optional and value is None:
        return
    # (math.isnan of an int of 400 digits raises OverflowError)
    if not _number(value) or isinstance(value, float) and math.isnan(value) or value <= 0:
        expected = "a positive number" + (" or None" if optional else "")
        raise BadRequest(f"{where}: {field} must be {expected}, got {value!r:.80}")


def validate(req: Any, position: int = 0) -> None:
    """BadRequest naming the request (its index in the batch) and the field, for any malformed part
    but argument values (those are checked while encoding)."""
    where = f"request #{position}"
    if not isinstance(req, ExecRequest):
        raise BadRequest(f"{where}: expected ExecRequest, got {type(req).__name__}")
    if not isinstance(req.source, str):
        raise BadRequest(f"{where}: source must be str, got {type(req.source).__name__}")
    if not isinstance(req.entry, str) or not req.entry.isidentifier():
        raise BadRequest(f"{where}: entry must be a function name, got {req.entry!r:.80}")
    if isinstance(req.args, (str, bytes)) or not isinstance(req.args, Sequence):
        raise BadRequest(f"{where}: args must be a list of argument tuples, got {type(req.args).__name__}")
    for k, a in enumerate(req.args):
        if not isinstance(a, (tuple, list)):
            raise BadRequest(f"{where}: args[{k}] must be a tuple of arguments, got {type(a).__name__}")
    _check_timeout(req.timeout_s, "timeout_s", where, optional=False)
    _check_timeout(req.job_timeout_s, "job_timeout_s", where, optional=True)
    if req.kwargs is not None:
        if isinstance(req.kwargs, (str, bytes, dict)) or not isinstance(req.kwargs, Sequence):
            raise BadRequest(f"{where}: kwargs must be None or a list of dicts, one per argument tuple")
        if len(req.kwargs) != len(req.args):
            raise BadRequest(f"{where}: kwargs has {len(req.kwargs)} entries for {len(req.args)} arg tuples")
        for k, kw in enumerate(req.kwargs):
            if not isinstance(kw, dict) or not all(isinstance(key, str) for key in kw):
                raise BadRequest(f"{where}: kwargs[{k}] must be a dict with str keys")


def calls_of(req: Any) -> int:
    """How many results a (possibly malformed) request gets: one per argument tuple, at least one."""
    args = getattr(req, "args", None)
    try:
        return max(1, len(args)) if isinstance(args, Sequence) and not isinstance(args, (str, bytes)) else 1
    except (TypeError, ValueError, OverflowError):  # a Sequence with a broken __len__
        return 1


def _normal(value: Any, path: str, where: str, depth: int = 0) -> Any:
    """`value` rebuilt from the builtin types only (subclasses converted); BadRequest naming the first
    part that cannot travel (unsupported type, nested deeper than MAX_DEPTH, or containing itself)."""
    if value is None:
        return None
    if depth > MAX_DEPTH:
        raise BadRequest(f"{where}: {path} is nested more than {MAX_DEPTH} levels deep (or contains itself)")
    for t in _SCALARS:
        if isinstance(value, t):
            return value if type(value) is t else t(value)
    for t in _CONTAINERS:
        if isinstance(value, t):
            if t is dict:
                return {_normal(k, f"{path} key {k!r:.40}", where, depth + 1): _normal(v, f"{path}[{k!r:.40}]",
                                                                                     where, depth + 1)
                        for k, v in value.items()}
            items = [_normal(v, f"{path}[{i}]", where, depth + 1) for i, v in enumerate(value)]
            try:
                return items if t is list else t(items)
            except TypeError as exc:  # an unhashable element of a set
                raise BadRequest(f"{where}: {path}: {exc}") from None
    raise BadRequest(f"{where}: {path} is a {type(value).__name__}, which cannot be sent to the sandbox "
                     f"(supported: None, bool, int, float, complex, str, bytes, bytearray, tuple, list, dict, "
                     f"set, frozenset)")


def _json_round_trips(value: Any) -> bool:
    """True if JSON gives back exactly `value` (no tuples, sets, non-str keys, NaN, ... inside).

    Encoding, decoding and comparing all run in C, which beats walking the structure in Python.
    """
    try:
        return json.loads(_ENCODE(value)) == value
    except (TypeError, ValueError, RecursionError):
        return False


@dataclass(frozen=True)
class EncodedJob:
    """A request ready to send: everything but the per-attempt `id` and `start`, already JSON."""

    body: bytes  # JSON object members, without braces
    timeout_s: float
    calls: int

    def frame(self, job_id: int, start: int) -> bytes:
        payload = b'{"id":%d,"start":%d,%s}' % (job_id, start, self.body)
        return HEADER.pack(len(payload)) + payload


def _too_large(size: int, limits: SandboxLimits, where: str) -> BadRequest:
    return BadRequest(f"{where}: source and arguments take {size} bytes, over the limit of "
                      f"{limits.max_request_bytes} (SandboxLimits.max_request_bytes)")


def _literals(values: Sequence[Any], field: str, where: str, kind: type) -> list[str]:
    out = []
    for k, v in enumerate(values):
        v = _normal(tuple(v) if kind is tuple else v, f"{field}[{k}]", where)
        try:
            out.append(canonical_repr(v))
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{where}: {field}[{k}]: {exc}") from None
    return out


def _clamped(seconds: float, limits: SandboxLimits) -> float:
    """At most max_timeout_s, compared before float() (which overflows on an int of 400 digits)."""
    return limits.max_timeout_s if seconds >= limits.max_timeout_s else float(seconds)


def encode_job(req: ExecRequest, position: int = 0, limits: SandboxLimits | None = None) -> EncodedJob:
    """The job frame body for a validated request; BadRequest for arguments that cannot travel or a
    request over SandboxLimits.max_request_bytes. Timeouts above max_timeout_s are clamped to it."""
    limits = limits or SandboxLimits()
    where = f"request #{position}"
    size = len(req.source)
    for k, a in enumerate(req.args):  # refuse a huge string before paying for encoding it
        for j, item in enumerate(a):
            if isinstance(item, (str, bytes, bytearray)):
                size += len(item)
                if size > limits.max_request_bytes:
                    raise _too_large(size, limits, f"{where}: args[{k}][{j}]")
    timeout = _clamped(req.timeout_s, limits)
    # the name as compile() spells it: identifiers in source are NFKC-normalised ("\ufb01" is "fi")
    entry = unicodedata.normalize("NFKC", req.entry)
    job: dict[str, Any] = {"t": "job", "src": req.source, "entry": entry, "timeout": timeout}
    if req.job_timeout_s is not None:
        job["budget"] = _clamped(req.job_timeout_s, limits)
    args = [list(a) for a in req.args]
    kwargs = [dict(k) for k in req.kwargs] if req.kwargs is not None else None
    if _json_round_trips(args) and (kwargs is None or _json_round_trips(kwargs)):
        job["args"] = args
        if kwargs is not None:
            job["kwargs"] = kwargs
    else:
        job["args_repr"] = _literals(req.args, "args", where, tuple)
        if kwargs is not None:
            job["kwargs_repr"] = _literals(kwargs, "kwargs", where, dict)
    try:
        body = _ENCODE(job).encode("utf-8", "surrogatepass")[1:-1]
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"{where}: cannot encode the request: {exc}") from None
    if len(body) > limits.max_request_bytes:
        raise _too_large(len(body), limits, where)
    return EncodedJob(body, timeout, len(req.args))


def bad_request_results(req: Any, exc: BadRequest, python_version: str | None) -> list[CallResult]:
    """on_bad_request="result": every call of the malformed request gets its own ERROR result."""
    message = str(exc)[:MAX_ERROR_MESSAGE]
    return [CallResult(status=CallStatus.ERROR, error_type="BadRequest", error_message=message,
                       python_version=python_version) for _ in range(calls_of(req))]


class ProtocolError(RuntimeError):
    """The worker sent something that is not a valid result row."""


def _bounded(text: Any, limit: int) -> str | None:
    if text is None:
        return None
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


def decode_row(row: Any, n: int, python_version: str | None) -> tuple[int, CallResult]:
    """[index, status, value, is_repr, error_type, error_message, wall_ms] -> (index, CallResult).

    The worker validated the row already; error fields are bounded here once more all the same.
    """
    try:
        index, status, value, is_repr, etype, emsg, wall_ms = row
        if type(index) is not int or not 0 <= index < n:
            raise ValueError(f"index {index!r} out of range")
        wall = float(wall_ms)
        if not math.isfinite(wall) or wall < 0:
            raise ValueError(f"wall time {wall_ms!r}")
        if is_repr is True and not isinstance(value, str):
            raise ValueError("a repr value must be a string")
        return index, CallResult(_STATUSES[status], value, _bounded(etype, MAX_ERROR_TYPE),
                                 _bounded(emsg, MAX_ERROR_MESSAGE), wall, python_version, is_repr is True)
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"bad result row {str(row)[:200]}: {exc}") from exc


def sandbox_error(message: str, python_version: str | None = None) -> CallResult:
    return CallResult(status=CallStatus.SANDBOX_ERROR, error_type="SandboxError", error_message=message,
                      python_version=python_version)
