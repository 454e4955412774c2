"""Attacks on the sandbox's promises, each tried on both backends (issue 8, classes 1, 3 and 4).

1. Jobs are independent: nothing a job leaves in its working directory, /tmp, /dev/shm, /var/tmp,
   SysV IPC or a keyring reaches the next job on the same worker (or the host); no job can plant a
   module for the next one to import, fill a filesystem for it, or wedge its worker.
3. Statuses name the cause: the program's doing gives a program status on that call alone, a limit
   gives its own status, the infrastructure's doing gives sandbox_error; values round-trip exactly.
4. Requests: malformed ones are refused up front with a BadRequest naming the request and field, or
   (on_bad_request="result") get their own error results while the rest of the batch runs.

Every job of the class-1 tests runs on a one-worker sandbox, so "the next job" is on the same worker.
"""
from __future__ import annotations

import math
import platform
import secrets
import shutil
import threading
import time
from pathlib import Path

import pytest

from sandbox import BadRequest, CallStatus, ExecRequest, SandboxLimits, make_sandbox
from sandbox.api import Unrepresentable
from tests.sandbox.conftest import costly_to_compile

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]  # as in conftest.py

S = CallStatus
HONEST = "def f(x):\n    return x * x + 1\n"


@pytest.fixture(scope="module", params=BACKENDS)
def solo(request, canary):
    """One worker only: every job lands on the worker the previous job used."""
    sb = make_sandbox(request.param, size=1)
    yield sb
    sb.close()


def run1(sb, src: str, args=((),), **kw):
    kw.setdefault("timeout_s", 10.0)  # generous: the machine may be busy
    return sb.run(ExecRequest(src, "f", [tuple(a) for a in args], **kw))


def assert_serving(sb, jobs: int = 4) -> None:
    out = sb.run_batch([ExecRequest(HONEST, "f", [(i,) for i in range(5)], timeout_s=10.0)] * jobs)
    for job in out:
        assert [(r.status, r.value) for r in job] == [(S.OK, i * i + 1) for i in range(5)], job


# ---------------------------------------------------------------- 1. independence

PLACES = '["/tmp", "/dev/shm", "/var/tmp", "/run/lock", "/dev/mqueue", os.getcwd(), os.path.expanduser("~")]'

LEAVE_FILES = f"""
import os
def f(tag):
    wrote = []
    for d in {PLACES}:
        try:
            with open(os.path.join(d, "cfcode-leak-" + tag), "w") as fh:
                fh.write("secret")
            wrote.append(d)
        except OSError:
            pass
    return wrote
"""

FIND_FILES = f"""
import os
def f(tag):
    found = []
    for d in {PLACES}:
        try:
            found += [os.path.join(d, n) for n in os.listdir(d) if os.path.join(d, n) != os.getcwd()]
        except OSError:
            pass
    return sorted(set(found))
"""


def test_files_a_job_leaves_are_gone_for_the_next_job_and_never_reach_the_host(solo):
    tag = secrets.token_hex(6)
    [wrote] = run1(solo, LEAVE_FILES, [(tag,)])
    try:
        assert wrote.ok and "/tmp" in wrote.value, wrote
        [found] = run1(solo, FIND_FILES, [(tag,)])
        assert found.ok and found.value == [], found  # not even the previous job's working directory
        host = [p for d in ("/var/tmp", "/dev/shm", "/run/lock") if (p := Path(d, f"cfcode-leak-{tag}")).exists()]
        assert host == [], "a sandboxed job wrote into the host's filesystem"
    finally:
        for d in ("/var/tmp", "/dev/shm", "/run/lock"):
            Path(d, f"cfcode-leak-{tag}").unlink(missing_ok=True)


PLANT_MODULE = """
import os
def f():
    for d in [os.getcwd(), "/tmp", os.path.expanduser("~")]:
        try:
            with open(os.path.join(d, "random.py"), "w") as fh:
                fh.write("def randint(a, b):\\n    return 4\\nFORGED = True\\n")
        except OSError:
            pass
    return 1
"""

IMPORT_PROBE = """
import os, sys
def f():
    import random
    writable = [p for p in sys.path if not p or not os.path.isabs(p) or os.access(p, os.W_OK)]
    return [getattr(random, "FORGED", False), writable]
"""


def test_a_planted_module_is_not_imported_by_the_next_job(solo):
    assert run1(solo, PLANT_MODULE)[0].ok
    [probe] = run1(solo, IMPORT_PROBE)
    assert probe.ok and probe.value == [False, []], probe


FILL = """
import os
def f():
    for d in ["/tmp", "/dev/shm", os.getcwd()]:
        k = 0
        try:
            while k < 64:
                with open(os.path.join(d, "fill%d" % k), "wb") as fh:
                    fh.write(b"x" * (4 << 20))
                k += 1
        except OSError:
            pass
    return 1
"""

USE_TEMP = """
import tempfile
def f():
    with open("/tmp/honest", "wb") as fh:
        fh.write(b"y" * (1 << 20))
    with tempfile.TemporaryFile() as fh:
        fh.write(b"y" * (1 << 20))
        fh.seek(0)
        return len(fh.read())
"""


def test_a_job_that_fills_tmp_does_not_break_the_next_one(solo):
    assert run1(solo, FILL, timeout_s=30.0)[0].ok
    [honest] = run1(solo, USE_TEMP)
    assert honest.ok and honest.value == 1 << 20, honest


BREAK_WORKDIR = """
import os
def f():
    cwd = os.getcwd()
    for attempt in (lambda: os.rename(cwd, cwd + "-gone"), lambda: os.chmod(cwd, 0), lambda: os.rmdir(cwd),
                    lambda: os.chmod("/tmp", 0)):
        try:
            attempt()
        except OSError:
            pass
    return 1
"""


def test_renaming_the_working_directory_does_not_wedge_the_worker(solo):
    run1(solo, BREAK_WORKDIR)
    assert_serving(solo)
    [found] = run1(solo, FIND_FILES, [("x",)])
    assert found.ok and found.value == [], found


DEEP_TREE = """
import os
def f():
    os.chdir("/tmp")
    for k in range(1500):
        os.mkdir("d")
        os.chdir("d")
    open("leaf", "w").write("x")
    os.chmod(".", 0)
    os.mkdir("/dev/shm/locked")
    open("/dev/shm/locked/f", "w").write("x")
    os.chmod("/dev/shm/locked", 0)
    return 1
"""


def test_a_deep_locked_directory_tree_is_cleaned_away(solo):
    assert run1(solo, DEEP_TREE, timeout_s=30.0)[0].ok
    [found] = run1(solo, FIND_FILES, [("x",)])
    assert found.ok and found.value == [], found
    assert_serving(solo)


SYSV_IPC = """
import ctypes
lc = ctypes.CDLL(None, use_errno=True)
lc.shmat.restype = ctypes.c_void_p
def f(key, mode):
    if mode == "put":
        sid = lc.shmget(key, 4096, 0o1600)
        if sid >= 0:
            ctypes.memmove(lc.shmat(sid, None, 0), b"secret", 6)
        return [sid >= 0, lc.msgget(key, 0o1600) >= 0, lc.semget(key, 1, 0o1600) >= 0]
    return [lc.shmget(key, 0, 0), lc.msgget(key, 0), lc.semget(key, 0, 0)]
"""


def _remove_host_ipc(key: int) -> None:
    import ctypes

    lc = ctypes.CDLL(None, use_errno=True)
    for ident, rm in ((lc.shmget(key, 0, 0), lambda i: lc.shmctl(i, 0, None)),
                      (lc.msgget(key, 0), lambda i: lc.msgctl(i, 0, None)),
                      (lc.semget(key, 0, 0), lambda i: lc.semctl(i, 0, 0))):
        if ident >= 0:
            rm(ident)


def test_sysv_ipc_objects_do_not_outlive_the_job(solo):
    key = 0x5EC0000 + secrets.randbelow(1 << 16)
    try:
        [put] = run1(solo, SYSV_IPC, [(key, "put")])
        assert put.ok and put.value == [True, True, True], put
        [get] = run1(solo, SYSV_IPC, [(key, "get")])
        assert get.ok and get.value == [-1, -1, -1], get
    finally:
        _remove_host_ipc(key)  # old code leaked them into the host's IPC namespace (local backend)


POSIX_MQUEUE = """
import ctypes, os
lc = ctypes.CDLL(None, use_errno=True)
def f(name, mode):
    if mode == "put":
        fd = lc.mq_open(name.encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
        return fd >= 0 and lc.mq_send(fd, b"secret", 6, 0) == 0
    fd = lc.mq_open(name.encode(), os.O_RDONLY | os.O_NONBLOCK)
    if fd < 0:
        return None
    buf = ctypes.create_string_buffer(8192)
    return buf.raw[:max(lc.mq_receive(fd, buf, 8192, None), 0)]
"""


def test_a_posix_message_queue_does_not_outlive_the_job(solo):
    """mq_open() needs no /dev/mqueue: where the host has none, nothing emptied the worker's message
    queues, and the next job read what the one before had left."""
    name = "/cfcode-" + secrets.token_hex(4)
    [put] = run1(solo, POSIX_MQUEUE, [(name, "put")])
    assert put.ok and put.value is True, put
    [get] = run1(solo, POSIX_MQUEUE, [(name, "get")])
    assert get.ok and get.value is None, get


KEYRING = """
import ctypes
lc = ctypes.CDLL(None, use_errno=True)
def f(desc, mode):
    if mode == "put":  # add_key(type, description, payload, plen, KEY_SPEC_USER_KEYRING)
        return lc.syscall(248, b"user", desc.encode(), b"secret", 6, -4)
    return lc.syscall(249, b"user", desc.encode(), None, 0)  # request_key: searches the user keyring
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers are x86_64's")
def test_a_key_in_the_user_keyring_does_not_reach_the_next_job(solo):
    desc = "cfcode-" + secrets.token_hex(4)
    run1(solo, KEYRING, [(desc, "put")])
    [get] = run1(solo, KEYRING, [(desc, "get")])
    assert get.ok and get.value == -1, get


# Everything a program reaches from Python: every object the collector tracks, and everything
# reachable from its own stack (which runs up through the worker that forked it).
FIND_IN_HEAP = """
import gc, sys
def f(head, tail):
    needle = head + tail  # built here: the request carries no copy of it
    seen, found = set(), set()
    todo = list(gc.get_objects())
    frame = sys._getframe()
    while frame is not None:  # a running frame's locals are not among its referents
        todo.append(frame)
        todo.extend(frame.f_locals.values())
        frame = frame.f_back
    while todo and len(seen) < 2_000_000:
        obj = todo.pop()
        if id(obj) in seen or obj is needle:
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            text = obj if isinstance(obj, str) else obj.decode("latin-1")
            if needle in text and len(text) > len(needle):
                found.add(text[:80])
            continue
        todo.extend(gc.get_referents(obj))
        if isinstance(obj, dict):  # string keys are not among a dict's referents
            todo.extend(list(obj))
        elif isinstance(obj, type(f.__code__)):  # nor a code object's constants
            todo.extend(obj.co_consts)
        if isinstance(getattr(obj, "__dict__", None), dict):
            todo.append(obj.__dict__)
    return sorted(found)
"""


def test_the_previous_jobs_source_and_arguments_are_not_in_the_next_jobs_reach(solo):
    """The worker compiles (and caches) sources: a forked child must not find other jobs' code in it."""
    secret, argument = "cfsecret" + secrets.token_hex(8), "cfsecret" + secrets.token_hex(8)
    src = f"KEY = {secret!r}\ndef f(x):\n    return len(KEY + x)\n"
    [first] = run1(solo, src, [(argument,)])
    assert first.ok and first.value == 48, first
    [probe] = run1(solo, FIND_IN_HEAP, [("cfse", "cret")], timeout_s=60.0)
    assert probe.ok, probe
    assert probe.value == [], probe.value


KERNEL_SURFACE = """
import ctypes
lc = ctypes.CDLL(None, use_errno=True)
def f():
    return {
        "userns": lc.unshare(0x10000000),  # CLONE_NEWUSER: all capabilities over namespaces of one's own
        "io_uring": lc.syscall(425, 8, ctypes.create_string_buffer(120)),
        "bpf": lc.syscall(321, 0, ctypes.create_string_buffer(128), 128),
        "userfaultfd": lc.syscall(323, 0),
    }
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers are x86_64's")
def test_a_program_cannot_reach_the_kernels_riskiest_interfaces(solo):
    [r] = run1(solo, KERNEL_SURFACE)
    assert r.ok and r.value == {"userns": -1, "io_uring": -1, "bpf": -1, "userfaultfd": -1}, r


STRAY = """
import os, signal, time
def f(delay):
    if os.fork() == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        time.sleep(delay)  # by then its worker is gone and another serves this slot
        for _ in range(300):
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.05)
        os._exit(0)
    time.sleep(60)
"""


def test_a_program_sees_no_process_but_its_worker_and_itself(solo):
    census = "import os\ndef f():\n    return sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), os.getpid()\n"
    [r] = run1(solo, census)
    assert r.ok, r
    pids, me = r.python_value()
    assert pids == sorted({1, me}), pids  # the worker is PID 1 of a PID namespace of its own


REACH_UNIX_SOCKETS = """
import socket
def f(stream_path, dgram_path):
    reached = []
    for how in ("connect", "dgram_socket", "dgram_pair"):
        try:
            if how == "connect":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(stream_path)
                s.sendall(b"pwned")
            else:
                if how == "dgram_socket":
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                else:  # an unnamed socket of a pair may still send to any address
                    s, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.sendto(b"pwned", dgram_path)
            reached.append(how)
        except OSError:
            pass
    a, b = socket.socketpair()  # what asyncio and multiprocessing.Pipe use: still there
    a.sendall(b"ping")
    return reached, b.recv(4)
"""


def _socket_homes() -> list[Path]:
    """Where a host keeps sockets anyone may use (/run: the system bus, the journal's /dev/log, snapd,
    docker.sock...), and a place no mount of the sandbox's hides (/var/lib; the user's home when not
    root)."""
    import os

    homes = [Path("/run")] if os.access("/run", os.W_OK) else []
    return homes + [Path("/var/lib") if os.access("/var/lib", os.W_OK) else Path.home()]


@pytest.fixture(params=["run", "elsewhere"])
def host_unix_sockets(request):
    """A stream and a datagram socket anyone may use, in a directory anyone may search."""
    import os
    import socket as sk

    homes = _socket_homes()
    directory = (homes[0] if request.param == "run" else homes[-1]) / f"cfcode-canary-{secrets.token_hex(6)}"
    directory.mkdir()
    directory.chmod(0o755)
    stream, dgram = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM), sk.socket(sk.AF_UNIX, sk.SOCK_DGRAM)
    try:
        stream.bind(str(directory / "stream.sock"))
        dgram.bind(str(directory / "dgram.sock"))
        for name in ("stream.sock", "dgram.sock"):
            os.chmod(directory / name, 0o666)
        stream.listen(8)
        stream.setblocking(False)
        dgram.setblocking(False)

        def arrived() -> list[str]:
            got = []
            try:
                while True:
                    conn, _ = stream.accept()
                    got.append("stream connection")
                    conn.close()
            except BlockingIOError:
                pass
            try:
                while True:
                    got.append(dgram.recv(64).decode())
            except BlockingIOError:
                pass
            return got

        yield str(directory / "stream.sock"), str(directory / "dgram.sock"), arrived
    finally:
        stream.close()
        dgram.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_program_cannot_reach_the_hosts_unix_sockets(solo, host_unix_sockets):
    """A network namespace covers no Unix socket with a name in the filesystem: a local job could
    connect to every socket on the host that its uid may write to, and send to /dev/log."""
    stream_path, dgram_path, arrived = host_unix_sockets
    [r] = run1(solo, REACH_UNIX_SOCKETS, [(stream_path, dgram_path)])
    assert r.ok and r.python_value() == ([], b"ping"), r
    assert arrived() == []


SPREAD_MEMORY = """
import os, time
def f(n, mb):
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            try:
                block = b"x" * (mb << 20)  # each child under its address-space limit, together far over
                time.sleep(2)
            finally:
                os._exit(0)
        pids.append(pid)
    return sum(os.waitpid(pid, 0)[1] == 0 for pid in pids)
"""


HIDDEN_MEMORY = """
import os, time
def f(holders, files):
    for _ in range(holders):
        if os.fork() == 0:  # memory in memfds: charged to the cgroup, in no process's RSS
            chunk = b"x" * (1 << 20)
            for _ in range(files):
                fd = os.memfd_create("m")
                try:
                    for _ in range(8):
                        os.write(fd, chunk)
                except OSError:
                    pass
            time.sleep(30)
            os._exit(0)
    time.sleep(3)
    return "survived"
"""


def test_memory_held_outside_any_process_is_the_jobs_not_the_workers_death(solo):
    """memfds of 8 MB (RLIMIT_FSIZE) by the hundred fill the cgroup while every job process stays
    small: the OOM killer took the worker, the largest process, and the job ended sandbox_error after
    retries. A root local worker's jobs are the OOM killer's first choice now; a container's worker
    cannot arrange that (its jobs could lower their score back to its own), so its death by the OOM
    killer is that job's MEMORY."""
    [r] = run1(solo, HIDDEN_MEMORY, [(2, 55)], timeout_s=8.0)
    assert r.status in ((S.MEMORY,) if solo.backend == "docker" else (S.MEMORY, S.OK)), r
    assert_serving(solo, jobs=2)


def test_a_jobs_processes_together_stay_within_the_memory_limit(solo):
    """Six processes of 300 MB each: a container's memory limit (768 MB) holds them all, locally too."""
    [r] = run1(solo, SPREAD_MEMORY, [(6, 300)], timeout_s=60.0)
    assert r.status is S.MEMORY or (r.ok and r.value < 6), r
    assert_serving(solo, jobs=2)


HEADROOM = """
import resource
def f():
    size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    return (resource.getrlimit(resource.RLIMIT_AS)[0] - size) >> 20  # MiB a job may still map
"""
BIG_RESULTS = ["def f(i):\n    return 'z' * (1000000 - 64 - i)\n",
               "def f(i):\n    return ['z' * (200000 - i), list(range(2000))]\n"]


def test_the_memory_a_job_may_use_does_not_depend_on_the_jobs_before(backend):
    """The worker parses every result row: jobs returning megabytes per call left its heap tens of
    MB larger (freed, but not given back), and each child inherits the worker's size as part of its
    address-space limit, so every later job on that worker could allocate that much less."""
    with make_sandbox(backend, size=1) as sb:
        [fresh] = sb.run(ExecRequest(HEADROOM, "f", [()]))
        for k in range(4):
            [r, *_] = sb.run(ExecRequest(BIG_RESULTS[k % 2], "f", [(i,) for i in range(150)], timeout_s=60.0))
            assert r.ok, r
        [after] = sb.run(ExecRequest(HEADROOM, "f", [()]))
        assert fresh.ok and after.ok and abs(after.value - fresh.value) <= 4, (fresh.value, after.value)


def test_a_job_cut_short_by_a_lost_worker_leaves_nothing_running(backend):
    """The worker dies mid-job (killed from outside): the job's daemon must die too, or it would kill
    the jobs of the worker that replaces it (same slot, same uid)."""
    with make_sandbox(backend, size=1, max_retries=0) as sb:
        killer = threading.Timer(1.5, sb.kill_worker, args=(0,))
        killer.start()
        [cut] = sb.run(ExecRequest(STRAY, "f", [(2.5,)], timeout_s=90.0))
        killer.join()
        assert cut.status is S.SANDBOX_ERROR, cut
        slow = "import time\ndef f(x):\n    time.sleep(1)\n    return x\n"
        [results] = sb.run_batch([ExecRequest(slow, "f", [(i,) for i in range(5)], timeout_s=10.0)])
        assert [(r.status, r.value) for r in results] == [(S.OK, i) for i in range(5)], results


def test_a_worker_that_cannot_set_up_a_job_is_replaced_not_reused():
    """Local workers without private mounts keep jobs in a host directory; if that directory vanishes,
    the worker cannot set up the next job: it must make way for a fresh worker, and the job run there."""
    import shutil

    with make_sandbox("local", size=1, isolate=False) as sb:
        assert_serving(sb, jobs=1)
        before = sb.worker_ids
        shutil.rmtree(sb._host_dirs[-1])
        assert_serving(sb, jobs=3)
        assert sb.worker_ids != before


# ---------------------------------------------------------------- 3. statuses name the cause

ATTACK_WORKER = """
import os, resource, signal
def f(how):
    target = os.getppid()
    try:
        if how == "sigint":
            os.kill(target, signal.SIGINT)
        elif how == "nofile":
            resource.prlimit(target, resource.RLIMIT_NOFILE, (3, 3))
        elif how == "nproc":
            resource.prlimit(target, resource.RLIMIT_NPROC, (0, 0))
    except OSError as exc:
        return type(exc).__name__
    return "done"
"""


@pytest.mark.parametrize("how", ["sigint", "nofile", "nproc"])
def test_a_program_cannot_kill_or_cripple_its_worker(solo, how):
    [hit] = run1(solo, ATTACK_WORKER, [(how,)])
    assert hit.status in (S.OK, S.ERROR), hit
    time.sleep(0.2)
    assert_serving(solo, jobs=3)


CORRUPT_CHANNEL = """
import gc
def f(i, how):
    if i == 1:
        chan = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
        if how == "deep":
            chan.emit("[" * 200000 + "\\n", 2, 0.0)
        elif how == "bigint":
            chan.emit('["R",1,"ok",' + "9" * 100000 + ',false,null,null,0.0]\\n', 2, 0.0)
        elif how == "fields":
            chan.emit(["R", 1, "error", None, False, 12345, "m" * 5000000, 0.0], 2, 0.0)
    return i
"""


@pytest.mark.parametrize("how", ["deep", "bigint", "fields"])
def test_a_corrupted_result_channel_costs_only_that_call(solo, how):
    [results] = solo.run_batch([ExecRequest(CORRUPT_CHANNEL, "f", [(i, how) for i in range(4)], timeout_s=10.0)])
    assert [(r.status, r.value) for r in results[:1] + results[2:]] == [(S.OK, 0), (S.OK, 2), (S.OK, 3)], results
    assert results[1].status in (S.CRASHED, S.ERROR), results[1]
    for r in results:
        assert r.error_type is None or (isinstance(r.error_type, str) and len(r.error_type) <= 200), r.error_type
        assert r.error_message is None or (isinstance(r.error_message, str) and len(r.error_message) <= 5000)
    assert_serving(solo, jobs=2)


FORGE_STATUS = """
import gc, os, signal
if {at_load}:
    chan = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
    chan.emit(["E", "timeout", "Timeout", "call exceeded its time limit"], -1, 0.0)
    os._exit(0)
def f(i, how):
    if i == 1:
        if how == "sigxcpu":
            os.kill(os.getpid(), signal.SIGXCPU)
        chan = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
        chan.emit(["R", 1, "timeout", None, False, "Timeout", "call exceeded its time limit", 0.0], 2, 0.0)
        os._exit(0)
    return i
"""


@pytest.mark.parametrize("how", ["row", "load_row", "sigxcpu"])
def test_a_program_cannot_pass_itself_off_as_timed_out(solo, how):
    """Only the worker finds a timeout: a result row claiming one (for a call, or for loading the
    program), or a SIGXCPU the program sends itself long before its CPU limit, is the program's crash."""
    src = FORGE_STATUS.format(at_load=how == "load_row")
    [results] = solo.run_batch([ExecRequest(src, "f", [(i, how) for i in range(3)], timeout_s=10.0)])
    assert not [r for r in results if r.status is S.TIMEOUT or r.error_type == "Timeout"], results
    if how == "load_row":
        assert [r.status for r in results] == [S.CRASHED] * 3, results
    else:
        assert [(r.status, r.value) for r in results] == [(S.OK, 0), (S.CRASHED, None), (S.OK, 2)], results


LEAVE_GROUP = """
import os, time
def f(i):
    if i == 1:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            os.write(w, b"x")
            time.sleep(1000)
        os.read(r, 1)
        os.setpgid(0, pid)  # the call's own process leaves the process group the worker kills
        while True:
            pass
    return i
"""


def test_a_call_that_leaves_its_process_group_still_times_out(solo):
    """The worker ended a timed-out call by killing its process group, then waited for it: a call that
    had moved to another group hung the worker until the host gave it up (sandbox_error)."""
    started = time.monotonic()
    [results] = solo.run_batch([ExecRequest(LEAVE_GROUP, "f", [(0,), (1,), (2,)], timeout_s=1.0)])
    assert [(r.status, r.value) for r in results] == [(S.OK, 0), (S.TIMEOUT, None), (S.OK, 2)], results
    assert time.monotonic() - started < 10, "the worker waited for a killed call"
    assert_serving(solo, jobs=2)


LYING_EXCEPTIONS = """
class Lying(BaseException):
    def __str__(self):
        raise Lying()

    @property
    def __class__(self):
        raise RuntimeError("no class")


class Meta(type):
    @property
    def __name__(cls):
        raise RuntimeError("no name")


class Nameless(Exception, metaclass=Meta):
    pass


if {at_load}:
    raise Lying()


def f(how):
    if how == "class":
        raise Lying()
    if how == "name":
        raise Nameless("m")
    return how
"""


def test_an_exception_that_lies_about_itself_is_the_programs_error(solo):
    """An exception whose __class__ or class __name__ raises, and whose __str__ raises one more: the
    program raised (error), not a crashed process (the worker's isinstance() and __name__ raised)."""
    calls = [("class",), ("name",), ("ok",)]
    [results, at_load] = solo.run_batch([ExecRequest(LYING_EXCEPTIONS.format(at_load=load), "f", calls, timeout_s=10.0)
                                         for load in (False, True)])
    assert [(r.status, r.value) for r in results] == [(S.ERROR, None), (S.ERROR, None), (S.OK, "ok")], results
    assert [r.status for r in at_load] == [S.ERROR] * 3, at_load


def test_a_program_that_is_costly_to_compile_is_the_programs_failure(solo):
    """Compiling is the program's cost too: never the worker's memory (a worker killed for it gave
    sandbox_error) nor a bloated worker whose next jobs have less memory."""
    [r] = run1(solo, costly_to_compile(18), timeout_s=5.0)
    assert r.status in (S.MEMORY, S.TIMEOUT), r
    [big] = run1(solo, "def f():\n    return len(bytearray(300 << 20))\n")
    assert (big.status, big.value) == (S.OK, 300 << 20), big
    assert_serving(solo, jobs=2)


IOPRIO = """
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
IOPRIO_SET, IOPRIO_GET = {"x86_64": (251, 252), "aarch64": (30, 31)}[platform.machine()]
IDLE = 3 << 13
"""
SCHEDULE_WORKER = IOPRIO + """
ATTACKS = {
    "nice": lambda: os.setpriority(os.PRIO_PROCESS, os.getppid(), 15),
    "nice_user": lambda: os.setpriority(os.PRIO_USER, os.getuid(), 17),
    "affinity": lambda: os.sched_setaffinity(os.getppid(), {min(os.sched_getaffinity(0))}),
    "idle_policy": lambda: os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0)),
    "io_idle": lambda: libc.syscall(IOPRIO_SET, 1, os.getppid(), IDLE),  # IOPRIO_WHO_PROCESS
    "io_idle_user": lambda: libc.syscall(IOPRIO_SET, 3, os.getuid(), IDLE),  # IOPRIO_WHO_USER
}
def f(attack):
    try:
        ATTACKS[attack]()
    except OSError:
        pass
    return 0
"""
READ_SCHEDULE = IOPRIO + """
def f():
    return [os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0),
            libc.syscall(IOPRIO_GET, 1, 0)]
"""


@pytest.mark.parametrize("attack", ["nice", "nice_user", "affinity", "idle_policy", "io_idle", "io_idle_user"])
def test_a_job_cannot_change_how_the_next_job_is_scheduled(solo, attack):
    """A job running under its worker's uid (containers) may renice it, pin it to one CPU, make it
    SCHED_IDLE or give it the idle I/O class: the next job must still start with the scheduling every
    job gets."""
    [before] = run1(solo, READ_SCHEDULE)
    [hit] = run1(solo, SCHEDULE_WORKER, [(attack,)])
    [after] = run1(solo, READ_SCHEDULE)
    assert hit.status is S.OK, hit
    assert before.ok and after.ok and after.value == before.value, (before, after)


FORGE_START = """
import gc
def f(i, start):
    if i == 0:
        chan = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
        chan.emit(["R", 0, "ok", 0, False, None, None, 0.0], 1, start)  # call 1 'started' at `start`
        while True:
            pass
    return i
"""


@pytest.mark.parametrize("start", [math.nan, math.inf, -math.inf, 1e300])
def test_a_forged_call_start_time_buys_nothing(solo, start):
    """The start time of a call comes from the child's shared memory: NaN there made the worker's
    deadline NaN and the worker fail (sandbox_error); no value may stretch or break the timeout."""
    began = time.monotonic()
    [results] = solo.run_batch([ExecRequest(FORGE_START, "f", [(i, start) for i in range(3)], timeout_s=1.0)])
    assert [(r.status, r.value) for r in results] == [(S.OK, 0), (S.TIMEOUT, None), (S.OK, 2)], results
    assert time.monotonic() - began < 8


CHEAP_HUGE_VALUE = """
def f(kind):
    if kind == "shared_strings":  # 8 MB in memory, 2 GB encoded
        s = "x" * 10000
        return [s] * 200000
    if kind == "shared_rows":  # 8 MB in memory, a billion elements encoded
        row = [1] * 1000
        return [row] * 1000000
    if kind == "dag":  # 90 levels of [v, v]: 2**90 leaves
        v = [0]
        for _ in range(90):
            v = [v, v]
        return v
    if kind == "dict_of_shared":
        row = tuple(range(1000))
        return {i: row for i in range(100000)}
    if kind == "shared_functions":  # no literal form: each is described (about 50 bytes) on its own
        return [f] * 500000
    return kind
"""


@pytest.mark.parametrize("kind", ["shared_strings", "shared_rows", "dag", "dict_of_shared", "shared_functions"])
def test_a_value_small_in_memory_but_huge_encoded_is_output_too_large(solo, kind):
    """A returned value built in microseconds whose encoding is gigabytes: encoding it took the call's
    whole time limit (TIMEOUT) or its memory (MEMORY), the sandbox's work passed off as the program's
    doing. It is over the output cap: OUTPUT_TOO_LARGE, found without encoding it."""
    [results] = solo.run_batch([ExecRequest(CHEAP_HUGE_VALUE, "f", [(kind,), ("next",)], timeout_s=3.0)])
    assert results[0].status is S.OUTPUT_TOO_LARGE, results[0]
    assert (results[1].status, results[1].value) == (S.OK, "next"), results[1]


HUGE_TO_RENDER = """
def f(kind):
    v = [0]
    for _ in range(60):  # 2**60 leaves: its repr never ends
        v = [v, v]
    rows = [[0] * 1000] * 1000000  # 8 MB in memory, 3 GB as text
    if kind == "KeyError":
        raise KeyError(v)
    if kind == "ValueError":
        raise ValueError(rows)
    if kind == "OSError":
        raise OSError(5, "input/output error", v)
    if kind == "list_subclass":
        class Rows(list):
            pass
        return Rows(rows)
    if kind == "dict_subclass":
        class Table(dict):
            pass
        return Table({0: v})
    if kind.startswith("deep_"):  # nested past the C stack, with the recursion limit lifted to match
        import sys
        sys.setrecursionlimit(10 ** 6)
        deep = []
        for _ in range(200000):
            deep = [deep]
        if kind == "deep_ValueError":
            raise ValueError(deep)
        class Rows(list):
            pass
        return Rows(deep)
    return kind
"""


@pytest.mark.parametrize("kind", ["KeyError", "ValueError", "OSError", "list_subclass", "dict_subclass",
                                  "deep_ValueError", "deep_list_subclass"])
def test_a_part_of_a_result_whose_text_is_endless_costs_the_sandbox_nothing(solo, kind):
    """The sandbox renders an exception's message (str) and an opaque value's description (repr) with
    the builtin types' own C code: for a raised KeyError or ValueError of a value referenced a million
    times that text is gigabytes, and rendering it took the call's whole time limit (TIMEOUT) or ran
    out of memory seconds later, for a program that raised (ERROR) or returned (OK) at once. Nested
    200,000 deep under a lifted recursion limit, rendering it overflowed the C stack (CRASHED)."""
    [results] = solo.run_batch([ExecRequest(HUGE_TO_RENDER, "f", [(kind,), ("next",)], timeout_s=5.0)])
    first = results[0]
    kind = kind.replace("deep_", "")
    if kind.endswith("Error"):
        assert (first.status, first.error_type) == (S.ERROR, kind), first
        assert isinstance(first.error_message, str) and len(first.error_message) <= 5000
    else:
        assert first.status is S.OK and isinstance(first.python_value(), Unrepresentable), first
        assert len(first.value) <= 5000, len(first.value)
    assert (results[1].status, results[1].value) == (S.OK, "next"), results[1]


def test_error_fields_are_bounded_strings(solo):
    src = "def f():\n    raise type('E' * 5000000, (Exception,), {})('m' * 5000000)\n"
    [r] = run1(solo, src)
    assert r.status is S.ERROR
    assert isinstance(r.error_type, str) and 0 < len(r.error_type) <= 200
    assert isinstance(r.error_message, str) and len(r.error_message) <= 5000


@pytest.mark.parametrize("timeout", [1e7, math.inf, pytest.param(10 ** 400, id="int_of_400_digits")])
def test_a_huge_timeout_is_served_not_overflowed(solo, timeout):
    [r] = run1(solo, HONEST, [(3,)], timeout_s=timeout, job_timeout_s=timeout * 100)
    assert (r.status, r.value) == (S.OK, 10), r


def test_an_unencodable_return_value_costs_only_that_call(solo):
    src = ("import sys\ndef f(i):\n    if i == 1:\n        sys.set_int_max_str_digits(0)\n"
           "        return 10 ** 100000\n    if i == 2:\n        return [-(10 ** 5000), 7]\n    return i\n")
    [results] = solo.run_batch([ExecRequest(src, "f", [(i,) for i in range(4)], timeout_s=10.0)])
    assert [r.status for r in results] == [S.OK] * 4, results
    assert results[0].value == 0 and results[3].value == 3
    assert results[1].python_value() == 10 ** 100000
    assert results[2].python_value() == [-(10 ** 5000), 7]


def test_a_value_that_cannot_travel_is_an_error_of_that_call_alone(solo):
    src = ("def f(i):\n    if i == 1:\n        v = []\n        for _ in range(500):\n            v = [v]\n        return v\n"
           "    if i == 2:\n        v = []\n        v.append(v)\n        return v\n    return i\n")
    [results] = solo.run_batch([ExecRequest(src, "f", [(i,) for i in range(4)], timeout_s=10.0)])
    assert [(r.status, r.value) for r in results[::3]] == [(S.OK, 0), (S.OK, 3)], results
    assert [(r.status, r.error_type) for r in results[1:3]] == [(S.ERROR, "UnsupportedValue")] * 2, results


ROUND_TRIP = """
import math
class Thing:
    pass
def f(kind):
    return {
        "nan": float("nan"), "inf": math.inf, "-inf": -math.inf, "-0.0": -0.0, "frozenset": frozenset({1, 2}),
        "set": {3, 1}, "empty": set(), "tuple": (1, ("a",)), "bytes": b"\\x00n", "bytearray": bytearray(b"ab"),
        "complex": complex(1.5, -2), "complex_nan": complex(math.nan, -0.0), "nested": [math.nan, {"k": -math.inf}],
        "intkeys": {1: frozenset(), (2, 3): None}, "str_nan": "nan", "str_frozen": "frozenset({1, 2})",
        "str_tuple": "(1, 2)", "object": Thing(), "function": f, "range": range(3), "bool_sub": True,
    }[kind]
"""


def _same(a, b) -> bool:
    """Equal values of the same types, NaN equal to NaN, the sign of zero counted."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return _same(a.real, b.real) and _same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_returned_values_round_trip_unambiguously(solo):
    expected = {
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0.0": -0.0, "frozenset": frozenset({1, 2}),
        "set": {1, 3}, "empty": set(), "tuple": (1, ("a",)), "bytes": b"\x00n", "bytearray": bytearray(b"ab"),
        "complex": complex(1.5, -2), "complex_nan": complex(math.nan, -0.0),
        "nested": [math.nan, {"k": -math.inf}], "intkeys": {1: frozenset(), (2, 3): None},
        "str_nan": "nan", "str_frozen": "frozenset({1, 2})", "str_tuple": "(1, 2)", "bool_sub": True,
    }
    kinds = list(expected) + ["object", "function", "range"]
    [results] = solo.run_batch([ExecRequest(ROUND_TRIP, "f", [(k,) for k in kinds], timeout_s=10.0)])
    got = dict(zip(kinds, results))
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    for kind, value in expected.items():
        assert _same(got[kind].python_value(), value), (kind, got[kind])
    for kind in ("object", "function", "range"):  # not values: never mistaken for a string or a literal
        opaque = got[kind].python_value()
        assert isinstance(opaque, Unrepresentable) and not isinstance(opaque, str), (kind, opaque)


COLLIDING_SET = """
import gc, os
def f(form):
    p = (1 << 61) - 1  # every multiple of it hashes to 0: a set of them takes quadratic time to build
    items = [str(k * p) for k in range(40000)]
    text = {"set": "{%s}", "frozenset": "frozenset({%s})", "dict": "{%s}"}[form] % ", ".join(
        items if form != "dict" else [i + ": 0" for i in items[:30000]])
    chan = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
    chan.emit(["R", 0, "ok", text, True, None, None, 0.0], 1, 0.0)  # one cheap row under the value cap
    os._exit(0)
"""


@pytest.mark.parametrize("form", ["set", "frozenset", "dict"])
def test_reading_a_returned_value_back_costs_the_host_no_quadratic_time(solo, form):
    """python_value() runs in the host: a set (or dict) literal of 40,000 ints that all hash alike,
    under the 1 MB value cap and written in a millisecond, took the host ~8 s of CPU per read."""
    [r] = run1(solo, COLLIDING_SET, [(form,)])
    assert r.ok and r.value_is_repr, r
    began = time.process_time()
    r.python_value()
    assert time.process_time() - began < 2.0


ECHO = """
def f(*args, **kwargs):
    return [args, kwargs]
"""


def test_arguments_arrive_exactly_as_passed(solo):
    args = [(math.nan, math.inf, -math.inf, -0.0), (frozenset({1, 2}), {3}, set()), (10 ** 5000, -(2 ** 9000)),
            (complex(1, -0.0), b"\x00", bytearray(b"x")), ({(1, 2): [frozenset()]},), ("nan", "(1, 2)")]
    [results] = solo.run_batch([ExecRequest(ECHO, "f", args, kwargs=[{}, {}, {}, {}, {"k": math.nan}, {}], timeout_s=10.0)])
    assert all(r.ok for r in results), results
    for a, r, kw in zip(args, results, [{}, {}, {}, {}, {"k": math.nan}, {}]):
        assert _same(r.python_value(), [a, kw]), (a, r)


# ---------------------------------------------------------------- CPU limits and the kill storm

@pytest.fixture(scope="module", params=BACKENDS)
def cpu_limited(request):
    sb = make_sandbox(request.param, size=1, limits=SandboxLimits(cpu_seconds=1))
    yield sb
    sb.close()


BURN = """
import signal, time
def f(seconds, ignore_xcpu=False):
    if ignore_xcpu:
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
    return seconds
"""


def test_cpu_limit_is_per_call_not_per_job(cpu_limited):
    [results] = cpu_limited.run_batch([ExecRequest(BURN, "f", [(0.7,)] * 4, timeout_s=30.0)])
    assert [r.status for r in results] == [S.OK] * 4, results


def test_a_cpu_limit_kill_is_a_timeout(cpu_limited):
    [results] = cpu_limited.run_batch([ExecRequest(BURN, "f", [(100,), (0.1,), (100, True), (0.1,)], timeout_s=6.0)])
    assert [r.status for r in results] == [S.TIMEOUT, S.OK, S.TIMEOUT, S.OK], results


LIFT_CPU_LIMIT = """
import resource, time
def f(seconds):
    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.getrlimit(resource.RLIMIT_CPU)[1]))
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
    return seconds
"""


def test_a_program_that_lifts_its_cpu_limit_still_times_out(cpu_limited):
    """RLIMIT_CPU's hard limit stays above every call's soft one, so a program could lift its soft
    limit and burn 10 s of CPU under a 1 s limit: ok. The worker watches the child's CPU time too."""
    [results] = cpu_limited.run_batch([ExecRequest(LIFT_CPU_LIMIT, "f", [(10,), (0.1,)], timeout_s=30.0)])
    assert [r.status for r in results] == [S.TIMEOUT, S.OK], results
    assert "CPU time" in results[0].error_message, results[0]


def test_a_storm_of_worker_kills_is_blamed_on_the_sandbox(backend):
    """Workers killed from outside again and again: the calls end sandbox_error, never a program status."""
    with make_sandbox(backend, size=1, max_retries=1) as sb:
        done = threading.Event()

        def storm() -> None:
            while not done.is_set():
                slot = sb._slots[0]
                if slot.conn is not None and slot.inflight:
                    time.sleep(0.3)
                    try:
                        sb.kill_worker(0)
                    except Exception:
                        pass
                time.sleep(0.05)

        killer = threading.Thread(target=storm)
        killer.start()
        try:
            [results] = sb.run_batch([ExecRequest("import time\ndef f():\n    time.sleep(3)\n    return 1\n", "f",
                                                  [()], timeout_s=10.0)])
        finally:
            done.set()
            killer.join()
        assert [r.status for r in results] == [S.SANDBOX_ERROR], results
        assert_serving(sb, jobs=2)


# ---------------------------------------------------------------- 4. requests

GOOD = ExecRequest(HONEST, "f", [(1,), (2,)], timeout_s=10.0)
RECURSIVE: list = []
RECURSIVE.append(RECURSIVE)


def _deep(n: int):
    v: list = []
    for _ in range(n):
        v = [v]
    return v


BAD = [
    pytest.param(ExecRequest(HONEST, "f", [(1,)], timeout_s="1"), "timeout_s", id="timeout_str"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], timeout_s=True), "timeout_s", id="timeout_bool"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], timeout_s=math.nan), "timeout_s", id="timeout_nan"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], job_timeout_s="2"), "job_timeout_s", id="budget_str"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], job_timeout_s=-1.0), "job_timeout_s", id="budget_negative"),
    pytest.param(ExecRequest(HONEST, "f", [(lambda: 1,)]), r"args\[0\]\[0\]", id="lambda_arg"),
    pytest.param(ExecRequest(HONEST, "f", [(1,), (range(3),)]), r"args\[1\]\[0\]", id="range_arg"),
    pytest.param(ExecRequest(HONEST, "f", [(RECURSIVE,)]), r"args\[0\]\[0\]", id="recursive_arg"),
    pytest.param(ExecRequest(HONEST, "f", [(_deep(5000),)]), r"args\[0\]\[0\]", id="deep_arg"),
    pytest.param(ExecRequest(HONEST, "f", [("x" * (20 << 20),)]), "max_request_bytes", id="huge_arg"),
    pytest.param(ExecRequest(HONEST, "f", None), "args", id="args_none"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], kwargs={"x": 1}), "kwargs", id="kwargs_dict"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], kwargs=[{1: 2}]), r"kwargs\[0\]", id="kwargs_int_key"),
    pytest.param(ExecRequest(HONEST, "f", [(1,)], kwargs=[{"k": object()}]), r"kwargs\[0\]", id="kwargs_object"),
    pytest.param(ExecRequest(b"def f(): pass", "f", [()]), "source", id="source_bytes"),
    pytest.param(ExecRequest(HONEST, None, [()]), "entry", id="entry_none"),
]


@pytest.mark.parametrize("bad, field", [p for p in BAD if p.id in (
    "timeout_bool", "budget_str", "lambda_arg", "range_arg", "recursive_arg", "deep_arg", "huge_arg", "kwargs_object")])
def test_a_bad_request_is_refused_up_front_naming_request_and_field(solo, bad, field):
    with pytest.raises(BadRequest, match=rf"request #1\b.*{field}"):
        solo.run_batch([GOOD, bad, GOOD])
    assert_serving(solo, jobs=1)


@pytest.mark.parametrize("bad, field", BAD)
def test_a_bad_request_can_get_its_own_error_result_while_the_others_run(solo, bad, field):
    first, middle, last = solo.run_batch([GOOD, bad, GOOD], on_bad_request="result")
    assert [r.value for r in first] == [r.value for r in last] == [2, 5]
    assert middle and all(r.status is S.ERROR and r.error_type == "BadRequest" for r in middle), middle
    assert all("request #1" in r.error_message for r in middle)
    assert len(middle) == (len(bad.args) if isinstance(bad.args, list) else 1)
    assert all(r.python_version == solo.python_version for r in middle)


def test_the_entry_is_found_as_python_spells_it(solo):
    """compile() NFKC-normalises identifiers: an entry named as its source writes it is found."""
    [r] = solo.run(ExecRequest("def \ufb01rst(x):\n    return x + 1\n", "\ufb01rst", [(1,)], timeout_s=10.0))
    assert (r.status, r.value) == (S.OK, 2), r


def test_arguments_too_big_to_unpack_are_the_jobs_memory_not_a_sandbox_error(solo):
    """A tuple of 1.4 million ints is within max_request_bytes, but unpacking it takes more than the
    job's memory limit: that failed the job's setup, which retired worker after worker (sandbox_error)."""
    [r] = solo.run(ExecRequest("def f(x):\n    return len(x)\n", "f", [(tuple(range(1_400_000)),)], timeout_s=30.0))
    assert (r.status, r.error_type) == (S.MEMORY, "MemoryError"), r
    assert_serving(solo, jobs=1)


def test_a_batch_that_is_not_a_list_is_a_bad_request(solo):
    with pytest.raises(BadRequest, match="requests must be a list"):
        solo.run_batch(GOOD)


def test_the_argument_size_limit_is_a_setting(backend):
    limits = SandboxLimits(max_request_bytes=1 << 20)
    with make_sandbox(backend, size=1, limits=limits) as sb:
        assert sb.run(ExecRequest(ECHO, "f", [("x" * (1 << 19),)]))[0].ok
        with pytest.raises(BadRequest, match=r"request #0\b.*max_request_bytes"):
            sb.run(ExecRequest(ECHO, "f", [("x" * (2 << 20),)]))
