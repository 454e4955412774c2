"""Hostile programs: each gets the right status, neighbours are unaffected, nothing escapes.

All cases run in one batch per backend, interleaved with ordinary jobs, exactly as a rollout batch
would mix a malicious completion with honest ones. The host holds a canary file (outside /tmp), a
canary TCP port on 127.0.0.1 and a secret in its environment; none may be reached.
Network checks only ever target the loopback canary; "outside" is probed with a UDP connect() to a
TEST-NET address (RFC 5737), which only asks the kernel for a route and sends no packet.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from sandbox import CallStatus, ExecRequest

S = CallStatus
ORDINARY = "def f(x):\n    return x * x + 1\n"


@dataclass(frozen=True)
class Case:
    name: str
    body: str  # body of f(x); may use the names CANARY_FILE, CANARY_DIR, CANARY_PORT
    allowed: tuple[CallStatus, ...]
    value: object = "any"  # required value when the status is OK
    error_types: tuple[str, ...] = ()  # required error_type when the status is ERROR
    timeout_s: float = 10.0  # generous: the machine may be busy; cases meant to hang use 1 s

    def __post_init__(self) -> None:
        if CallStatus.TIMEOUT in self.allowed:
            object.__setattr__(self, "timeout_s", 1.0)


CASES = [
    Case("infinite_loop", "while True:\n    pass", (S.TIMEOUT,)),
    Case("sleep_forever", "import time\ntime.sleep(10**6)", (S.TIMEOUT,)),
    Case("fork_bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
         (S.TIMEOUT, S.CRASHED)),
    Case("memory_bomb", "x = bytearray(10**10)\nreturn len(x)", (S.MEMORY,)),
    Case("memory_creep", "l = []\nwhile True:\n    l.append(bytes(50 << 20))", (S.MEMORY,)),
    Case("deep_recursion", "def g(n):\n    return g(n + 1)\nreturn g(0)", (S.ERROR,), error_types=("RecursionError",)),
    Case("c_stack_overflow", "import sys\nsys.setrecursionlimit(10**8)\ndef g(n):\n    return g(n + 1)\nreturn g(0)",
         (S.CRASHED, S.MEMORY, S.ERROR, S.TIMEOUT)),
    Case("huge_return", "return 'x' * (50 << 20)", (S.OUTPUT_TOO_LARGE,)),
    Case("huge_print", "print('x' * (50 << 20))\nreturn 1", (S.OUTPUT_TOO_LARGE,)),
    Case("print_flood", "while True:\n    print('y' * 1000)", (S.OUTPUT_TOO_LARGE,)),
    Case("write_etc", "open('/etc/cfcode-pwned', 'w').write('x')", (S.ERROR,),
         error_types=("PermissionError", "OSError")),
    Case("write_canary", "open(CANARY_FILE, 'w').write('pwned')", (S.ERROR,),
         error_types=("PermissionError", "FileNotFoundError", "OSError")),
    Case("create_next_to_canary", "open(CANARY_DIR + '/new.txt', 'w').write('x')", (S.ERROR,),
         error_types=("PermissionError", "FileNotFoundError", "OSError")),
    Case("read_canary", "return open(CANARY_FILE).read()", (S.ERROR,),
         error_types=("PermissionError", "FileNotFoundError")),
    Case("read_shadow", "return open('/etc/shadow').read()", (S.ERROR,),
         error_types=("PermissionError", "FileNotFoundError")),
    Case("env_secret", "import os\nreturn dict(os.environ)", (S.OK,)),
    Case("parent_environ", "import os\nreturn open('/proc/%d/environ' % os.getppid(), 'rb').read().decode('latin1')",
         (S.ERROR, S.OK)),
    Case("dns", "import socket\nreturn socket.getaddrinfo('example.com', 80)", (S.ERROR,),
         error_types=("gaierror",)),
    Case("tcp_loopback_canary",
         "import socket\ns = socket.create_connection(('127.0.0.1', CANARY_PORT), timeout=0.5)\nreturn 'connected'",
         (S.ERROR,), error_types=("ConnectionRefusedError", "OSError", "TimeoutError")),
    Case("route_outside",
         "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.connect(('192.0.2.1', 9))\nreturn 'routed'",
         (S.ERROR,), error_types=("OSError",)),
    Case("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn 'alive'", (S.OK, S.ERROR)),
    # Linux never signals the caller with kill(-1); the worker is out of reach (PID 1 / other uid)
    Case("kill_everything", "import os, signal\nos.kill(-1, signal.SIGKILL)\nreturn 'alive'", (S.OK, S.ERROR),
         value="alive", error_types=("ProcessLookupError",)),
    Case("os_exit", "import os\nos._exit(0)", (S.CRASHED,)),
    Case("sys_exit", "import sys\nsys.exit(3)", (S.ERROR,), error_types=("SystemExit",)),
    Case("segv_signal", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", (S.CRASHED,)),
    Case("sigstop_self", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\nreturn 1", (S.TIMEOUT,)),
    Case("ignore_signals_and_spin",
         "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):\n    signal.signal(s, signal.SIG_IGN)\n"
         "while True:\n    pass", (S.TIMEOUT,)),
    Case("close_stdio", "import os, sys\nsys.stdout.close()\nos.close(1)\nos.close(2)\nreturn 7", (S.OK,), value=7),
    Case("close_all_fds", "import os\nos.closerange(0, 4096)\nreturn 8", (S.OK,), value=8),
    Case("thread_outlives_call",
         "import threading\ndef spin():\n    while True:\n        print('t')\n"
         "threading.Thread(target=spin, daemon=True).start()\nreturn 9", (S.OK, S.OUTPUT_TOO_LARGE)),
    Case("daemon_grandchild",
         "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    time.sleep(10**6)\nreturn pid",
         (S.OK,)),
    Case("ctypes_segfault", "import ctypes\nreturn ctypes.string_at(0)", (S.CRASHED,)),
    Case("setuid_root", "import os\nos.setuid(0)\nreturn 'root'", (S.ERROR,), error_types=("PermissionError",)),
    Case("fill_tmp", "f = open('/tmp/fill', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20))", (S.ERROR,),
         error_types=("OSError",)),
    Case("hostile_repr", "class A:\n    def __repr__(self):\n        while True:\n            pass\nreturn A()",
         (S.TIMEOUT,)),
    Case("huge_exception_message", "raise ValueError('m' * (10 << 20))", (S.ERROR,), error_types=("ValueError",)),
    Case("forge_results", "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'[\"R\",0,\"ok\",1]\\n')\n"
         "    except OSError:\n        pass\nreturn 10", (S.OK, S.CRASHED)),
]
assert len(CASES) >= 25


def program(case: Case, canary) -> str:
    body = "\n".join("    " + line for line in case.body.splitlines())
    return (f"CANARY_FILE = {str(canary.file)!r}\nCANARY_DIR = {str(canary.directory)!r}\n"
            f"CANARY_PORT = {canary.port}\n\ndef f(x):\n{body}\n")


_batches: dict[int, dict] = {}


@pytest.fixture
def hostile_batch(sandbox, canary):
    """Run every case once per sandbox (cached): [ordinary, case, ordinary, case, ...]."""
    key = id(sandbox)
    if key not in _batches:
        reqs = []
        for case in CASES:
            reqs.append(ExecRequest(ORDINARY, "f", [(i,) for i in range(5)], timeout_s=10.0))
            reqs.append(ExecRequest(program(case, canary), "f", [(0,)], timeout_s=case.timeout_s))
        out = sandbox.run_batch(reqs)
        _batches[key] = {
            "ordinary": out[0::2],
            "cases": dict(zip((c.name for c in CASES), out[1::2])),
            "after": sandbox.run_batch([ExecRequest(ORDINARY, "f", [(i,) for i in range(5)])] * 8),
        }
    return _batches[key]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_case_gets_the_right_status(hostile_batch, case, canary):
    [result] = hostile_batch["cases"][case.name]
    assert result.status in case.allowed, (case.name, result)
    if result.status is CallStatus.OK and case.value != "any":
        assert result.value == case.value
    if result.status is CallStatus.ERROR and case.error_types:
        assert result.error_type in case.error_types, result
    leaked = canary.secret in repr(result)
    assert not leaked, f"{case.name} leaked the canary secret"


def test_neighbours_unaffected_and_pool_keeps_serving(hostile_batch):
    expected = [i * i + 1 for i in range(5)]
    for job in hostile_batch["ordinary"] + hostile_batch["after"]:
        assert [r.value for r in job] == expected, job


def test_nothing_escaped(hostile_batch, canary):
    assert canary.untouched() == []


def test_strays_are_gone(hostile_batch, sandbox):
    """Whatever a job leaves behind (daemonised grandchildren, fork-bomb copies) is killed after it."""
    [daemon] = hostile_batch["cases"]["daemon_grandchild"]
    assert daemon.ok and isinstance(daemon.value, int)
    census = "import os\ndef f(x):\n    return sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
    probe = "import os\ndef f(pid):\n    try:\n        os.kill(pid, 0)\n    except ProcessLookupError:\n        return 'gone'\n" \
            "    except PermissionError:\n        return 'exists'\n    return 'exists'\n"
    out = sandbox.run_batch([ExecRequest(probe, "f", [(daemon.value,)])] * 6)
    assert {job[0].value for job in out} == {"gone"}
    if sandbox.backend == "docker":  # own pid namespace: only the worker and the census child exist
        counts = {len(job[0].value) for job in sandbox.run_batch([ExecRequest(census, "f", [(0,)])] * 6)}
        assert counts == {2}
