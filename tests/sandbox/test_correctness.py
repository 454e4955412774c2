"""Ordinary programs give the right values, statuses and metadata on both backends."""
from __future__ import annotations

import threading
import time

import pytest

from sandbox import CallStatus, ExecRequest
from sandbox.jobs import BadRequest

GENERATED = """\
def f(x, r):
    if x > r:
        y = x * 3 % 7
    else:
        y = x + r
    return y
"""


def expected_f(x: int, r: int) -> int:
    return x * 3 % 7 if x > r else x + r


def test_generated_program_values(sandbox):
    args = [(x, r) for x in range(-3, 8) for r in range(5)]
    [results] = sandbox.run_batch([ExecRequest(GENERATED, "f", args)])
    assert [r.status for r in results] == [CallStatus.OK] * len(args)
    assert [r.value for r in results] == [expected_f(*a) for a in args]
    assert all(r.python_version == sandbox.python_version for r in results)
    assert all(r.wall_ms >= 0 for r in results)


def test_python_version_is_the_interpreters(sandbox):
    [[r]] = sandbox.run_batch([ExecRequest("import platform\ndef v():\n    return platform.python_version()\n",
                                           "v", [()])])
    assert r.ok and r.value == sandbox.python_version == r.python_version


def test_many_jobs_keep_their_order(sandbox):
    reqs = [ExecRequest(f"def g(x):\n    return x * {k}\n", "g", [(i,) for i in range(k % 7)]) for k in range(60)]
    out = sandbox.run_batch(reqs)
    assert [[r.value for r in job] for job in out] == [[i * k for i in range(k % 7)] for k in range(60)], [r for job in out for r in job if not r.ok][:3]


def test_value_kinds(sandbox):
    src = """\
def f(kind):
    return {
        "str": "héllo\\n", "bool": True, "none": None, "float": 0.1, "list": [1, [2, "x"]],
        "dict": {"a": 1, "b": [None]}, "tuple": (1, (2,)), "set": {"b", "a", "c"},
        "frozenset": frozenset({3, 1}), "nan": float("nan"), "bytes": b"\\x00a", "bigint": 3 ** 200,
        "intkeys": {1: "a"}, "empty_set": set(),
    }[kind]
"""
    kinds = ["str", "bool", "none", "float", "list", "dict", "tuple", "set", "frozenset", "nan", "bytes", "bigint",
             "intkeys", "empty_set"]
    [results] = sandbox.run_batch([ExecRequest(src, "f", [(k,) for k in kinds])])
    got = {k: (r.value, r.value_is_repr) for k, r in zip(kinds, results)}
    assert all(r.ok for r in results), results
    assert got["str"] == ("héllo\n", False)
    assert got["bool"] == (True, False) and got["none"] == (None, False) and got["float"] == (0.1, False)
    assert got["list"] == ([1, [2, "x"]], False)
    assert got["dict"] == ({"a": 1, "b": [None]}, False)
    assert got["tuple"] == ("(1, (2,))", True)
    assert got["set"] == ("{'a', 'b', 'c'}", True)  # canonical: sorted
    assert got["frozenset"] == ("frozenset({1, 3})", True)
    assert got["nan"] == ("float('nan')", True)  # never the string 'nan' (see test_attacks)
    assert got["bytes"] == ("b'\\x00a'", True)
    assert got["bigint"] == (3 ** 200, False)
    assert got["intkeys"] == ("{1: 'a'}", True)
    assert got["empty_set"] == ("set()", True)
    by_kind = dict(zip(kinds, results))
    assert by_kind["tuple"].python_value() == (1, (2,))
    assert by_kind["set"].python_value() == {"a", "b", "c"}


def test_non_json_arguments_arrive_as_passed(sandbox):
    src = "def f(a, b, c):\n    return [type(a).__name__, type(b).__name__, type(c).__name__, sorted(b)]\n"
    [[r]] = sandbox.run_batch([ExecRequest(src, "f", [((1, 2), {3, 1}, b"x")])])
    assert r.ok and r.value == ["tuple", "set", "bytes", [1, 3]]


def test_kwargs(sandbox):
    src = "def f(x, *, scale=1):\n    return x * scale\n"
    [results] = sandbox.run_batch([ExecRequest(src, "f", [(2,), (3,)], kwargs=[{"scale": 10}, {}])])
    assert [r.value for r in results] == [20, 3]


def test_program_errors(sandbox):
    reqs = [
        ExecRequest("def f(x):\n    return 10 // x\n", "f", [(2,), (0,), (5,)]),
        ExecRequest("def f(:\n", "f", [(1,), (2,)]),
        ExecRequest("def g(x):\n    return x\n", "f", [(1,)]),
        ExecRequest("raise RuntimeError('at import')\ndef f(x):\n    return x\n", "f", [(1,), (2,)]),
        ExecRequest("f = 3\n", "f", [(1,)]),
    ]
    div, syntax, missing, import_error, not_callable = sandbox.run_batch(reqs)
    assert [r.status for r in div] == [CallStatus.OK, CallStatus.ERROR, CallStatus.OK]
    assert div[1].error_type == "ZeroDivisionError" and div[2].value == 2
    assert [r.error_type for r in syntax] == ["SyntaxError", "SyntaxError"]
    assert missing[0].status is CallStatus.ERROR and missing[0].error_type == "NameError"
    assert [(r.status, r.error_type) for r in import_error] == [(CallStatus.ERROR, "RuntimeError")] * 2
    assert "at import" in import_error[0].error_message
    assert not_callable[0].status is CallStatus.ERROR and not_callable[0].error_type == "TypeError"


def test_timeout_then_recovery_within_one_job(sandbox):
    src = "def f(x):\n    while x == 1:\n        pass\n    return x\n"
    [results] = sandbox.run_batch([ExecRequest(src, "f", [(0,), (1,), (2,)], timeout_s=0.5)])
    assert [r.status for r in results] == [CallStatus.OK, CallStatus.TIMEOUT, CallStatus.OK]
    assert 400 <= results[1].wall_ms < 5000
    assert results[2].value == 2


def test_job_budget_caps_a_job_of_slow_calls(sandbox):
    src = "import time\ndef f(x):\n    time.sleep(0.2)\n    return x\n"
    [results] = sandbox.run_batch([ExecRequest(src, "f", [(i,) for i in range(30)], timeout_s=1.0, job_timeout_s=1.0)])
    assert results[0].ok
    assert results[-1].status is CallStatus.TIMEOUT and results[-1].error_type == "JobTimeout"
    assert len(results) == 30


def test_empty_job_and_empty_batch(sandbox):
    assert sandbox.run_batch([]) == []
    assert sandbox.run_batch([ExecRequest(GENERATED, "f", [])]) == [[]]


def test_each_job_starts_from_a_clean_process(sandbox):
    mutate = "import builtins\nSTATE = []\ndef f(x):\n    builtins.len = lambda _: -1\n    STATE.append(x)\n    return len(STATE)\n"
    check = "def f(x):\n    return len([1, 2, 3])\n"
    out = sandbox.run_batch([ExecRequest(mutate, "f", [(1,), (2,)])] + [ExecRequest(check, "f", [(0,)])] * 4)
    assert [r.value for r in out[0]] == [-1, -1]
    assert all(job[0].value == 3 for job in out[1:])


def test_deterministic_hashing(sandbox):
    src = "def f(x):\n    return [hash('abc'), list({'x', 'y', 'z', 'w'})]\n"
    out = sandbox.run_batch([ExecRequest(src, "f", [(0,)])] * 6)
    assert len({repr(job[0].value) for job in out}) == 1


def test_concurrent_callers_share_one_sandbox(sandbox):
    results: dict[int, list] = {}

    def caller(k: int) -> None:
        req = ExecRequest(f"def f(x):\n    return x + {k}\n", "f", [(i,) for i in range(20)])
        results[k] = sandbox.run_batch([req, req])

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        assert [[r.value for r in job] for job in results[k]] == [[i + k for i in range(20)]] * 2


@pytest.mark.parametrize("bad, message", [
    (ExecRequest(123, "f", [(1,)]), "source must be str"),
    (ExecRequest("x", "not a name", [(1,)]), "entry must be a function name"),
    (ExecRequest("x", "f", [1, 2]), "must be a tuple of arguments"),
    (ExecRequest("x", "f", "abc"), "args must be a list"),
    (ExecRequest("x", "f", [(1,)], timeout_s=0), "timeout_s must be a positive"),
    (ExecRequest("x", "f", [(1,)], kwargs=[{}, {}]), "kwargs has 2 entries"),
    (ExecRequest("x", "f", [(object(),)]), "cannot be sent to the sandbox"),
])
def test_bad_requests_raise_before_running_anything(sandbox, bad, message):
    good = ExecRequest(GENERATED, "f", [(1, 2)])
    with pytest.raises(BadRequest, match=message):
        sandbox.run_batch([good, bad])
    assert sandbox.run_batch([good])[0][0].value == 3  # nothing lost, still serving


def test_a_forked_copy_does_not_close_the_parents_workers(sandbox):
    import os

    sandbox.run(ExecRequest(GENERATED, "f", [(5, 1)]))
    before = sandbox.worker_ids
    pid = os.fork()
    if pid == 0:  # the child's copy is collected/closed: it must leave the parent's workers alone
        try:
            sandbox.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.5)  # had the child killed them, the reader threads would have noticed by now
    assert sandbox.run_batch([ExecRequest(GENERATED, "f", [(5, 1)])] * 4)[0][0].value == 1
    assert sandbox.worker_ids == before
