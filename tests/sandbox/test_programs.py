"""Packed execution (`sandbox.run_jobs`): one bad program in a pack is isolated; statuses are exact."""
from __future__ import annotations

from sandbox import UNSUPPORTED, Job, run_jobs

GOOD = "def f(x, r):\n    return x * r\n"
LOOP = "def f(x, r):\n    while True:\n        x += 1\n"
RAISE = "def f(x, r):\n    return x // r\n"
TUPLE = "def f(x, r):\n    return (x, r)\n"


def test_pack_isolates_failures(sandbox):
    args = [[2, r] for r in range(4)]
    jobs = [Job(GOOD, "f", args), Job(RAISE, "f", args), Job(TUPLE, "f", args), Job(LOOP, "f", args),
            Job(GOOD, "f", [[3, 5]])]
    results = run_jobs(sandbox, jobs, call_timeout_s=0.2)
    assert [r.status for r in results] == ["ok", "error", "error", "timeout", "ok"]  # CallStatus values
    assert results[2].error_type == UNSUPPORTED and results[1].error_type == "ZeroDivisionError"
    assert results[0].values == [0, 2, 4, 6]
    assert "ZeroDivisionError" in results[1].detail
    assert results[4].values == [15]


def test_many_jobs_few_requests(sandbox):
    jobs = [Job(GOOD, "f", [[x, r] for r in range(10)]) for x in range(500)]
    results = run_jobs(sandbox, jobs, pack_calls=2000)
    assert [r.values for r in results] == [[x * r for r in range(10)] for x in range(500)]
