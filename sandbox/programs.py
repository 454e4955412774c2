"""Run many programs over many argument lists in few sandbox requests, each record in a process of its own.

Why here: generators (ground truth), envs (execution-verified rewards) and rl (baselines) all need
"run these programs, one result per program"; it is a sandbox service, and speaks the sandbox's one
status vocabulary (`CallStatus`).

Why packing: one sandbox request per program costs a round trip each; instead many programs travel
in one request to a small runner (`sandbox/program_runner.py`, executed *inside* the sandbox).
Why a fork per group inside it: programs of different records must never share an interpreter (one
hostile program could otherwise change every result packed after it), and a fork inside the sandbox
job costs a fraction of a sandbox round trip. Jobs share a child only when the caller gives them the
same `group` (the jobs of one record). If a packed request as a whole times out or dies (e.g. one
program loops), its jobs are re-run one per request so that only the culprit is rejected. Nothing
here executes a program in this process.
"""
from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.api import CallResult, CallStatus, ExecRequest, Sandbox

RUNNER_ENTRY = "__cfcode_run_jobs__"
UNSUPPORTED = "UnsupportedValue"  # JobResult.error_type: the program returned a value JSON cannot carry
# The runner's row statuses (its own words, inside the sandbox) -> the one vocabulary.
_STATUSES = {"ok": CallStatus.OK, "error": CallStatus.ERROR, "unsupported": CallStatus.ERROR,
             "crashed": CallStatus.CRASHED, "output_too_large": CallStatus.OUTPUT_TOO_LARGE}


@functools.cache
def _runner() -> str:
    """Executed inside the sandbox: one fresh forked child per group of jobs (see the module's docstring)."""
    return Path(__file__).with_name("program_runner.py").read_text(encoding="utf-8")


class SandboxFailure(RuntimeError):
    """The sandbox itself failed (not the program): callers stop (generation: silently dropped
    problems would break determinism) or report a verifier error, never a wrong answer."""


@dataclass(frozen=True)
class Job:
    """Call `entry(*args)` for every argument tuple of `arg_lists` in a fresh namespace.

    `group`: adjacent jobs with the same non-None group run in one child process (use it for the
    jobs of one record only); every other job gets a child of its own.
    """

    source: str
    entry: str
    arg_lists: list[list[Any]]
    group: Hashable | None = None


@dataclass(frozen=True)
class JobResult:
    """One job's outcome. `status` is a CallStatus: OK (with `values`, one per argument list), ERROR
    (the program raised, `error_type` its exception; or `error_type == UNSUPPORTED`: it returned a
    value JSON cannot carry), TIMEOUT / MEMORY / CRASHED / OUTPUT_TOO_LARGE (the program's doing,
    confirmed by a run of its own), or SANDBOX_ERROR (set by callers that turn SandboxFailure into
    a result). `detail` says more, for people."""

    status: CallStatus
    values: list[Any] | None = None
    detail: str = ""
    error_type: str | None = None


def run_jobs(sandbox: Sandbox, jobs: Sequence[Job], *, pack_calls: int = 4000, pack_groups: int = 32,
             call_timeout_s: float = 0.5) -> list[JobResult]:
    """Execute jobs in few sandbox requests; one JobResult per job, in order.

    A pack holds at most `pack_calls` calls and `pack_groups` child processes (forks are the cost of
    a pack now: smaller packs spread over the pool's workers)."""
    packs = _pack(jobs, pack_calls, pack_groups)
    requests = [_request(jobs[i:j], timeout_s=_pack_timeout(jobs[i:j], call_timeout_s)) for i, j in packs]
    results: list[JobResult | None] = [None] * len(jobs)
    retry: list[int] = []
    for (i, j), call_results in zip(packs, sandbox.run_batch(requests)):
        (call,) = call_results
        rows = _rows(call, j - i)
        if rows is not None:
            for k, raw in enumerate(rows):
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
            rows = _rows(call, 1)
            if rows is not None:
                results[k] = _job_result(rows[0])
            elif call.status is CallStatus.SANDBOX_ERROR:
                raise SandboxFailure(f"sandbox failed: {call.error_type}: {call.error_message}")
            elif call.status in (CallStatus.ERROR, CallStatus.OK):  # the runner itself failed, no program
                raise SandboxFailure(f"program runner failed: {call.error_type}: {call.error_message}"[:500])
            else:
                results[k] = JobResult(call.status, detail=f"{call.error_type}: {call.error_message}"[:500])
                still.append(k)
        pending = still
        if not pending:
            return
    if len(pending) >= 8 and len(pending) == len(indices) and not _answers(sandbox, call_timeout_s):
        raise SandboxFailure(
            f"all {len(pending)} jobs of a failed pack timed out one by one and a trivial job failed too: "
            "the sandbox looks unhealthy"
        )
    return results  # type: ignore[return-value]


_CANARY = Job("def f():\n    return 1\n", "f", [[]])


def _answers(sandbox: Sandbox, call_timeout_s: float) -> bool:
    """Does a trivial job still run? Many programs that all loop are those programs' doing (their
    timeouts stand); only a sandbox that cannot run this either is blamed for them (and every other
    record of the call), so looping programs cannot take the results of the others down."""
    (call,) = sandbox.run(_request([_CANARY], timeout_s=5.0 * _pack_timeout([_CANARY], call_timeout_s)))
    return _rows(call, 1) == [["ok", [1]]]


def _pack(jobs: Sequence[Job], pack_calls: int, pack_groups: int) -> list[tuple[int, int]]:
    """Consecutive slices of at most `pack_calls` calls and `pack_groups` child processes; a group
    is never split (its jobs must share one child)."""
    packs, start, calls, groups = [], 0, 0, 0
    for k, job in enumerate(jobs):
        new_group = k == 0 or job.group is None or job.group != jobs[k - 1].group
        if k > start and new_group and (calls + len(job.arg_lists) > pack_calls or groups >= pack_groups):
            packs.append((start, k))
            start, calls, groups = k, 0, 0
        calls += len(job.arg_lists)
        groups += new_group or k == start
    if start < len(jobs):
        packs.append((start, len(jobs)))
    return packs


def _pack_timeout(jobs: Sequence[Job], call_timeout_s: float) -> float:
    """Generous for a healthy pack (calls take microseconds), bounded so a looping program is found fast."""
    calls = sum(len(j.arg_lists) for j in jobs)
    return (
        min(30.0, call_timeout_s + 0.002 * calls + 0.05 * len(jobs))  # + a fork per job (~1 ms; 50 under load)
        if len(jobs) > 1
        else min(30.0, call_timeout_s * max(1, calls) ** 0.5)
    )


def _request(jobs: Sequence[Job], timeout_s: float) -> ExecRequest:
    groups: list[list[list[Any]]] = []
    for k, job in enumerate(jobs):
        row = [job.source, job.entry, [list(a) for a in job.arg_lists]]
        if k and job.group is not None and job.group == jobs[k - 1].group:
            groups[-1].append(row)
        else:
            groups.append([row])
    return ExecRequest(source=_runner(), entry=RUNNER_ENTRY, args=[(groups,)], timeout_s=timeout_s)


def _rows(call: CallResult, n: int) -> list[list[Any]] | None:
    """The runner's per-job rows if the call succeeded and they have the expected shape, else None.

    Rows travel as a canonical repr when a value in them is no JSON the worker passes through as it
    is (an int of more than 2,000 bits): read back exactly, not taken for the runner's failure."""
    if call.status is not CallStatus.OK:
        return None
    rows = call.python_value()
    if not isinstance(rows, list) or len(rows) != n:
        return None
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and row[0] in _STATUSES
                and isinstance(row[1], list if row[0] == "ok" else str)):
            return None
    return rows


def _job_result(raw: list[Any]) -> JobResult:
    status, payload = raw
    if status == "ok":
        return JobResult(CallStatus.OK, values=payload)
    if status == "unsupported":
        return JobResult(CallStatus.ERROR, detail=str(payload), error_type=UNSUPPORTED)
    if status == "error":
        return JobResult(CallStatus.ERROR, detail=str(payload), error_type=str(payload).partition(":")[0])
    return JobResult(_STATUSES[status], detail=str(payload))
