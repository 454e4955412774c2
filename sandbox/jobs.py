"""Host side of the worker protocol: validate requests, encode job frames, decode result rows.

Why: both backends speak to the same worker (sandbox/worker.py), so this translation lives once.
Arguments travel as JSON when that round-trips exactly, else as Python literals (repr, parsed in the
child with ast.literal_eval), so tuples, sets and bytes arrive as what the caller passed.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.api import CallResult, CallStatus, ExecRequest
from sandbox.worker import _ENCODE, HEADER

_STATUSES = {s.value: s for s in CallStatus}


class BadRequest(ValueError):
    """The request itself is malformed (raised before anything runs)."""


def validate(req: ExecRequest, position: int = 0) -> None:
    where = f"request #{position}"
    if not isinstance(req, ExecRequest):
        raise BadRequest(f"{where}: expected ExecRequest, got {type(req).__name__}")
    if not isinstance(req.source, str):
        raise BadRequest(f"{where}: source must be str, got {type(req.source).__name__}")
    if not isinstance(req.entry, str) or not req.entry.isidentifier():
        raise BadRequest(f"{where}: entry must be a function name, got {req.entry!r}")
    if isinstance(req.args, (str, bytes)) or not isinstance(req.args, Sequence):
        raise BadRequest(f"{where}: args must be a list of argument tuples")
    for k, a in enumerate(req.args):
        if not isinstance(a, (tuple, list)):
            raise BadRequest(f"{where}: args[{k}] must be a tuple of arguments, got {type(a).__name__}")
    if not isinstance(req.timeout_s, (int, float)) or not math.isfinite(req.timeout_s) or req.timeout_s <= 0:
        raise BadRequest(f"{where}: timeout_s must be a positive number, got {req.timeout_s!r}")
    if req.job_timeout_s is not None and not (req.job_timeout_s > 0):
        raise BadRequest(f"{where}: job_timeout_s must be positive or None")
    if req.kwargs is not None:
        if len(req.kwargs) != len(req.args):
            raise BadRequest(f"{where}: kwargs has {len(req.kwargs)} entries for {len(req.args)} arg tuples")
        for k, kw in enumerate(req.kwargs):
            if not isinstance(kw, dict) or not all(isinstance(key, str) for key in kw):
                raise BadRequest(f"{where}: kwargs[{k}] must be a dict with str keys")


def _literal(value: Any, where: str) -> str:
    import ast

    text = repr(value)
    try:
        if ast.literal_eval(text) != value:
            raise ValueError
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise BadRequest(f"{where}: argument {text[:80]!r} is neither JSON nor a Python literal") from None
    return text


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


def encode_job(req: ExecRequest, position: int = 0) -> EncodedJob:
    job: dict[str, Any] = {"t": "job", "src": req.source, "entry": req.entry, "timeout": float(req.timeout_s)}
    if req.job_timeout_s is not None:
        job["budget"] = float(req.job_timeout_s)
    args = [list(a) for a in req.args]
    kwargs = [dict(k) for k in req.kwargs] if req.kwargs is not None else None
    if _json_round_trips(args) and (kwargs is None or _json_round_trips(kwargs)):
        job["args"] = args
        if kwargs is not None:
            job["kwargs"] = kwargs
    else:
        where = f"request #{position}"
        job["args_repr"] = [_literal(tuple(a), where) for a in req.args]
        if kwargs is not None:
            job["kwargs_repr"] = [_literal(k, where) for k in kwargs]
    body = _ENCODE(job).encode("utf-8", "surrogatepass")[1:-1]
    return EncodedJob(body, float(req.timeout_s), len(req.args))


class ProtocolError(RuntimeError):
    """The worker sent something that is not a valid result row."""


def decode_row(row: Any, n: int, python_version: str | None) -> tuple[int, CallResult]:
    """[index, status, value, is_repr, error_type, error_message, wall_ms] -> (index, CallResult)."""
    try:
        index, status, value, is_repr, etype, emsg, wall_ms = row
        if type(index) is not int or not 0 <= index < n:
            raise ValueError(f"index {index!r} out of range")
        return index, CallResult(_STATUSES[status], value, etype, emsg, float(wall_ms), python_version,
                                 is_repr is True)
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"bad result row {str(row)[:200]}: {exc}") from exc


def sandbox_error(message: str, python_version: str | None = None) -> CallResult:
    return CallResult(status=CallStatus.SANDBOX_ERROR, error_type="SandboxError", error_message=message,
                      python_version=python_version)
