"""Attacks on packed execution: one hostile program must not change any other record's result.

Each test packs a hostile program between honest ones (one `run_jobs` call, so on the old runner
they shared one interpreter) and checks the honest results equal the results of running them alone.
Both sandbox backends (the `sandbox` fixture of tests/sandbox/conftest.py).
"""
from __future__ import annotations

import pytest

from sandbox import CallStatus, Job, run_jobs
from tests.sandbox.conftest import costly_to_compile

HONEST = "def f(x, r):\n    return abs(x - r) + len([x, r]) + int(str(x * r)) % 7\n"
HONEST_IMPORT = "import colorsys\n\ndef f(x, r):\n    return [round(v, 6) for v in colorsys.rgb_to_hsv(x / 9, r / 9, 0.5)]\n"
ARGS = [[x, r] for x in range(3) for r in range(4)]

HOSTILE = {
    "builtins": (
        "import builtins\n"
        "builtins.abs = lambda v: 1000\n"
        "builtins.len = lambda v: 1000\n"
        "def f(x, r):\n    return 0\n"
    ),
    "json_module": (
        "import json\n"
        "json.dumps = lambda *a, **k: '[1]'\n"
        "json.loads = lambda *a, **k: [1]\n"
        "def f(x, r):\n    return 0\n"
    ),
    "sys_modules": (
        "import sys, types\n"
        "fake = types.ModuleType('colorsys')\n"
        "fake.rgb_to_hsv = lambda *a: (9, 9, 9)\n"
        "sys.modules['colorsys'] = fake\n"
        "def f(x, r):\n    return 0\n"
    ),
    "runner_globals": (
        "import sys\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    for name in list(frame.f_globals):\n"
        "        if name in ('_plain', '_run_one', '_describe'):\n"
        "            frame.f_globals[name] = (lambda *a, **k: ['ok', [42] * 12]) if name == '_run_one' else (lambda *a: False)\n"
        "    frame = frame.f_back\n"
        "def f(x, r):\n    return 0\n"
    ),
    "runner_results": (
        "import sys\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    res = frame.f_locals.get('results')\n"
        "    if isinstance(res, list):\n"
        "        res.append(['ok', [42] * 12])\n"
        "    frame = frame.f_back\n"
        "def f(x, r):\n    return 0\n"
    ),
    "plant_module": (
        "import os, sys\n"
        "for d in [os.getcwd(), '/tmp'] + [p for p in sys.path if p]:\n"
        "    try:\n"
        "        with open(os.path.join(d or '.', 'colorsys.py'), 'w') as fh:\n"
        "            fh.write('def rgb_to_hsv(*a):\\n    return (9, 9, 9)\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "sys.path_importer_cache.clear()\n"
        "def f(x, r):\n    return 0\n"
    ),
}


def _alone(sandbox, source):
    return run_jobs(sandbox, [Job(source, "f", ARGS)])[0]


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_program_cannot_change_other_records(attack, sandbox):
    expected = [_alone(sandbox, HONEST).values, _alone(sandbox, HONEST_IMPORT).values]
    assert None not in expected
    jobs = [Job(HONEST, "f", ARGS), Job(HOSTILE[attack], "f", ARGS)]
    jobs += [Job(src, "f", ARGS) for _ in range(3) for src in (HONEST, HONEST_IMPORT)]
    results = run_jobs(sandbox, jobs)
    honest = [results[0]] + results[2:]
    assert [r.status for r in honest] == ["ok"] * 7, [(r.status, r.detail) for r in honest]
    assert [r.values for r in honest] == [expected[0]] + expected * 3


@pytest.mark.parametrize("source", [
    "def f(x, r):\n    raise SystemExit(3)\n",
    "def f(x, r):\n    raise KeyboardInterrupt\n",
    "class Boom(BaseException):\n    pass\n\ndef f(x, r):\n    raise Boom('no')\n",
    "def f(x, r):\n    print('x' * 50_000_000)\n    return 1\n",
])
def test_base_exceptions_and_floods_are_the_programs_own_error(source, sandbox):
    """The culprit gets its own `error` at once; nothing is re-run, nobody else is touched."""
    jobs = [Job(HONEST, "f", ARGS), Job(source, "f", ARGS), Job(HONEST, "f", ARGS)]
    results = run_jobs(sandbox, jobs)
    assert [r.status for r in results] == ["ok", "error", "ok"], [(r.status, r.detail) for r in results]
    assert results[0].values == results[2].values == _alone(sandbox, HONEST).values


@pytest.mark.parametrize("source", [
    "import os, signal\ndef f(x, r):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    "import os, signal\ndef f(x, r):\n    os.kill(0, signal.SIGKILL)\n",
    "import os\ndef f(x, r):\n    os.close(3)\n    os._exit(0)\n",
])
def test_killing_the_runner_only_costs_the_culprit(source, sandbox):
    """Kill the runner, the whole process group, or leave without a result: the pack is re-run one
    record per request, the honest records keep their results and the culprit gets `crashed`."""
    jobs = [Job(HONEST, "f", ARGS), Job(source, "f", [[0, 0]]), Job(HONEST, "f", ARGS)]
    results = run_jobs(sandbox, jobs, call_timeout_s=0.3)
    assert [r.status for r in results] == ["ok", "crashed", "ok"], [(r.status, r.detail) for r in results]
    assert results[0].values == results[2].values == _alone(sandbox, HONEST).values


def test_program_cannot_reach_the_result_channel(sandbox):
    """No shared memory (the sandbox's result channel) and no descriptor but its own are inherited."""
    probe = ("import os\n"
             "def f(x, r):\n"
             "    shared = [l.split()[0] for l in open('/proc/self/maps') if l.split()[1][3:4] == 's']\n"
             "    fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"
             "    return [shared, fds]\n")
    (result,) = run_jobs(sandbox, [Job(probe, "f", [[0, 0]])])
    shared, fds = result.values[0]
    assert shared == [] and fds[:4] == [0, 1, 2, 3] and len(fds) <= 5, (shared, fds)  # 4: listdir's own


def test_left_behind_process_cannot_touch_the_next_record(sandbox):
    """A program leaves a process that tries to kill its successors; it is gone before they start.

    A guard for the fork-per-record runner (the old runner ran every program in one process, which
    had no successors to attack, so this passes there too)."""
    daemon = (
        "import os, signal, time\n"
        "def f(x, r):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        me = os.getpid()\n"
        "        end = time.time() + 3\n"
        "        while time.time() < end:\n"
        "            for pid in os.listdir('/proc'):\n"
        "                if pid.isdigit() and int(pid) not in (me, 1):\n"
        "                    try:\n"
        "                        os.kill(int(pid), signal.SIGKILL)\n"
        "                    except OSError:\n"
        "                        pass\n"
        "        os._exit(0)\n"
        "    return 0\n"
    )
    jobs = [Job(daemon, "f", [[0, 0]])] + [Job(HONEST, "f", ARGS) for _ in range(20)]
    results = run_jobs(sandbox, jobs)  # one pack: 21 jobs, 241 calls
    expected = _alone(sandbox, HONEST).values
    assert [r.status for r in results[1:]] == ["ok"] * 20, [(r.status, r.detail) for r in results[1:]]
    assert all(r.values == expected for r in results[1:])


def test_jobs_of_one_group_share_a_child_and_no_other(sandbox):
    """`group` is how a caller says "these jobs are one record": state is shared inside it only."""
    counter = ("import builtins\n"
               "def f(x, r):\n"
               "    builtins.__cf_n = getattr(builtins, '__cf_n', 0) + 1\n"
               "    return builtins.__cf_n\n")
    jobs = [Job(counter, "f", [[0, 0]], group="a"), Job(counter, "f", [[0, 0]], group="a"),
            Job(counter, "f", [[0, 0]], group="b"), Job(counter, "f", [[0, 0]])]
    assert [r.values for r in run_jobs(sandbox, jobs)] == [[1], [2], [1], [1]]


def test_a_wide_int_of_one_record_is_its_value_not_a_runner_failure(sandbox):
    """An int too wide for the worker's JSON (the pack then travels as a repr) is read back exactly;
    it made run_jobs raise SandboxFailure ("program runner failed") for every record of the run."""
    wide = "def f(x, r):\n    return 7 ** 5000 + x\n"
    results = run_jobs(sandbox, [Job(HONEST, "f", ARGS), Job(wide, "f", ARGS[:2]), Job(HONEST, "f", ARGS)])
    assert results[1].status is CallStatus.OK and results[1].values == [7 ** 5000, 7 ** 5000], results[1]
    assert results[0] == results[2] == _alone(sandbox, HONEST)


def test_records_that_all_time_out_do_not_fail_the_others(sandbox):
    """Packs made only of looping programs time out one by one: run_jobs took that for a sick sandbox
    and raised SandboxFailure for the whole call, so every other record lost its result. The sandbox
    is asked directly now (a trivial job) before it is blamed."""
    loop = "def f(x, r):\n    while True:\n        pass\n"
    jobs = [Job(HONEST, "f", ARGS)] * 4 + [Job(loop, "f", [[1, 2]])] * 8
    results = run_jobs(sandbox, jobs, pack_groups=4, call_timeout_s=0.2)
    assert results[:4] == [_alone(sandbox, HONEST)] * 4
    assert [r.status for r in results[4:]] == [CallStatus.TIMEOUT] * 8, results[4:]


@pytest.mark.parametrize("target", ["os.getppid()", "0"])
def test_interrupting_the_runner_is_the_culprits_error_only(target, sandbox):
    """SIGINT to the runner (or the whole job) raised KeyboardInterrupt in the runner itself: run_jobs
    took that for a broken runner and raised SandboxFailure, so every record of the call lost its result."""
    source = ("import os, signal, time\n"
              f"def f(x, r):\n    os.kill({target}, signal.SIGINT)\n    time.sleep(0.2)\n    return 1\n")
    jobs = [Job(HONEST, "f", ARGS), Job(source, "f", [[0, 0]]), Job(HONEST, "f", ARGS)]
    results = run_jobs(sandbox, jobs, call_timeout_s=0.5)
    assert results[0] == results[2] == _alone(sandbox, HONEST)
    assert results[1].status in (CallStatus.OK, CallStatus.ERROR), results[1]


def test_a_program_costly_to_compile_leaves_the_next_record_its_memory(sandbox):
    """The runner compiled every source itself: the memory a compile bomb took there stayed taken, and
    the next record, which needs 420 MB of the job's 512 MB, failed with MemoryError (alone: ok)."""
    big = "def f(x, r):\n    return len(bytearray(x << 20))\n"
    results = run_jobs(sandbox, [Job(costly_to_compile(17, "x, r"), "f", [[1, 1]]), Job(big, "f", [[420, 0]])])
    assert results[1] == _alone_with(sandbox, big, [[420, 0]]), results
    assert results[0].status in (CallStatus.ERROR, CallStatus.OK), results[0]


def _alone_with(sandbox, source, arg_lists):
    return run_jobs(sandbox, [Job(source, "f", arg_lists)])[0]


CHEAP_HUGE = ("def f(x, r):\n"
              "    if x == 'rows':  # 8 MB in memory, a billion elements encoded\n"
              "        row = [1] * 1000\n"
              "        return [row] * 1000000\n"
              "    s = 'x' * 10000  # 8 MB in memory, 2 GB encoded\n"
              "    return [s] * 200000\n")


@pytest.mark.parametrize("kind", ["rows", "strings"])
def test_a_value_small_in_memory_but_huge_encoded_is_that_records_output_too_large(kind, sandbox):
    """Encoding such a value took the record's whole time limit (TIMEOUT) or failed for memory, which
    the runner reported as an unsupported value (ERROR): it is over the result cap."""
    results = run_jobs(sandbox, [Job(HONEST, "f", ARGS), Job(CHEAP_HUGE, "f", [[kind, 0]]), Job(HONEST, "f", ARGS)])
    assert results[1].status is CallStatus.OUTPUT_TOO_LARGE, results[1]
    assert results[0] == results[2] == _alone(sandbox, HONEST)


ENDLESS_MESSAGE = ("import sys\n"
                   "def f(x, r):\n"
                   "    v = [0]\n"
                   "    if x == 'wide':\n"
                   "        for _ in range(60):  # 2**60 leaves: its repr never ends\n"
                   "            v = [v, v]\n"
                   "    else:  # nested past the C stack, with the recursion limit lifted to match\n"
                   "        sys.setrecursionlimit(10 ** 6)\n"
                   "        for _ in range(200000):\n"
                   "            v = [v]\n"
                   "    raise KeyError(v)\n")


@pytest.mark.parametrize("shape", ["wide", "deep"])
def test_an_exception_whose_message_is_endless_is_that_records_error(shape, sandbox):
    """str() of a KeyError holding [v, v] nested 60 deep never ends (the builtin types' own C code):
    the runner's description of the error took the record's whole time limit (TIMEOUT); of one nested
    200,000 deep under a lifted recursion limit it overflowed the C stack (CRASHED)."""
    results = run_jobs(sandbox, [Job(HONEST, "f", ARGS), Job(ENDLESS_MESSAGE, "f", [[shape, 0]]),
                                 Job(HONEST, "f", ARGS)])
    assert (results[1].status, results[1].error_type) == (CallStatus.ERROR, "KeyError"), results[1]
    assert results[0] == results[2] == _alone(sandbox, HONEST)


LEAVE_STATE = ("import ctypes, os\n"
               "def f(x, r):\n"
               "    for d in ('/tmp', '/dev/shm', '/var/tmp', os.getcwd()):\n"
               "        try:\n"
               "            with open(os.path.join(d, 'left-by-a-record'), 'w') as fh:\n"
               "                fh.write('x')\n"
               "        except OSError:\n"
               "            pass\n"
               "    ctypes.CDLL(None).shmget(0x5EC1234, 4096, 0o1600)  # IPC_CREAT | 0600\n"
               "    return 0\n")
FILL_TMP = ("import os\n"
            "def f(x, r):\n"
            "    for k in range(200):\n"
            "        try:\n"
            "            with open('/tmp/fill-%d' % k, 'wb') as fh:\n"
            "                fh.write(b'x' * (1 << 20))\n"
            "        except OSError:\n"
            "            break\n"
            "    return 0\n")
SEE_STATE = ("import ctypes, os\n"
             "def f(x, r):\n"
             "    found = sorted(n for d in {'/tmp', '/dev/shm', '/var/tmp', os.getcwd()} if os.path.isdir(d)\n"
             "                   for n in os.listdir(d))\n"
             "    return [found, ctypes.CDLL(None).shmget(0x5EC1234, 0, 0) >= 0]\n")
USE_TMP = ("import tempfile\n"
           "def f(x, r):\n"
           "    with tempfile.TemporaryFile() as fh:\n"
           "        fh.write(b'y' * (2 << 20))\n"
           "        return fh.tell()\n")


@pytest.mark.parametrize("culprit, victim", [(LEAVE_STATE, SEE_STATE), (FILL_TMP, USE_TMP)], ids=["leave", "fill"])
def test_what_a_record_leaves_in_scratch_places_is_gone_for_the_next(culprit, victim, sandbox):
    """Records of one pack shared /tmp, /dev/shm and the SysV IPC namespace (the sandbox empties them
    only after the whole pack): a record saw the files and shared memory the one before it left, or
    found /tmp full and failed."""
    results = run_jobs(sandbox, [Job(culprit, "f", [[0, 0]]), Job(victim, "f", [[0, 0]])])
    assert results[0].status is CallStatus.OK, results[0]
    assert results[1] == _alone_with(sandbox, victim, [[0, 0]]), results[1]


DEEP_VALUE = ("import sys\n"
              "def f(x, r):\n"
              "    if x > 1000:\n"
              "        sys.setrecursionlimit(10 ** 6)\n"
              "    v = []\n"
              "    for _ in range(x):\n"
              "        v = [v]\n"
              "    return v\n")


@pytest.mark.parametrize("depth", [60, 200000])
def test_a_value_nested_too_deep_to_travel_is_that_records_unsupported_value(depth, sandbox):
    """A list nested 60 deep passed the record's JSON check and was refused by the runner as a
    malformed result (CRASHED); nested 200,000 deep under a lifted recursion limit, json.dumps
    overflowed the C stack (CRASHED). Neither crashed: the value cannot travel."""
    results = run_jobs(sandbox, [Job(HONEST, "f", ARGS), Job(DEEP_VALUE, "f", [[depth, 0]]), Job(HONEST, "f", ARGS)])
    assert (results[1].status, results[1].error_type) == (CallStatus.ERROR, "UnsupportedValue"), results[1]
    assert results[0] == results[2] == _alone(sandbox, HONEST)
