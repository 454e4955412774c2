"""Ground truth by execution: run each draft over its full latent domain in the sandbox, batched.

Why packing: one sandbox request per draft costs a round trip each; instead many drafts travel in
one request to a small runner (`_RUNNER`, executed *inside* the sandbox) that executes each program
in a fresh namespace and reports per-job values or the exception. If a packed request as a whole
times out or dies (e.g. one program loops), its jobs are re-run one per request so that only the
culprit is rejected. Nothing here executes a program in this process.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox import CallStatus, ExecRequest, Sandbox

RUNNER_ENTRY = "__cfcode_run_jobs__"

# Executed inside the sandbox. Each job: [source, entry, [argument lists]].
# Result per job: ["ok", [values]] | ["error", "Type: message"] | ["unsupported", "type name"].
_RUNNER = '''
import json as _json


def _plain(value):
    if isinstance(value, tuple):
        return False
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return True


def __cfcode_run_jobs__(jobs):
    results = []
    for source, entry, arg_lists in jobs:
        try:
            namespace = {"__name__": "__cfcode_program__"}
            exec(compile(source, "<program>", "exec"), namespace)
            fn = namespace[entry]
            values = [fn(*args) for args in arg_lists]
        except Exception as exc:
            results.append(["error", type(exc).__name__ + ": " + str(exc)[:200]])
            continue
        try:
            plain = _plain(values) and _json.loads(_json.dumps(values, allow_nan=False)) == values
        except (TypeError, ValueError):
            plain = False
        if plain:
            results.append(["ok", values])
        else:
            bad = next((type(v).__name__ for v in values if not _plain([v])), "non-JSON value")
            results.append(["unsupported", bad])
    return results
'''


class SandboxFailure(RuntimeError):
    """The sandbox itself failed (not the program): generation stops rather than silently dropping
    problems, because silently dropped problems would break determinism."""


@dataclass(frozen=True)
class Job:
    """Call `entry(*args)` for every argument tuple of `arg_lists` in a fresh namespace."""

    source: str
    entry: str
    arg_lists: list[list[Any]]


@dataclass(frozen=True)
class JobResult:
    status: str  # "ok" | "error" | "timeout" | "unsupported"
    values: list[Any] | None = None
    detail: str = ""


def latent_combinations(latents: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Every assignment of the latents, in domain order (first latent varies slowest)."""
    return list(itertools.product(*latents.values()))


def run_jobs(sandbox: Sandbox, jobs: Sequence[Job], *, pack_calls: int = 4000,
             call_timeout_s: float = 0.5) -> list[JobResult]:
    """Execute jobs in few sandbox requests; one JobResult per job, in order."""
    packs = _pack(jobs, pack_calls)
    requests = [_request(jobs[i:j], timeout_s=_pack_timeout(jobs[i:j], call_timeout_s)) for i, j in packs]
    results: list[JobResult | None] = [None] * len(jobs)
    retry: list[int] = []
    for (i, j), call_results in zip(packs, sandbox.run_batch(requests)):
        (call,) = call_results
        if call.status is CallStatus.OK:
            for k, raw in enumerate(call.value):
                results[i + k] = _job_result(raw)
        elif call.status is CallStatus.SANDBOX_ERROR:
            raise SandboxFailure(f"sandbox failed: {call.error_type}: {call.error_message}")
        else:
            retry.extend(range(i, j))
    if retry:
        _run_singly(sandbox, jobs, retry, results, call_timeout_s)
    return results  # type: ignore[return-value]


def _run_singly(sandbox: Sandbox, jobs: Sequence[Job], indices: list[int], results: list[JobResult | None],
                call_timeout_s: float) -> None:
    """Isolate the culprit(s) of a failed pack. A job is only declared timed out after a second, 5x
    longer attempt, so a slow moment of the machine cannot change which problems a seed yields."""
    pending = indices
    for factor in (1.0, 5.0):
        requests = [
            _request([jobs[k]], timeout_s=factor * _pack_timeout([jobs[k]], call_timeout_s)) for k in pending
        ]
        still = []
        for k, call_results in zip(pending, sandbox.run_batch(requests)):
            (call,) = call_results
            if call.status is CallStatus.OK:
                results[k] = _job_result(call.value[0])
            elif call.status is CallStatus.SANDBOX_ERROR:
                raise SandboxFailure(f"sandbox failed: {call.error_type}: {call.error_message}")
            else:
                results[k] = JobResult("timeout", detail=call.status.value)
                still.append(k)
        pending = still
        if not pending:
            return
    if len(pending) >= 8 and len(pending) == len(indices):
        raise SandboxFailure(
            f"all {len(pending)} jobs of a failed pack timed out one by one: the sandbox "
            "looks unhealthy (no generated program should behave like that)"
        )
    return results  # type: ignore[return-value]


def _pack(jobs: Sequence[Job], pack_calls: int) -> list[tuple[int, int]]:
    packs, start, calls = [], 0, 0
    for k, job in enumerate(jobs):
        if k > start and calls + len(job.arg_lists) > pack_calls:
            packs.append((start, k))
            start, calls = k, 0
        calls += len(job.arg_lists)
    if start < len(jobs):
        packs.append((start, len(jobs)))
    return packs


def _pack_timeout(jobs: Sequence[Job], call_timeout_s: float) -> float:
    """Generous for a healthy pack (calls take microseconds), bounded so a looping program is found fast."""
    calls = sum(len(j.arg_lists) for j in jobs)
    return (
        min(30.0, call_timeout_s + 0.002 * calls)
        if len(jobs) > 1
        else min(30.0, call_timeout_s * max(1, calls) ** 0.5)
    )


def _request(jobs: Sequence[Job], timeout_s: float) -> ExecRequest:
    payload = [[job.source, job.entry, [list(a) for a in job.arg_lists]] for job in jobs]
    return ExecRequest(source=_RUNNER, entry=RUNNER_ENTRY, args=[(payload,)], timeout_s=timeout_s)


def _job_result(raw: list[Any]) -> JobResult:
    status, payload = raw
    if status == "ok":
        return JobResult("ok", values=payload)
    return JobResult(status, detail=str(payload))
