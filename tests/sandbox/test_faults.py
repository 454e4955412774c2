"""Infrastructure faults: a worker or container killed or frozen mid-batch loses and duplicates nothing;
when no worker can be started at all, calls report SANDBOX_ERROR instead of a program failure."""
from __future__ import annotations

import threading
import time

from sandbox import CallStatus, ExecRequest, make_sandbox

SLOW = "import time\ndef f(x, k):\n    time.sleep(0.02)\n    return x * x + k\n"


def slow_jobs(count: int, calls: int, timeout_s: float = 5.0) -> list[ExecRequest]:
    return [ExecRequest(SLOW, "f", [(i, k) for i in range(calls)], timeout_s=timeout_s) for k in range(count)]


def assert_exactly_one_correct_result_per_call(reqs, out) -> None:
    assert len(out) == len(reqs)
    for req, job in zip(reqs, out):
        assert len(job) == len(req.args)
        assert [r.status for r in job] == [CallStatus.OK] * len(job), [r for r in job if not r.ok][:3]
        assert [r.value for r in job] == [x * x + k for x, k in req.args]


def fault_after(delay_s: float, action) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        action()

    t = threading.Thread(target=run)
    t.start()
    return t


def test_killing_a_worker_mid_batch_loses_nothing(backend):
    with make_sandbox(backend, size=2) as sb:
        reqs = slow_jobs(30, 10)
        killer = fault_after(1.0, lambda: sb.kill_worker(0))
        out = sb.run_batch(reqs)
        killer.join()
        assert_exactly_one_correct_result_per_call(reqs, out)
        assert sb.stats.containers_replaced >= 1
        assert sb.run(ExecRequest(SLOW, "f", [(3, 1)]))[0].value == 10  # still serving


def test_a_hung_worker_is_replaced(backend):
    with make_sandbox(backend, size=2, hang_grace_s=2.0) as sb:
        reqs = slow_jobs(12, 10, timeout_s=0.5)
        freezer = fault_after(0.5, lambda: sb.freeze_worker(0))
        t0 = time.monotonic()
        out = sb.run_batch(reqs)
        freezer.join()
        assert_exactly_one_correct_result_per_call(reqs, out)
        assert sb.stats.containers_replaced >= 1
        assert time.monotonic() - t0 < 60


def test_no_worker_can_start_gives_sandbox_error(backend):
    with make_sandbox(backend, size=1, max_retries=1) as sb:
        assert sb.run(ExecRequest(SLOW, "f", [(1, 1)]))[0].ok
        sb.kill_worker(0)
        if backend == "docker":  # the engine "goes away": every later engine call fails for real
            import docker

            real = sb.client
            sb.client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
        else:  # the interpreter "goes away"
            real, sb.python = sb.python, "/nonexistent/python3"
        try:
            [results] = sb.run_batch(slow_jobs(1, 3))
            assert {r.status for r in results} == {CallStatus.SANDBOX_ERROR}, results
            assert not any(r.status.is_program_failure for r in results)
        finally:
            if backend == "docker":
                sb.client = real
            else:
                sb.python = real
