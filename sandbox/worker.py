"""The sandbox worker: runs every job in a fresh forked child with rlimits and streams results back.

Why one file with only the standard library: the very same source runs as a host subprocess
(LocalSandbox) and as PID 1 of a pool container (DockerSandbox, passed with `python3 -c`, so the image
holds no project code and its content hash stays honest). Python >= 3.8.

Host <-> worker: frames of a 4-byte big-endian length + UTF-8 JSON object, over stdin/stdout or a
Unix socket (config "connect").
  worker -> host  {"t": "hello", "python_version": ..., "pid": ..., "isolation": [...]}
  host -> worker  {"t": "job", "id", "src", "entry", "args" | "args_repr", "kwargs"?, "timeout",
                   "start", "budget"?}       (jobs queue up: the next may arrive while one runs)
  worker -> host  {"t": "res", "id", "r": [[index, status, value, is_repr, etype, emsg, wall_ms], ...],
                   "done": bool}     (partial frames are flushed every 50 ms while a job runs)
  host -> worker  {"t": "ping"}  ->  {"t": "pong"}
Worker <-> child (one child per job, re-forked after a call times out or crashes): the child
writes one byte to a pipe once set up ("S"; "X"+message if setup failed), then one JSON row per
call into shared memory (see Channel); the worker validates rows, since the program shares the
child's process and could write anything there.
Configuration (limits, uid to drop to, isolation wishes, socket) is argv[1] as JSON.
"""
import ctypes
import errno
import gc
import json
import math
import mmap
import os
import platform
import resource
import select
import signal
import struct
import sys
import time

HEADER = struct.Struct(">I")
# Native ("@") formats are packed with one aligned 8-byte memcpy per field, so a reader in another
# process never sees half of a store (standard-size "<" formats are written byte by byte).
SHM_HEADER = struct.Struct("@qqd")
SHM_WRITTEN = struct.Struct("@q")
SHM_CALL = struct.Struct("@qd")
SHM_BYTES = 8 << 20  # results of one child; beyond this they go through the pipe
MAX_HOST_FRAME = 256 << 20
FLUSH_INTERVAL_S = 0.05
COMPILE_IN_WORKER_MAX = 64 << 10
CODE_CACHE_SIZE = 256
# Imported once in the worker so every forked child has them for free (and a child that dropped
# to an unprivileged uid can use them even where the interpreter's files are not readable to it).
PRELOAD = ("ast", "math", "itertools", "functools", "collections", "re", "string", "operator", "heapq",
           "bisect", "json", "copy")

OK, ERROR, TIMEOUT, MEMORY, TOO_LARGE, CRASHED, SANDBOX_ERROR = (
    "ok", "error", "timeout", "memory", "output_too_large", "crashed", "sandbox_error")
PROGRAM_STATUSES = (OK, ERROR, TIMEOUT, MEMORY, TOO_LARGE, CRASHED)  # what a child may report
PROGRAM_STATUS_SET = frozenset(PROGRAM_STATUSES)

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 0x4000, 1 << 18

_libc = None


def libc():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return _libc


def prctl(option, arg):
    lc = libc()
    return bool(lc) and lc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


# ---------------------------------------------------------------- framing

def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # built once: cheap calls


def encode_frame(obj):
    body = _ENCODE(obj).encode("utf-8", "surrogatepass")
    return HEADER.pack(len(body)) + body


def parse_rows(data):
    """Rows are JSON arrays, one per line (the encoder never emits a raw newline inside a value)."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError("incomplete row")
    return json.loads(b"[" + data[:-1].replace(b"\n", b",") + b"]")


class FrameReader:
    """Incremental frame parser over a non-blocking-style read loop (bounded frame size)."""

    def __init__(self, limit):
        self.buf = bytearray()
        self.limit = limit

    def feed(self, data):
        self.buf += data

    def frames(self):
        out = []
        while len(self.buf) >= 4:
            (n,) = HEADER.unpack_from(self.buf)
            if n > self.limit:
                raise ValueError("frame of %d bytes exceeds limit %d" % (n, self.limit))
            if len(self.buf) < 4 + n:
                break
            out.append(json.loads(bytes(self.buf[4:4 + n]).decode("utf-8", "surrogatepass")))
            del self.buf[:4 + n]
        return out


def read_exact(fd, n):
    chunks = []
    while n:
        data = os.read(fd, min(n, 1 << 20))
        if not data:
            return None
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def read_host_frame(fd):
    head = read_exact(fd, 4)
    if head is None:
        return None
    (n,) = HEADER.unpack(head)
    if n > MAX_HOST_FRAME:
        raise ValueError("host frame too large")
    body = read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- values

class OutputTooLarge(Exception):
    pass


def is_plain(v, depth=0):
    """True if `v` survives a JSON round trip unchanged (so it can travel as JSON)."""
    if depth > 100:
        return False
    t = type(v)
    if v is None or t is bool or t is int or t is str:
        return True
    if t is float:
        return math.isfinite(v)
    if t is list:
        return all(is_plain(x, depth + 1) for x in v)
    if t is dict:
        return all(type(k) is str and is_plain(x, depth + 1) for k, x in v.items())
    return False


def canonical_repr(v, depth=0):
    """repr() with set elements sorted, so equal values always print the same."""
    if depth > 100:
        raise ValueError("value nested too deeply")
    t = type(v)
    if t in (set, frozenset):
        items = sorted(canonical_repr(x, depth + 1) for x in v)
        if not items:
            return "set()" if t is set else "frozenset()"
        body = "{" + ", ".join(items) + "}"
        return body if t is set else "frozenset(" + body + ")"
    if t is tuple:
        items = [canonical_repr(x, depth + 1) for x in v]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(canonical_repr(x, depth + 1) for x in v) + "]"
    if t is dict:
        return "{" + ", ".join(canonical_repr(k, depth + 1) + ": " + canonical_repr(x, depth + 1)
                               for k, x in v.items()) + "}"
    return repr(v)


def encode_value(v, cap):
    """(JSON text, is_repr): the value itself if JSON-safe, else its canonical repr as a JSON string.

    OutputTooLarge if the text exceeds `cap` bytes.
    """
    if type(v) is int and -(1 << 62) < v < (1 << 62):
        return str(v), False
    if type(v) in (str, bytes, bytearray) and len(v) > cap:
        raise OutputTooLarge("returned value is over %d bytes (limit %d)" % (len(v), cap))
    if is_plain(v):
        text, is_repr = _ENCODE(v), False
    else:
        text, is_repr = _ENCODE(canonical_repr(v)), True
    if len(text) > cap:
        raise OutputTooLarge("returned value is %d bytes (limit %d)" % (len(text), cap))
    return text, is_repr


class BoundedOutput:
    """Stands in for sys.stdout/sys.stderr: counts printed characters, fails past the cap."""

    def __init__(self, state):
        self.state = state

    def write(self, s):
        self.state[0] += len(s)
        if self.state[0] > self.state[1]:
            self.state[2] = True
            raise OutputTooLarge("printed output exceeds %d bytes" % self.state[1])
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def close(self):
        pass

    closed = False
    encoding = "utf-8"
    errors = "strict"

    def isatty(self):
        return False

    def writable(self):
        return True

    def fileno(self):
        raise OSError("sandboxed output has no file descriptor")


# ---------------------------------------------------------------- the child (one job, many calls)

def short(text, n=2000):
    text = str(text)
    return text if len(text) <= n else text[:n] + "...[truncated]"


def describe(exc):
    try:
        return type(exc).__name__, short(exc)
    except BaseException:  # a hostile __str__
        return type(exc).__name__, "<unprintable exception>"


def apply_rlimits(limits):
    mb = 1 << 20
    pairs = [
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_AS, int(limits["address_space_mb"]) * mb),
        (resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mb),
        (resource.RLIMIT_NOFILE, int(limits["open_files"])),
        (resource.RLIMIT_NPROC, int(limits["processes"])),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in pairs:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            _, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value <= hard:
                resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else value))


class Channel:
    """Child -> worker results through shared memory, so a call costs no syscall and no wake-up.

    Layout: [0:8] bytes published (int64), [8:16] index of the call running (-1: loading the module),
    [16:24] its start time (time.monotonic, a clock shared by all processes), then rows, one JSON array
    per line. A row is published by writing it first and the byte count after. When the region is full
    the rest goes through the pipe, which otherwise only carries the setup byte and signals exit (EOF).
    """

    def __init__(self, shm, wfd):
        self.shm = shm
        self.wfd = wfd
        self.off = SHM_HEADER.size
        self.overflow = False

    def emit(self, row, next_index=-1, now=0.0):
        """Publish a row, and with it that call `next_index` starts at `now` (one header write)."""
        data = (row if type(row) is str else _ENCODE(row) + "\n").encode("utf-8", "surrogatepass")
        end = self.off + len(data)
        if not self.overflow and end <= len(self.shm):
            self.shm[self.off:end] = data
            self.off = end
            SHM_HEADER.pack_into(self.shm, 0, end, next_index, now)
        else:
            self.overflow = True
            write_all(self.wfd, data)


def run_child(job, start, chan, cfg):
    """Never returns. Runs calls start.. of the job, emitting one frame per call on `chan`."""
    try:
        limits = cfg["limits"]
        uid = cfg.get("uid")
        if uid is not None and os.geteuid() == 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(cfg.get("workdir") or "/tmp")
        apply_rlimits(limits)
        cap = int(limits["max_output_bytes"])
        out_state = [0, cap, False]
        sys.stdout = sys.stderr = BoundedOutput(out_state)
        sys.stdin = None
        if "args_repr" in job:
            import ast
            all_args = [tuple(ast.literal_eval(a)) for a in job["args_repr"]]
            all_kwargs = [ast.literal_eval(k) for k in job["kwargs_repr"]] if job.get("kwargs_repr") else None
        else:
            all_args = job["args"]
            all_kwargs = job.get("kwargs")
    except BaseException as exc:
        write_all(chan.wfd, b"X" + ("%s: %s" % describe(exc)).encode("utf-8", "replace"))
        os._exit(0)
    write_all(chan.wfd, b"S")  # setup done: anything after this may be the program's doing

    glb = {"__name__": "__sandbox__", "__builtins__": __builtins__}
    try:
        code = job.get("code")
        if code is None:
            code = compile(job["src"], "<program>", "exec")
        exec(code, glb)
        fn = glb[job["entry"]]
        if not callable(fn):
            raise TypeError("entry %r is not callable" % job["entry"])
    except BaseException as exc:
        status = MEMORY if isinstance(exc, MemoryError) else TOO_LARGE if out_state[2] else ERROR
        if isinstance(exc, KeyError) and job["entry"] not in glb:
            etype, emsg = "NameError", "entry function %r is not defined" % job["entry"]
        else:
            etype, emsg = describe(exc)
        chan.emit(["E", status, etype, emsg])
        os._exit(0)
    clock = time.monotonic
    t0 = clock()
    chan.emit(["L"], start, t0)
    for i in range(start, len(all_args)):
        out_state[0] = 0
        out_state[2] = False
        try:
            kw = all_kwargs[i] if all_kwargs else None
            result = fn(*all_args[i], **kw) if kw else fn(*all_args[i])
            wall = clock() - t0
            text, is_repr = encode_value(result, cap)
            if out_state[2]:
                raise OutputTooLarge("printed output exceeds %d bytes" % cap)
            row = '["R",%d,"ok",%s,%s,null,null,%r]\n' % (i, text, "true" if is_repr else "false",
                                                             round(wall * 1000.0, 4))
        except BaseException as exc:
            wall = clock() - t0
            if out_state[2] or isinstance(exc, OutputTooLarge):
                status = TOO_LARGE
            else:
                status = MEMORY if isinstance(exc, MemoryError) else ERROR
            etype, emsg = describe(exc)
            if out_state[2]:
                etype, emsg = "OutputTooLarge", "printed output exceeds %d bytes" % cap
            row = ["R", i, status, None, False, etype, emsg, round(wall * 1000.0, 4)]
        t0 = clock()
        chan.emit(row, i + 1, t0)
    os._exit(0)


# ---------------------------------------------------------------- the worker (parent side)

class Worker:
    def __init__(self, cfg, in_fd, out_fd):
        self.cfg = cfg
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.limits = cfg["limits"]
        self.child_frame_limit = int(self.limits["max_output_bytes"]) * 2 + 65536
        self.oom_file = self._find_oom_counter()
        self.oom_seen = self.oom_count()  # OOM kills already accounted for
        self.code_cache = {}  # source -> code object, least recently used first

    # -- host I/O
    def send(self, obj):
        write_all(self.out_fd, encode_frame(obj))

    def serve(self):
        while True:
            job = read_host_frame(self.in_fd)
            if job is None:
                return
            kind = job.get("t")
            if kind == "job":
                try:
                    self.run_job(job)
                except Exception as exc:  # the worker itself must survive anything
                    self.send({"t": "res", "id": job.get("id"), "done": True, "fatal": "%s: %s" % describe(exc),
                               "r": []})
            elif kind == "ping":
                self.send({"t": "pong"})

    # -- one job
    def compile_cached(self, job):
        """Compile in the worker (a forked child pays page faults for it) and remember the result.

        Compiling runs no program code. Very large sources are left to the child, where the time
        limit applies; syntax errors surface there as ERROR results like any other.
        """
        src = job["src"]
        if len(src) > COMPILE_IN_WORKER_MAX:
            return
        code = self.code_cache.pop(src, None)
        if code is None:
            try:
                code = compile(src, "<program>", "exec")
            except BaseException:
                return
        self.code_cache[src] = code
        if len(self.code_cache) > CODE_CACHE_SIZE:
            del self.code_cache[next(iter(self.code_cache))]
        job["code"] = code

    def run_job(self, job):
        self.compile_cached(job)
        n = len(job["args_repr"] if "args_repr" in job else job["args"])
        timeout = float(job["timeout"])
        budget_end = time.monotonic() + float(job["budget"]) if job.get("budget") else None
        i = int(job.get("start", 0))
        pending = []
        self.last_flush = time.monotonic()
        while i < n:
            if budget_end is not None and time.monotonic() >= budget_end:
                pending.extend([k, TIMEOUT, None, False, "JobTimeout", "job time budget exhausted", 0.0]
                               for k in range(i, n))
                break
            i = self.run_child_until_done(job, i, n, timeout, budget_end, pending)
            self.maybe_flush(job, pending, i < n)
        self.send({"t": "res", "id": job["id"], "r": pending, "done": True})

    def maybe_flush(self, job, pending, more):
        """Stream finished results so a lost container loses little; batch them so it costs little."""
        now = time.monotonic()
        if pending and more and now - self.last_flush >= FLUSH_INTERVAL_S:
            self.send({"t": "res", "id": job["id"], "r": list(pending), "done": False})
            del pending[:]
            self.last_flush = now

    def fork_child(self, job, start, shm):
        for attempt in range(4):
            rfd, wfd = os.pipe()
            try:
                pid = os.fork()
            except OSError as exc:
                os.close(rfd)
                os.close(wfd)
                if exc.errno != errno.EAGAIN or attempt == 3:
                    raise
                self.kill_strays()
                time.sleep(0.01 * (attempt + 1))
                continue
            if pid == 0:
                try:
                    os.setpgid(0, 0)
                    os.close(rfd)
                    for fd in {self.in_fd, self.out_fd}:
                        os.close(fd)
                    run_child(job, start, Channel(shm, wfd), self.cfg)
                finally:
                    os._exit(70)
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            os.close(wfd)
            return pid, rfd
        raise OSError("fork failed")

    def run_child_until_done(self, job, i, n, timeout, budget_end, pending):
        """Fork one child for calls i..n-1; return the next index still without a result.

        The worker sleeps until the child exits, the running call's deadline passes, or it is time to
        stream partial results to the host. Call start times reported by the child are only trusted
        within [last progress seen, now], so a program cannot buy itself more time.
        """
        shm = mmap.mmap(-1, SHM_BYTES)
        progress_at = time.monotonic()
        SHM_HEADER.pack_into(shm, 0, SHM_HEADER.size, -1, progress_at)
        try:
            pid, rfd = self.fork_child(job, i, shm)
        except OSError as exc:
            shm.close()
            pending.extend([k, SANDBOX_ERROR, None, False, "ForkError", str(exc), 0.0] for k in range(i, n))
            return n
        poller = select.poll()
        poller.register(rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        pidfd = self.open_pidfd(pid)  # exit is the child's exit, not its pipe closing
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        pipe_buf = bytearray()
        state = {"i": i, "loaded": False, "problem": None, "setup": None}
        shm_off = SHM_HEADER.size
        exited = False
        killed_for_timeout = False
        try:
            while True:
                mark = (state["i"], state["loaded"])
                try:
                    written = SHM_WRITTEN.unpack_from(shm, 0)[0]
                    if not shm_off <= written <= len(shm):
                        if not exited:  # may be a store in flight: look again on the next wake-up
                            written = shm_off
                        else:
                            raise ValueError("bad shared-memory offset")
                    if written > shm_off:
                        rows = parse_rows(shm[shm_off:written])
                        shm_off = written
                        self.apply_frames(rows, state, n, pending)
                    cut = pipe_buf.rfind(b"\n") + 1
                    if cut:
                        rows = parse_rows(bytes(pipe_buf[:cut]))
                        del pipe_buf[:cut]
                        self.apply_frames(rows, state, n, pending)
                    if len(pipe_buf) > self.child_frame_limit:
                        raise ValueError("row too long")
                except (ValueError, UnicodeDecodeError) as exc:
                    state["problem"] = (CRASHED, "ProtocolError", "program corrupted the result channel: %s" % exc)
                if state["problem"] or state["i"] >= n or exited:
                    break
                now = time.monotonic()
                if (state["i"], state["loaded"]) != mark:
                    index, t0 = SHM_CALL.unpack_from(shm, SHM_WRITTEN.size)
                    progress_at = min(max(t0, progress_at), now) if index == state["i"] else now
                limit = progress_at + timeout
                if budget_end is not None:
                    limit = min(limit, budget_end)
                if now >= limit:
                    killed_for_timeout = True
                    break
                wait = limit - now
                if pending or state["i"] > i:
                    wait = min(wait, FLUSH_INTERVAL_S)
                for fd, _ in poller.poll(max(1, int(wait * 1000) + 1)):
                    if fd == pidfd:
                        exited = True
                        data = self.read_available(rfd)
                    else:
                        data = os.read(rfd, 1 << 20)
                        if not data:  # pipe closed; without a pidfd that is our only sign of exit
                            poller.unregister(rfd)
                            exited = exited or pidfd is None
                    if data and state["setup"] is None:
                        state["setup"] = data[:1] == b"S"
                        if not state["setup"]:  # the child could not even be set up: no program code ran
                            message = (data[1:] + self.read_available(rfd))[:4000].decode("utf-8", "replace")
                            pending.extend([k, SANDBOX_ERROR, None, False, "SandboxError",
                                            "job setup failed: " + message, 0.0] for k in range(i, n))
                            return n
                        data = data[1:]
                    pipe_buf += data
                self.maybe_flush(job, pending, True)
        finally:
            status_code = self.reap(pid)
            self.kill_strays()
            if state["setup"] is None:  # nothing read from the pipe yet: did setup finish at all?
                state["setup"] = self.read_available(rfd)[:1] == b"S"
            os.close(rfd)
            if pidfd is not None:
                os.close(pidfd)
            shm.close()
        i = state["i"]
        if i >= n:
            return n
        if not state["setup"] and not killed_for_timeout:
            pending.extend([k, SANDBOX_ERROR, None, False, "SandboxError", "job child died during setup", 0.0]
                           for k in range(i, n))
            return n
        wall = round((time.monotonic() - progress_at) * 1000.0, 4)
        problem = state["problem"] or self.classify_death(status_code, killed_for_timeout, timeout)
        status, etype, emsg = problem
        if not state["loaded"]:
            # the module's top level never finished: every remaining call shares its fate
            emsg = "while loading the program: " + emsg
            pending.extend([k, status, None, False, etype, emsg, wall] for k in range(i, n))
            return n
        pending.append([i, status, None, False, etype, emsg, wall])
        return i + 1

    @staticmethod
    def read_available(fd, limit=1 << 20):
        """Whatever is in the pipe now (a surviving grandchild may keep it open: never block)."""
        chunks, size = [], 0
        os.set_blocking(fd, False)
        try:
            while size < limit:
                data = os.read(fd, limit)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
        except (BlockingIOError, OSError):
            pass
        finally:
            os.set_blocking(fd, True)
        return b"".join(chunks)

    @staticmethod
    def open_pidfd(pid):
        try:
            return os.pidfd_open(pid)
        except (AttributeError, OSError):
            return None

    @staticmethod
    def apply_frames(rows, state, n, pending):
        """Check the child's rows (untrusted: the program shares its process) and keep the results."""
        if not rows:
            return
        if not state["loaded"]:
            first = rows[0]
            if first == ["L"]:
                state["loaded"] = True
                rows = rows[1:]
            elif (type(first) is list and len(first) == 4 and first[0] == "E" and first[1] in PROGRAM_STATUSES
                  and len(rows) == 1):
                pending.extend([k, first[1], None, False, first[2], first[3], 0.0] for k in range(state["i"], n))
                state["i"] = n
                return
            else:
                raise ValueError("expected the program-loaded row, got %.100r" % (first,))
        i = state["i"]
        if not rows:
            return
        if i + len(rows) > n:
            raise ValueError("more results than calls")
        try:
            ok = ([r[0] for r in rows] == ["R"] * len(rows) and {len(r) for r in rows} == {8}
                  and [r[1] for r in rows] == list(range(i, i + len(rows)))
                  and {r[2] for r in rows} <= PROGRAM_STATUS_SET)
        except (TypeError, IndexError, KeyError):
            ok = False
        if not ok:
            raise ValueError("malformed result rows")
        pending.extend(r[1:] for r in rows)
        state["i"] = i + len(rows)

    def classify_death(self, status_code, killed_for_timeout, timeout):
        if killed_for_timeout:
            return TIMEOUT, "Timeout", "call exceeded its %.3g s time limit" % timeout
        if status_code is None:
            return CRASHED, "Crashed", "process vanished"
        if os.WIFSIGNALED(status_code):
            sig = os.WTERMSIG(status_code)
            if sig == signal.SIGXCPU:
                return TIMEOUT, "Timeout", "CPU time limit exceeded"
            if sig == signal.SIGXFSZ:
                return ERROR, "FileSizeLimit", "file size limit exceeded"
            if sig == signal.SIGKILL:  # nobody here sent it: the OOM killer, if its counter moved
                seen, self.oom_seen = self.oom_seen, self.oom_count()
                if self.oom_seen > seen:
                    return MEMORY, "MemoryError", "killed by the out-of-memory killer"
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            return CRASHED, "Crashed", "process killed by signal %s" % name
        code = os.WEXITSTATUS(status_code) if os.WIFEXITED(status_code) else -1
        return CRASHED, "Crashed", "process exited with code %d before returning" % code

    # -- processes
    @staticmethod
    def kill_group(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    def reap(self, pid):
        self.kill_group(pid)
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except ChildProcessError:
            return None

    def kill_strays(self):
        """Kill everything a job left behind (daemons, setsid'd grandchildren, ...).

        The worker is a child subreaper (or PID 1 in a container), so every orphan becomes its child:
        as long as it has children, kill them all and reap.
        """
        me = os.getpid()
        for _ in range(1000):
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                continue
            if me == 1:
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
            for child in self.children_of(me):
                try:
                    os.killpg(child, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.001)

    @staticmethod
    def children_of(ppid):
        found = []
        try:
            names = os.listdir("/proc")
        except OSError:
            return found
        for name in names:
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 1 and int(fields[1]) == ppid:
                found.append(int(name))
        return found

    # -- memory accounting (to tell an OOM kill from any other SIGKILL)
    @staticmethod
    def _find_oom_counter():
        for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
            if os.path.exists(path):
                return path
        return None

    def oom_count(self):
        if not self.oom_file:
            return 0
        try:
            with open(self.oom_file) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0


# ---------------------------------------------------------------- isolation (host subprocess mode)

def isolate_host_process(cfg):
    """Best-effort namespaces for a worker running directly on the host (LocalSandbox).

    Root: a private network namespace (only a down loopback) and a private tmpfs on /tmp.
    Non-root: the same through an unprivileged user namespace when the kernel allows it.
    Returns the list of isolation features obtained (reported to the host, which warns).
    """
    got = []
    lc = libc()
    if not lc or not cfg.get("isolate"):
        return got
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET | CLONE_NEWNS
    if uid != 0:
        flags |= CLONE_NEWUSER
    if lc.unshare(flags) != 0:
        if lc.unshare(CLONE_NEWNET | (CLONE_NEWUSER if uid != 0 else 0)) != 0:
            return got
        flags = CLONE_NEWNET | (CLONE_NEWUSER if uid != 0 else 0)
    got.append("netns")
    if uid != 0:
        try:
            with open("/proc/self/setgroups", "w") as fh:
                fh.write("deny")
            with open("/proc/self/uid_map", "w") as fh:
                fh.write("%d %d 1" % (uid, uid))
            with open("/proc/self/gid_map", "w") as fh:
                fh.write("%d %d 1" % (gid, gid))
            got.append("userns")
        except OSError:
            pass
    if flags & CLONE_NEWNS:
        if lc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0:
            opts = ("size=%dm,mode=1777" % int(cfg["limits"].get("tmpfs_mb", 64))).encode()
            if lc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts) == 0:
                got.append("private_tmp")
    return got


def main():
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    cfg.setdefault("limits", {"cpu_seconds": 10, "address_space_mb": 512, "file_size_mb": 8,
                              "open_files": 64, "processes": 64, "max_output_bytes": 1 << 20})
    if cfg.get("connect"):  # a Unix socket the host listens on (bind-mounted into the container)
        import socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(cfg["connect"])
        in_fd = out_fd = sock.detach()
    else:
        in_fd, out_fd = os.dup(0), os.dup(1)
    for fd in (in_fd, out_fd):
        os.set_inheritable(fd, False)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    isolation = isolate_host_process(cfg)
    workdir = cfg.get("workdir")
    if workdir and not os.path.isdir(workdir):
        os.makedirs(workdir)
        uid = cfg.get("uid")
        if uid is not None and os.geteuid() == 0:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
    if prctl(PR_SET_CHILD_SUBREAPER, 1):
        isolation.append("subreaper")
    if prctl(PR_SET_DUMPABLE, 0):
        isolation.append("nondumpable")
    if prctl(PR_SET_NO_NEW_PRIVS, 1):  # inherited by every child: set once here, not per fork
        isolation.append("no_new_privs")
    worker = Worker(cfg, in_fd, out_fd)
    gc.collect()
    gc.freeze()  # forked children then do not touch (and copy) every page of the worker's heap
    worker.send({"t": "hello", "python_version": platform.python_version(),
                 "implementation": platform.python_implementation(), "pid": os.getpid(),
                 "uid": os.geteuid(), "isolation": isolation})
    try:
        worker.serve()
    except (BrokenPipeError, ConnectionError):
        pass


if __name__ == "__main__":
    main()
