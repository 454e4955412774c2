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
                   "done": bool, "fatal"?: str}   (partial frames are flushed every 50 ms while a job
                   runs; "fatal": the worker could not set the job up and exits, the host retries)
  worker -> host  {"t": "bye", "reason": str}   (after a job: the worker is no longer fit and exits)
  host -> worker  {"t": "ping"}  ->  {"t": "pong"}
Worker <-> child (one child per job, re-forked after a call times out or crashes): the child
writes one byte to a pipe once set up ("S"; "X"+message if setup failed), then one JSON row per
call into shared memory (see Channel); the worker validates every row (shape, types, depth, sizes),
since the program shares the child's process and could write anything there.
Configuration (limits, uid to drop to, isolation wishes, socket, scratch directories) is argv[1] as
JSON.

Independence of jobs: every child starts in a fresh private working directory, with an import path
holding nothing a job can write; after every child the worker kills whatever it left running, empties
every writable place (the scratch directories: /tmp, /dev/shm, ... ) and removes its SysV IPC
objects. A worker that cannot do that, or whose own limits a job changed, retires ("bye").
"""
import _thread
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
POLL_MAX_MS = 1000  # poll() takes a C int of milliseconds: never ask it for more
MAX_TIMEOUT_S = 1e6  # the host clamps far lower; this only keeps the arithmetic finite
COMPILE_IN_WORKER_MAX = 64 << 10
# what compiling one source may add to the worker's address space (a source of 3 kB can need GBs:
# nested try/finally bodies are duplicated exponentially); past it, the child compiles under its limits
COMPILE_IN_WORKER_MEMORY = 64 << 20
RENDER_MEMORY = 8 << 20  # what rendering one error message or opaque value's description may take
RENDER_DEPTH = 1000  # and how deep it may recurse (Python's default limit: safe for the C stack)
CODE_CACHE_SIZE = 8  # each child frees its copy (other jobs are not its to see): keep that cheap
MAX_DEPTH = 100  # nesting of a value that travels
BIG_INT_BITS = 2000  # wider ints travel as hex: decimal conversion is capped (sys.set_int_max_str_digits)
MAX_ERROR_TYPE = 200
MAX_ERROR_MESSAGE = 2000
CPU_REFRESH_S = 0.5
CPU_WATCH_S = 0.25  # how often the worker looks at a call's CPU time, where the call may outlast it
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Imported once in the worker so every forked child has them for free (and a child that dropped
# to an unprivileged uid can use them even where the interpreter's files are not readable to it).
PRELOAD = ("ast", "math", "itertools", "functools", "collections", "re", "string", "operator", "heapq",
           "bisect", "json", "copy")

OK, ERROR, TIMEOUT, MEMORY, TOO_LARGE, CRASHED, SANDBOX_ERROR = (
    "ok", "error", "timeout", "memory", "output_too_large", "crashed", "sandbox_error")
PROGRAM_STATUSES = (OK, ERROR, TIMEOUT, MEMORY, TOO_LARGE, CRASHED)
# what a child's rows may say: a timeout or a crash is only ever the worker's own finding (a row
# claiming one is a program forging its status, and corrupts the channel)
CHILD_STATUS_SET = frozenset((OK, ERROR, MEMORY, TOO_LARGE))
WATCHED_RLIMITS = tuple(getattr(resource, name) for name in (
    "RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_DATA", "RLIMIT_STACK",
    "RLIMIT_CORE", "RLIMIT_MEMLOCK", "RLIMIT_NICE", "RLIMIT_SIGPENDING") if hasattr(resource, name))

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 1 << 18
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added in Linux 5.12)
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
IPC_RMID, MSG_INFO, SHM_INFO, SEM_INFO = 0, 12, 14, 19
# seccomp, per machine: audit arch, prlimit64, refused (add_key, request_key, keyctl, bpf,
# perf_event_open, userfaultfd, io_uring_setup), x32 bit or None, unshare, clone, clone3, socket, socketpair
SECCOMP_ARCHES = {"x86_64": (0xC000003E, 302, (248, 249, 250, 321, 298, 323, 425), 0x40000000, 272, 56, 435, 41, 53),
                  "aarch64": (0xC00000B7, 261, (217, 218, 219, 280, 241, 282, 425), None, 97, 220, 435, 198, 199)}
AF_UNIX, SOCK_DGRAM = 1, 2

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine())  # ioprio_get(IOPRIO_WHO_PROCESS=1, 0)

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


class UnsupportedValue(Exception):
    """The call returned, but its value cannot travel (reported as an ERROR of this type)."""


def is_plain(v, depth=0):
    """True if `v` survives a JSON round trip unchanged on any host (so it can travel as JSON)."""
    if depth > MAX_DEPTH:
        return False
    t = type(v)
    if t is int:
        return v.bit_length() <= BIG_INT_BITS
    if v is None or t is bool or t is str:
        return True
    if t is float:
        return math.isfinite(v)
    if t is list:
        return all(is_plain(x, depth + 1) for x in v)
    if t is dict:
        return all(type(k) is str and is_plain(x, depth + 1) for k, x in v.items())
    return False


def _float_text(v):
    if math.isfinite(v):
        return repr(v)
    return "float('nan')" if v != v else "float('inf')" if v > 0 else "float('-inf')"


def canonical_repr(v, depth=0, room=None):
    """A Python expression for `v` that `literal_value` turns back into an equal value of the same type.

    Set elements are sorted (equal values always print the same); floats that are no literal become
    float('nan') / float('inf'), wide ints int('0x...', 16), complex numbers complex(re, im). Anything
    else (objects, functions, ranges, subclasses of the builtin types) becomes "<opaque TYPE: repr>",
    which is no expression at all, so it can never be mistaken for a value. `room` ([characters]):
    OutputTooLarge once those descriptions alone pass it (each is rendered under a guard of its own,
    so there is no point describing more of them than the output cap can hold).
    """
    t = type(v)
    if v is None or t is bool or t is str or t is bytes:
        return repr(v)
    if t is int:
        return repr(v) if v.bit_length() <= BIG_INT_BITS else "int(%r, 16)" % hex(v)
    if t is float:
        return _float_text(v)
    if t is complex:
        return "complex(%s, %s)" % (_float_text(v.real), _float_text(v.imag))
    if t is bytearray:
        return "bytearray(%r)" % bytes(v)
    if t in (tuple, list, dict, set, frozenset):
        if depth >= MAX_DEPTH:
            raise ValueError("value nested more than %d deep" % MAX_DEPTH)
        if t is tuple:
            items = [canonical_repr(x, depth + 1, room) for x in v]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if t is list:
            return "[" + ", ".join(canonical_repr(x, depth + 1, room) for x in v) + "]"
        if t is dict:
            return "{" + ", ".join(canonical_repr(k, depth + 1, room) + ": " + canonical_repr(x, depth + 1, room)
                                   for k, x in v.items()) + "}"
        items = sorted(canonical_repr(x, depth + 1, room) for x in v)
        if not items:
            return "set()" if t is set else "frozenset()"
        body = "{" + ", ".join(items) + "}"
        return body if t is set else "frozenset(" + body + ")"
    text = "<opaque %s: %s>" % (short(t.__name__, MAX_ERROR_TYPE),
                                short(bounded_text(lambda: repr(v), "<too large to render>"), 1000))
    if room is not None:
        room[0] -= len(text)
        if room[0] < 0:
            raise OutputTooLarge("returned value's descriptions alone are over the output limit")
    return text


_CONTAINER_TYPES = (list, tuple, set, frozenset, dict)
_SIZED_TYPES = (str, bytes, bytearray)


def scan_value(v, cap):
    """(over, plain): `over` if `v` is certain to encode (as JSON or canonical repr) to more than
    `cap` characters; else `plain` is is_plain(v), found in the same walk.

    Why: a value can be small in memory and huge encoded (one list or string referenced a million
    times, [v, v] nested 90 deep); encoding it first cost the call its time or memory limit. This
    walk charges a lower bound of each part's encoded length and stops as soon as the sum passes
    `cap`, so it takes at most about `cap` steps (and describes at most cap / 12 objects with no
    literal form, each rendered under its own guard). Parts nested deeper than MAX_DEPTH are not
    walked (not plain; the encoder refuses them after MAX_DEPTH steps down).
    """
    left = cap
    plain = True
    stack = []
    items = iter((v,))
    while True:
        for x in items:
            t = type(x)
            if t is str:
                left -= len(x) + 2
            elif t is int:
                bits = x.bit_length()
                left -= 1 + (bits >> 2)  # a hex digit per 4 bits at least
                if bits > BIG_INT_BITS:
                    plain = False
            elif t in _CONTAINER_TYPES:
                left -= len(x) + 2
                if left < 0:
                    return True, False
                if t is not list and t is not dict:
                    plain = False
                if len(stack) < MAX_DEPTH:
                    stack.append(items)
                    if t is dict:
                        if plain:
                            for k in x:
                                if type(k) is not str:
                                    plain = False
                                    break
                        items = _flat_items(x)
                    else:
                        items = iter(x)
                    break
                if x:
                    plain = False
            elif t is bytes or t is bytearray:
                left -= len(x) + 3
                plain = False
            elif x is None or t is bool or t is float or t is complex:
                left -= 1
                if t is complex or (t is float and plain and not math.isfinite(x)):
                    plain = False
            else:  # no literal form: described as "<opaque TYPE: REPR>", 12 characters at least
                left -= 12
                plain = False
            if left < 0:
                return True, False
        else:
            if not stack:
                return False, plain
            items = stack.pop()


def _flat_items(d):
    for k, x in d.items():
        yield k
        yield x


def encode_value(v, cap):
    """(JSON text, is_repr): the value itself if JSON-safe, else its canonical repr as a JSON string.

    OutputTooLarge if the text exceeds `cap` bytes (found before encoding where it is far over).
    """
    if type(v) is int and -(1 << 62) < v < (1 << 62):
        return str(v), False
    if type(v) in _SIZED_TYPES and len(v) > cap:
        raise OutputTooLarge("returned value is over %d bytes (limit %d)" % (len(v), cap))
    if type(v) in _CONTAINER_TYPES:
        over, plain = scan_value(v, cap)
        if over:
            raise OutputTooLarge("returned value encodes to over %d bytes (limit %d)" % (cap, cap))
    else:  # a scalar: its encoding is bounded by its size (checked above), except an int's decimal digits
        plain = is_plain(v)
    if plain:
        text, is_repr = _ENCODE(v), False
    else:
        text, is_repr = _ENCODE(canonical_repr(v, room=[cap])), True
    if len(text) > cap:
        raise OutputTooLarge("returned value is %d bytes (limit %d)" % (len(text), cap))
    return text, is_repr


_LITERAL_TYPES = (int, float, complex, str, bytes, bool, type(None))


def literal_value(text):
    """The value a canonical repr (see canonical_repr) stands for; ValueError if it is not one.

    Like ast.literal_eval plus the few calls canonical_repr writes (set(), frozenset({...}),
    float('nan'), int('0x...', 16), complex(re, im), bytearray(b'...')); nothing else is evaluated.
    """
    import ast

    try:
        return _literal(ast.parse(text, mode="eval").body, 0, ast)
    except (SyntaxError, TypeError, RecursionError, MemoryError) as exc:
        raise ValueError("not a literal: %s" % short(exc, 200)) from None


def _literal(node, depth, ast):
    if depth > 2 * MAX_DEPTH:
        raise ValueError("nested too deeply")
    t = type(node)
    if t is ast.Constant:
        if type(node.value) in _LITERAL_TYPES:
            return node.value
    elif t is ast.Tuple:
        return tuple(_literal(e, depth + 1, ast) for e in node.elts)
    elif t is ast.List:
        return [_literal(e, depth + 1, ast) for e in node.elts]
    elif t is ast.Set:
        return set(_spread_hashes([_literal(e, depth + 1, ast) for e in node.elts]))
    elif t is ast.Dict:
        if None not in node.keys:
            keys = _spread_hashes([_literal(k, depth + 1, ast) for k in node.keys])
            return dict(zip(keys, [_literal(v, depth + 1, ast) for v in node.values]))
    elif t is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        v = _literal(node.operand, depth + 1, ast)
        if type(v) in (int, float, complex):
            return -v if type(node.op) is ast.USub else v
    elif t is ast.BinOp and type(node.op) in (ast.Add, ast.Sub):  # (1+2j), as repr() writes complex
        left, right = _literal(node.left, depth + 1, ast), _literal(node.right, depth + 1, ast)
        if type(left) in (int, float) and type(right) is complex:
            return left + right if type(node.op) is ast.Add else left - right
    elif t is ast.Call and type(node.func) is ast.Name and not node.keywords:
        name = node.func.id
        args = [_literal(a, depth + 1, ast) for a in node.args]
        kinds = tuple(type(a) for a in args)
        if name == "set" and not args:
            return set()
        if name == "frozenset" and kinds in ((), (set,)):
            return frozenset(*args)
        if name == "float" and kinds == (str,) and args[0] in ("nan", "inf", "-inf"):
            return float(args[0])
        if name == "int" and kinds == (str, int) and args[1] == 16:
            return int(args[0], 16)
        if name == "complex" and len(args) == 2 and set(kinds) <= {int, float}:
            return complex(*args)
        if name == "bytearray" and kinds == (bytes,):
            return bytearray(args[0])
    raise ValueError("not a literal")


MAX_SAME_HASH = 32  # distinct values with one hash that a set or dict is rebuilt with


def _spread_hashes(items):
    """`items`, unless more than MAX_SAME_HASH of them share a hash (ValueError): a set or dict of
    values that all hash alike (ints that differ by multiples of 2**61 - 1) takes quadratic time to
    build, and a literal of 40,000 of them (under the value cap, written by a program in a
    millisecond) cost the host that reads it back ~8 s of CPU. Honest values barely ever share one."""
    if len(items) > MAX_SAME_HASH:
        seen = {}
        for x in items:
            h = hash(x)
            n = seen.get(h, 0) + 1
            if n > MAX_SAME_HASH:
                raise ValueError("more than %d elements with one hash" % MAX_SAME_HASH)
            seen[h] = n
    return items


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

def short(text, n=MAX_ERROR_MESSAGE):
    text = str(text)
    return text if len(text) <= n else text[:n] + "...[truncated]"


def describe(exc):
    """(error type, error message) of an exception: bounded strings, whatever the program made of it."""
    try:  # a metaclass may make a class's __name__ anything, or raise
        name = type(exc).__name__
        name = name[:MAX_ERROR_TYPE] if type(name) is str else "Exception"
    except BaseException:
        name = "Exception"
    try:
        if plain_message(exc):  # the usual exception: cheap to render as it is
            return name, short(exc)
        return name, short(bounded_text(lambda: str(exc), "<exception message too large to render>"))
    except BaseException:  # a hostile __str__
        return name, "<unprintable exception>"


_PLAIN_STR = (BaseException.__str__, KeyError.__str__)
_SCALAR_TYPES = (str, int, float, bool, type(None))


def plain_message(exc):
    """Is str(exc) the builtin rendering of scalar arguments only (cheap, whatever their values)?"""
    args = exc.args
    return type(exc).__str__ in _PLAIN_STR and type(args) is tuple and all(type(a) in _SCALAR_TYPES for a in args)


def bounded_text(render, too_large):
    """render() (an exception's str, an opaque value's repr) with at most RENDER_MEMORY of new address
    space and Python's default recursion limit, else `too_large`. Why: the builtin types render a
    value referenced a million times, or [v, v] nested 60 deep, as gigabytes of text, so a KeyError
    raised in a microsecond took the call's whole time limit to describe; text costs memory as it
    grows, so the cap ends it within milliseconds (we keep only the first MAX_ERROR_MESSAGE characters
    anyway). And a value nested 200,000 deep, under a recursion limit the program lifted, overflowed
    the C stack while rendered (a crash)."""
    depth = sys.getrecursionlimit()
    before = address_space()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = None if before is None else before + RENDER_MEMORY
    if cap is not None and (soft == resource.RLIM_INFINITY or cap < soft):
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    else:
        soft = None
    try:
        sys.setrecursionlimit(min(depth, RENDER_DEPTH))
        text = render()
        return text if type(text) is str else str(text)
    except (MemoryError, RecursionError):
        return too_large
    finally:
        try:
            sys.setrecursionlimit(depth)
            if soft is not None:
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        except (ValueError, OSError, RecursionError):  # the program's own __str__ lowered the hard limit
            pass


def apply_rlimits(limits, grown=0):
    """Every limit but CPU time, which CpuLimit sets per call. The address space counts what the child
    inherits of its worker, so it gets `grown` more: what the worker's own address space has grown by
    since it started (see Worker.growth), which the job should not pay for."""
    mb = 1 << 20
    pairs = [
        (resource.RLIMIT_AS, int(limits["address_space_mb"]) * mb + int(grown)),
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


def drop_capabilities():
    """Empty the effective, permitted and inheritable capability sets (no_new_privs keeps them empty):
    a program must not undo the worker's mounts or namespaces. A no-op for unprivileged processes."""
    lc = libc()
    if not lc:
        return
    header = ctypes.create_string_buffer(struct.pack("@Ii", 0x20080522, 0))  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(24)
    if lc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "cannot drop capabilities")


def has_capabilities():
    """Does this process hold any effective or permitted capability (then children must drop them)?"""
    try:
        with open("/proc/self/status") as fh:
            caps = [line.split()[1] for line in fh if line.startswith(("CapEff:", "CapPrm:"))]
        return any(int(c, 16) for c in caps)
    except (OSError, ValueError, IndexError):
        return True


class CpuLimit:
    """RLIMIT_CPU per call, not per child: each call may use `seconds` of CPU time, then gets SIGXCPU.

    RLIMIT_CPU counts the whole process, so the soft limit is moved up as calls use CPU: to (CPU used
    so far, rounded down) + seconds + 2 before a call, once CPU_REFRESH_S of wall time passed since the
    last move (a single-threaded process cannot use more CPU than wall time) or whenever other threads
    run. A call thus gets at least `seconds` and at most `seconds` + 3 of CPU time. The hard limit stays above the
    soft one, so the kernel signals SIGXCPU (reported as a timeout) instead of SIGKILL; a program that
    ignores SIGXCPU still meets the wall-clock timeout.
    """

    def __init__(self, seconds, now):
        """The first soft limit (seconds + 2) is the worker's own, inherited across fork with a CPU
        counter that starts at zero: nothing to set until CPU_REFRESH_S has passed."""
        self.seconds = seconds
        self.at = now

    @staticmethod
    def preset(seconds):
        """In the worker, once: soft limit seconds + 2 for every child to inherit. The worker itself
        ignores SIGXCPU (children restore it), so going past it costs the worker nothing."""
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = seconds + 2 if hard == resource.RLIM_INFINITY else min(seconds + 2, max(hard - 1, 1))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def refresh(self, now):
        self.at = now
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(time.process_time()) + self.seconds + 2
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, max(hard - 1, 1))
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        except (ValueError, OSError):
            pass


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


def run_child(job, start, chan, cfg, jobdir, worker_pid):
    """Never returns. Runs calls start.. of the job, emitting one frame per call on `chan`."""
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the worker ignores both; programs see
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # Python's SIGINT and the default SIGXCPU
        limits = cfg["limits"]
        uid = cfg.get("uid")
        if uid is not None and os.geteuid() == 0:
            # the job's processes, not the worker, are what the OOM killer takes: memory a job holds
            # outside any process's RSS (memfd, tmpfs, socket buffers) left the worker the largest
            # process of its cgroup. Written as root, 1000 is also their floor: no unprivileged
            # process can lower its own value below it
            try:  # (raw descriptors: a file object here would cost the fork copy-on-write faults)
                fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
                try:
                    os.write(fd, b"1000")
                finally:
                    os.close(fd)
            except OSError:
                pass
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        elif cfg.get("has_caps"):  # e.g. a worker in a user namespace of its own holds all of them there
            drop_capabilities()
        # die with the worker (set after setuid, which clears it), not linger as an orphan; a
        # container's PID 1 takes its whole PID namespace with it anyway
        if worker_pid != 1 and prctl(PR_SET_PDEATHSIG, signal.SIGKILL) and os.getppid() != worker_pid:
            os._exit(0)
        os.chdir(jobdir)
        apply_rlimits(limits, job.get("grown", 0))
        cap = int(limits["max_output_bytes"])
        out_state = [0, cap, False]
        sys.stdout = sys.stderr = BoundedOutput(out_state)
        sys.stdin = None
        clock = time.monotonic
        cpu = CpuLimit(int(limits["cpu_seconds"]), clock())
    except BaseException as exc:
        write_all(chan.wfd, b"X" + ("%s: %s" % describe(exc)).encode("utf-8", "replace"))
        os._exit(0)
    write_all(chan.wfd, b"S")  # setup done: anything after this may be the program's doing

    try:  # after "S": arguments that do not fit in the job's memory are the job's MEMORY, not a setup failure
        if "args_repr" in job:
            all_args = [tuple(literal_value(a)) for a in job["args_repr"]]
            all_kwargs = [literal_value(k) for k in job["kwargs_repr"]] if job.get("kwargs_repr") else None
        else:
            all_args = job["args"]
            all_kwargs = job.get("kwargs")
    except BaseException as exc:
        memory = issubclass(type(exc), MemoryError) or issubclass(type(exc.__context__), MemoryError)
        chan.emit(["E", MEMORY if memory else ERROR, "MemoryError" if memory else describe(exc)[0],
                   "the call arguments cannot be unpacked within the memory limit" if memory else describe(exc)[1]])
        os._exit(0)
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
        # by the exception's real class: isinstance() asks its __class__, which the program may make raise
        status = MEMORY if issubclass(type(exc), MemoryError) else TOO_LARGE if out_state[2] else ERROR
        try:
            missing = issubclass(type(exc), KeyError) and job["entry"] not in glb
        except BaseException:  # a global whose __eq__ raises
            missing = False
        if missing:
            etype, emsg = "NameError", "entry function %r is not defined" % job["entry"]
        else:
            etype, emsg = describe(exc)
        chan.emit(["E", status, etype, emsg])
        os._exit(0)
    threads = _thread._count
    t0 = clock()
    chan.emit(["L"], start, t0)
    for i in range(start, len(all_args)):
        out_state[0] = 0
        out_state[2] = False
        if t0 - cpu.at >= CPU_REFRESH_S or threads():
            cpu.refresh(t0)
        try:
            kw = all_kwargs[i] if all_kwargs else None
            result = fn(*all_args[i], **kw) if kw else fn(*all_args[i])
            wall = clock() - t0
            try:
                text, is_repr = encode_value(result, cap)
            except (ValueError, RecursionError) as exc:  # nested too deeply, a self-containing list, ...
                raise UnsupportedValue("the returned value cannot be sent: %s" % describe(exc)[1]) from None
            if out_state[2]:
                raise OutputTooLarge("printed output exceeds %d bytes" % cap)
            row = '["R",%d,"ok",%s,%s,null,null,%r]\n' % (i, text, "true" if is_repr else "false",
                                                             round(wall * 1000.0, 4))
        except BaseException as exc:
            wall = clock() - t0
            if out_state[2] or issubclass(type(exc), OutputTooLarge):
                status = TOO_LARGE
            else:
                status = MEMORY if issubclass(type(exc), MemoryError) else ERROR
            etype, emsg = describe(exc)
            if out_state[2]:
                etype, emsg = "OutputTooLarge", "printed output exceeds %d bytes" % cap
            row = ["R", i, status, None, False, etype, emsg, round(wall * 1000.0, 4)]
        t0 = clock()
        chan.emit(row, i + 1, t0)
    os._exit(0)


# ---------------------------------------------------------------- the worker (parent side)

def cpu_time(pid):
    """CPU seconds process `pid` has used (all its threads), from /proc; 0.0 if unreadable."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rfind(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


_statm = [None, None]  # (pid, descriptor) of this process's /proc/self/statm, kept open


def address_space():
    """This process's virtual memory size in bytes (what RLIMIT_AS counts). Read once per job and
    before every guarded rendering (bounded_text), so through a descriptor kept open per process
    (2 us, against 7 to open one each time)."""
    pid = os.getpid()
    for _ in range(2):
        if _statm[0] != pid:  # first use in this process (a forked child closed its parent's)
            try:
                _statm[1] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            _statm[0] = pid
        try:
            return int(os.pread(_statm[1], 256, 0).split()[0]) * mmap.PAGESIZE
        except (OSError, ValueError, IndexError):  # closed or replaced by the program: open it anew
            _statm[0] = None
    return None


class ChannelError(ValueError):
    """The child wrote something into its result channel that is not a valid row."""


class SetupFailed(RuntimeError):
    """The worker could not set up a job (no program code ran): it must be replaced, not reused."""


def check_row(r, i, cap):
    """A validated copy of result row `r` for call `i` ([index, status, value, is_repr, etype, emsg,
    wall_ms]); ChannelError if it is not one. Error fields are bounded strings."""
    if (type(r) is list and len(r) == 8 and r[1] == i and r[0] == "R" and r[2] == "ok" and r[4] is False
            and type(r[3]) is int and -(1 << 62) < r[3] < (1 << 62) and r[5] is None and r[6] is None
            and type(r[7]) is float and 0.0 <= r[7] < 1e12 and type(r[1]) is int):
        return r[1:]  # the common row (a small int returned), checked in one go
    if type(r) is not list or len(r) != 8 or r[0] != "R" or type(r[1]) is not int or r[1] != i:
        raise ChannelError("malformed result row for call %d" % i)
    _, _, status, value, is_repr, etype, emsg, wall = r
    if type(status) is not str or status not in CHILD_STATUS_SET:
        raise ChannelError("bad status in the row of call %d" % i)
    if is_repr is True:
        if type(value) is not str or len(value) > cap:
            raise ChannelError("bad repr value in the row of call %d" % i)
    elif is_repr is not False or not (type(value) is int and -(1 << 62) < value < (1 << 62) or is_plain(value)):
        raise ChannelError("bad value in the row of call %d" % i)
    if etype is not None:
        if type(etype) is not str:
            raise ChannelError("bad error type in the row of call %d" % i)
        etype = etype[:MAX_ERROR_TYPE]
    if emsg is not None:
        if type(emsg) is not str:
            raise ChannelError("bad error message in the row of call %d" % i)
        emsg = short(emsg)
    if type(wall) not in (int, float) or not 0 <= wall < 1e12:
        raise ChannelError("bad wall time in the row of call %d" % i)
    return [i, status, value, is_repr, etype, emsg, wall]


def wipe_contents(path):
    """Remove everything inside directory `path` (not `path` itself); None, or what went wrong.

    Iterative, with two descriptors open at most, so no tree a job builds (thousands of levels deep,
    directories chmod 0, ...) can exhaust the stack or the descriptor table: each subdirectory met is
    first moved up to the top level under a fresh name, then emptied and removed.
    """
    try:
        if not os.listdir(path):  # the usual case, at the cost of one call
            return None
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return None if exc.errno == errno.ENOENT else "cannot open %s: %s" % (path, exc)
    try:
        todo = [name for name in os.listdir(top) if not _unlink(top, name)]
        serial = 0
        while todo:
            name = todo.pop()
            try:
                os.chmod(name, 0o700, dir_fd=top)
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except FileNotFoundError:
                continue
            try:
                for sub in os.listdir(fd):
                    if _unlink(fd, sub):
                        continue
                    os.chmod(sub, 0o700, dir_fd=fd)  # moving a directory rewrites its ".."
                    for _ in range(10000):
                        serial += 1
                        moved = ".cfcode-wipe-%d" % serial
                        try:
                            os.rename(sub, moved, src_dir_fd=fd, dst_dir_fd=top)
                            break
                        except OSError as exc:
                            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                                raise
                    else:
                        raise OSError("no free name to move %r to" % sub)
                    todo.append(moved)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=top)
        return None
    except OSError as exc:
        return "cannot empty %s: %s" % (path, exc)
    finally:
        os.close(top)


def _unlink(dir_fd, name):
    """True if `name` is gone (removed or never there); False if it is a directory."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except IsADirectoryError:
        return False
    except FileNotFoundError:
        pass
    except PermissionError:  # some filesystems answer EPERM for unlink() of a directory
        import stat

        if not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise
        return False
    return True


class Worker:
    def __init__(self, cfg, in_fd, out_fd):
        self.cfg = cfg
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.limits = cfg["limits"]
        self.value_cap = int(self.limits["max_output_bytes"])
        self.cpu_seconds = float(self.limits["cpu_seconds"])
        self.child_frame_limit = self.value_cap * 2 + 65536
        self.oom_file = cfg.get("oom_file") or self._find_oom_counter()  # the worker's own cgroup
        self.oom_seen = self.oom_count()  # OOM kills already accounted for
        self.oom_at_start = self.oom_seen
        self.code_cache = {}  # source -> code object, least recently used first
        # the child's working directory: the root of a scratch tmpfs it does not own (nothing to create:
        # emptied after every child), else a fresh directory made for every child inside `workdir`
        self.jobdir = cfg.get("jobdir") or os.path.join(cfg["workdir"], "job")
        self.jobdir_mode = None if self.jobdir != cfg["workdir"] else os.stat(self.jobdir).st_mode & 0o7777
        self.scratch = list(cfg.get("scratch") or [cfg["workdir"]])
        self.ipc_private = bool(cfg.get("ipc_private"))
        self.ipc_buf = ctypes.create_string_buffer(256) if libc() else None
        self.rlimits = None if "seccomp" in cfg.get("isolation", ()) else self.own_rlimits()
        self.scheduling = self.own_scheduling()
        self.max_fd = max(1024, min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 20))
        self.unfit = None  # why this worker must retire after the current job
        self.pid = os.getpid()
        self.size_at_start = None  # the worker's address space when it starts serving (see growth)

    # -- host I/O
    def send(self, obj):
        write_all(self.out_fd, encode_frame(obj))

    def serve(self):
        self.size_at_start = address_space()
        while self.unfit is None:
            job = read_host_frame(self.in_fd)
            if job is None:
                return
            kind = job.get("t")
            if kind == "job":
                try:
                    self.run_job(job)
                except Exception as exc:  # a bug of ours: report it, then make way for a fresh worker
                    self.unfit = "%s: %s" % describe(exc)
                    self.send({"t": "res", "id": job.get("id"), "done": True, "fatal": self.unfit, "r": []})
                    return
                if self.unfit is None:
                    self.check_fitness()
                if self.unfit is not None:  # retire between jobs: what the host queued here is resent
                    self.send({"t": "bye", "reason": self.unfit})
            elif kind == "ping":
                self.send({"t": "pong"})

    def check_fitness(self):
        """After a job: a worker whose own limits changed (prlimit from a child) must not serve again.
        Where the seccomp filter is in place, no child can call prlimit on it: nothing to check.
        Nor one whose scheduling changed: where a job runs under the worker's uid (containers) it may
        raise the worker's nice value, pin it to one CPU, make it SCHED_IDLE or give it the idle I/O
        class, and every later child would inherit that (no unprivileged worker can undo a higher nice
        value)."""
        if self.rlimits is not None and self.own_rlimits() != self.rlimits:
            self.unfit = "the worker's resource limits were changed during a job"
        elif self.oom_file and self.oom_count() != self.oom_at_start:
            # an OOM kill it survived (a grandchild's, say): retire, so that the host may take an OOM
            # kill seen in this worker's cgroup when it dies for the doing of the job running then
            self.unfit = "a job's process was killed by the out-of-memory killer"
        elif self.own_scheduling() != self.scheduling:
            self.unfit = "the worker's scheduling (nice value, CPU affinity, policy or I/O priority) was changed during a job"

    @staticmethod
    def own_rlimits():
        return [resource.getrlimit(r) for r in WATCHED_RLIMITS]

    @staticmethod
    def own_scheduling():
        lc = libc()
        try:
            return (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0), os.sched_getscheduler(0),
                    lc.syscall(IOPRIO_GET, 1, 0) if lc and IOPRIO_GET else None)
        except (AttributeError, OSError):
            return None

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
            code = self.compile_bounded(src)
            if code is None:
                return
        self.code_cache[src] = code
        if len(self.code_cache) > CODE_CACHE_SIZE:
            del self.code_cache[next(iter(self.code_cache))]
        job["code"] = code

    def compile_bounded(self, src):
        """The code of `src`, or None (a syntax error, or too costly to compile here: the child will
        compile it under its own limits and timeout and report that honestly). The worker runs under no
        limit of a job's: its address space may grow by COMPILE_IN_WORKER_MEMORY at most while it
        compiles, and a compile that left it much larger retires it after this job (every child
        inherits the worker's size as part of its own address-space limit)."""
        before = address_space()
        if before is None:
            return None
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = before + COMPILE_IN_WORKER_MEMORY
        try:
            resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        except (ValueError, OSError):
            return None
        try:
            code = compile(src, "<program>", "exec")
        except BaseException:
            code = None
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        grown = (address_space() or before) - before
        if grown > COMPILE_IN_WORKER_MEMORY // 2 and self.unfit is None:
            self.unfit = "compiling a job's program left the worker %d MiB larger" % (grown >> 20)
        return code

    def growth(self):
        """Bytes the worker's address space has grown by since it started serving. It parses every
        result row: jobs returning megabytes per call leave its heap tens of MB larger (freed, not
        given back), and each child inherits that as part of its address-space limit, so every later
        job could allocate that much less. Children get it added to their limit instead (the
        container's or cgroup's memory limit still bounds what all of them really use)."""
        now = address_space()
        return max(0, now - self.size_at_start) if now is not None and self.size_at_start is not None else 0

    def run_job(self, job):
        self.compile_cached(job)
        job["grown"] = self.growth()
        n = len(job["args_repr"] if "args_repr" in job else job["args"])
        timeout = min(float(job["timeout"]), MAX_TIMEOUT_S)
        budget_end = time.monotonic() + min(float(job["budget"]), MAX_TIMEOUT_S) if job.get("budget") else None
        i = int(job.get("start", 0))
        pending = []
        self.last_flush = time.monotonic()
        try:
            while i < n:
                if budget_end is not None and time.monotonic() >= budget_end:
                    pending.extend([k, TIMEOUT, None, False, "JobTimeout", "job time budget exhausted", 0.0]
                                   for k in range(i, n))
                    break
                i = self.run_child_until_done(job, i, n, timeout, budget_end, pending)
                self.maybe_flush(job, pending, i < n)
        except SetupFailed as exc:
            self.unfit = "job setup failed: %s" % exc
            self.send({"t": "res", "id": job["id"], "r": pending, "done": True, "fatal": self.unfit})
            return
        self.send({"t": "res", "id": job["id"], "r": pending, "done": True})

    def maybe_flush(self, job, pending, more):
        """Stream finished results so a lost container loses little; batch them so it costs little."""
        now = time.monotonic()
        if pending and more and now - self.last_flush >= FLUSH_INTERVAL_S:
            self.send({"t": "res", "id": job["id"], "r": list(pending), "done": False})
            del pending[:]
            self.last_flush = now

    def make_jobdir(self):
        """A fresh, empty working directory for the next child, owned by the uid it runs as."""
        if self.jobdir_mode is not None:  # a scratch root: emptied already; its mode is checked there
            return
        try:
            os.mkdir(self.jobdir, 0o700)
        except FileExistsError:  # left over: clean up once more, then it must work
            self.clean_up()
            try:
                os.mkdir(self.jobdir, 0o700)
            except OSError as exc:
                raise SetupFailed("cannot create the working directory: %s" % exc) from None
        except OSError as exc:
            raise SetupFailed("cannot create the working directory: %s" % exc) from None
        uid = self.cfg.get("uid")
        if uid is not None and os.geteuid() == 0:
            os.chown(self.jobdir, uid, uid)

    def clean_up(self):
        """After a child: nothing it started keeps running, nothing it wrote or created stays."""
        self.kill_strays()
        problems = [p for p in (wipe_contents(d) for d in self.scratch) if p]
        if self.jobdir_mode is not None:
            try:  # where a job owns the tmpfs root (user namespace), it may have chmod'ed it
                if os.stat(self.jobdir).st_mode & 0o7777 != self.jobdir_mode:
                    os.chmod(self.jobdir, self.jobdir_mode)
            except OSError as exc:
                problems.append("cannot restore the working directory: %s" % exc)
        problem = self.remove_ipc_objects()
        if problem:
            problems.append(problem)
        if problems and self.unfit is None:
            self.unfit = "cannot clean up after a job: " + "; ".join(problems)

    def remove_ipc_objects(self):
        """SysV shared memory, message queues and semaphores live in the IPC namespace, not in a
        process: remove every one (the namespace is this worker's own)."""
        lc = libc()
        if not self.ipc_private or not lc:
            return None
        buf = self.ipc_buf
        used = [lc.shmctl(0, SHM_INFO, buf) >= 0 and struct.unpack_from("i", buf, 0)[0],
                lc.msgctl(0, MSG_INFO, buf) >= 0 and struct.unpack_from("i", buf, 0)[0],
                lc.semctl(0, 0, SEM_INFO, buf) >= 0 and struct.unpack_from("i", buf, 28)[0]]
        if not any(used):
            return None
        removers = {"shm": lambda k: lc.shmctl(k, IPC_RMID, None), "msg": lambda k: lc.msgctl(k, IPC_RMID, None),
                    "sem": lambda k: lc.semctl(k, 0, IPC_RMID)}
        left = 0
        for kind, remove in removers.items():
            try:
                with open("/proc/sysvipc/" + kind) as fh:
                    rows = fh.read().splitlines()[1:]
            except OSError as exc:
                return "cannot list SysV IPC objects: %s" % exc
            for row in rows:
                fields = row.split()
                if len(fields) > 1 and remove(int(fields[1])) != 0:
                    left += 1
        return "%d SysV IPC object(s) could not be removed" % left if left else None

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
                    # nothing of the worker's but the result pipe: not its socket, not its descriptors
                    os.closerange(3, wfd)
                    os.closerange(wfd + 1, self.max_fd)
                    # nor its memory of other jobs: their sources and code objects in the compile
                    # cache are freed in this copy (the job's own code travels in `job`)
                    self.code_cache.clear()
                    run_child(job, start, Channel(shm, wfd), self.cfg, self.jobdir, self.pid)
                finally:
                    os._exit(70)
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            os.close(wfd)
            return pid, rfd
        raise OSError("fork failed")

    def read_rows(self, data, state, n, pending):
        """Parse and apply the complete rows in `data`; ChannelError at the first bad one, after the
        good ones before it are kept (so garbage costs only the call that wrote it)."""
        try:
            rows = json.loads(b"[" + data[:-1].replace(b"\n", b",") + b"]")
        except Exception:  # ValueError, RecursionError, MemoryError...: find the culprit line by line
            for line in data[:-1].split(b"\n"):
                try:
                    row = json.loads(line)
                except Exception as exc:
                    raise ChannelError("unreadable row (%s)" % short(describe(exc)[0], 100)) from None
                self.apply_rows([row], state, n, pending)
            return
        self.apply_rows(rows, state, n, pending)

    def run_child_until_done(self, job, i, n, timeout, budget_end, pending):
        """Fork one child for calls i..n-1; return the next index still without a result.

        The worker sleeps until the child exits, the running call's deadline passes, or it is time to
        stream partial results to the host. Call start times reported by the child are only trusted
        within [last progress seen, now], so a program cannot buy itself more time.
        """
        self.make_jobdir()
        shm = mmap.mmap(-1, SHM_BYTES)
        progress_at = time.monotonic()
        SHM_HEADER.pack_into(shm, 0, SHM_HEADER.size, -1, progress_at)
        try:
            pid, rfd = self.fork_child(job, i, shm)
        except OSError as exc:
            shm.close()
            self.clean_up()
            raise SetupFailed("cannot fork: %s" % exc) from None
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
        setup_error = None
        # the CPU limit per call is the child's RLIMIT_CPU soft limit, which a program may lift (the hard
        # limit must stay above every later call's): where a call may outlast its CPU limit, the
        # worker watches the child's CPU time too (at most seconds + 3 per call, as with the rlimit)
        cpu_watch = timeout > self.cpu_seconds
        call_cpu = 0.0  # the child's CPU time when the running call started
        over_cpu = False
        try:
            while True:
                mark = (state["i"], state["loaded"])
                try:
                    written = SHM_WRITTEN.unpack_from(shm, 0)[0]
                    if not shm_off <= written <= len(shm):
                        if not exited:  # may be a store in flight: look again on the next wake-up
                            written = shm_off
                        else:
                            raise ChannelError("bad shared-memory offset")
                    if written > shm_off:
                        data = shm[shm_off:written]
                        shm_off = written
                        if not data.endswith(b"\n"):
                            raise ChannelError("incomplete row")
                        self.read_rows(data, state, n, pending)
                    cut = pipe_buf.rfind(b"\n") + 1
                    if cut:
                        data = bytes(pipe_buf[:cut])
                        del pipe_buf[:cut]
                        self.read_rows(data, state, n, pending)
                    if len(pipe_buf) > self.child_frame_limit:
                        raise ChannelError("row too long")
                except ChannelError as exc:
                    state["problem"] = (CRASHED, "ProtocolError", "program corrupted the result channel: %s" % exc)
                if state["problem"] or state["i"] >= n or exited:
                    break
                now = time.monotonic()
                if (state["i"], state["loaded"]) != mark:
                    index, t0 = SHM_CALL.unpack_from(shm, SHM_WRITTEN.size)
                    # (a NaN the program wrote there made the deadline NaN, and the worker fail)
                    progress_at = min(max(t0, progress_at), now) if index == state["i"] and not math.isnan(t0) else now
                    if cpu_watch:
                        call_cpu = cpu_time(pid)
                limit = progress_at + timeout
                if budget_end is not None:
                    limit = min(limit, budget_end)
                if now >= limit:
                    killed_for_timeout = True
                    break
                wait = limit - now
                if pending or state["i"] > i:
                    wait = min(wait, FLUSH_INTERVAL_S)
                if cpu_watch:
                    if cpu_time(pid) - call_cpu > self.cpu_seconds + 3:
                        killed_for_timeout = over_cpu = True
                        break
                    wait = min(wait, CPU_WATCH_S)
                for fd, _ in poller.poll(max(1, min(POLL_MAX_MS, int(wait * 1000) + 1))):
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
                            setup_error = (data[1:] + self.read_available(rfd))[:4000].decode("utf-8", "replace")
                            break
                        data = data[1:]
                    pipe_buf += data
                if setup_error is not None:
                    break
                self.maybe_flush(job, pending, True)
        finally:
            status_code, cpu_used = self.reap(pid)
            if state["setup"] is None:  # nothing read from the pipe yet: did setup finish at all?
                state["setup"] = self.read_available(rfd)[:1] == b"S"
            os.close(rfd)
            if pidfd is not None:
                os.close(pidfd)
            shm.close()
            self.clean_up()
        if setup_error is not None:
            raise SetupFailed(setup_error)
        i = state["i"]
        if i >= n:
            return n
        if not state["setup"] and not killed_for_timeout:
            raise SetupFailed("the job's process died during setup")
        wall = round((time.monotonic() - progress_at) * 1000.0, 4)
        problem = state["problem"] or (self.cpu_limit_exceeded() if over_cpu else
                                       self.classify_death(status_code, killed_for_timeout, timeout, cpu_used))
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

    def apply_rows(self, rows, state, n, pending):
        """Check the child's rows (untrusted: the program shares its process) and keep the results."""
        if not rows:
            return
        if not state["loaded"]:
            first = rows[0]
            if first == ["L"]:
                state["loaded"] = True
                rows = rows[1:]
            elif (type(first) is list and len(first) == 4 and first[0] == "E" and type(first[1]) is str
                  and first[1] in CHILD_STATUS_SET and type(first[2]) is str and type(first[3]) is str):
                etype, emsg = first[2][:MAX_ERROR_TYPE], short(first[3])
                pending.extend([k, first[1], None, False, etype, emsg, 0.0] for k in range(state["i"], n))
                state["i"] = n
                return
            else:
                raise ChannelError("expected the program-loaded row")
        i = state["i"]
        cap = self.value_cap
        for row in rows:
            if i >= n:
                raise ChannelError("more results than calls")
            pending.append(check_row(row, i, cap))
            i += 1
            state["i"] = i

    def cpu_limit_exceeded(self):
        return TIMEOUT, "Timeout", "CPU time limit of %s s exceeded" % self.limits["cpu_seconds"]

    def classify_death(self, status_code, killed_for_timeout, timeout, cpu_used=0.0):
        if killed_for_timeout:
            return TIMEOUT, "Timeout", "call exceeded its %.3g s time limit" % timeout
        if status_code is None:
            return CRASHED, "Crashed", "process vanished"
        if os.WIFSIGNALED(status_code):
            sig = os.WTERMSIG(status_code)
            # the limit, only if the child used that much CPU (not a SIGXCPU it sent itself, nor a
            # lower RLIMIT_CPU it set itself: either would pass a crash off as a timeout)
            if sig == signal.SIGXCPU and cpu_used >= 0.99 * self.cpu_seconds:
                return self.cpu_limit_exceeded()
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
        """(wait status or None, CPU seconds the child used)."""
        self.kill_group(pid)
        try:  # the child itself too: it may have moved to another process group (then waitpid hung)
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            _, status, usage = os.wait4(pid, 0)
            return status, usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            return None, 0.0

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
        try:  # read after every job: raw descriptors, no file object
            fd = os.open(self.oom_file, os.O_RDONLY)
            try:
                data = os.read(fd, 4096)
            finally:
                os.close(fd)
            for line in data.split(b"\n"):
                key, _, value = line.partition(b" ")
                if key == b"oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0


# ---------------------------------------------------------------- isolation

class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(arch, prlimit, denied, x32_bit, unshare, clone, clone3, sock, sockpair, unix_sockets=False):
    """A classic-BPF seccomp filter; everything not named here is allowed. EPERM for: prlimit64() on any
    process but the caller itself (a job could lower its worker's limits); the kernel keyrings (add_key,
    request_key, keyctl: keys outlive processes, so one job could leave one for the next); new user
    namespaces (unshare/clone with CLONE_NEWUSER), bpf, perf_event_open, userfaultfd and io_uring
    (kernel attack surface no program here needs, refused by Docker's own profile too); unless
    `unix_sockets`, Unix-domain sockets but unnamed stream pairs (socket(AF_UNIX), datagram
    socketpairs: a network namespace covers no socket with a name in the filesystem, so a local job
    could connect to every host service its uid may write to, /dev/log, the system bus, a
    docker.sock); any syscall of a foreign ABI (x32, 32-bit). clone3 answers ENOSYS, so libc falls
    back to clone."""
    ld, jeq, jge, jset, ret, andk = 0x20, 0x15, 0x35, 0x45, 0x06, 0x54
    allow, deny, nosys = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    prog = [(ld, 0, 0, 4), (jeq, 0, "deny", arch), (ld, 0, 0, 0)]  # architecture, then syscall number
    if x32_bit is not None:
        prog.append((jge, "deny", 0, x32_bit))
    prog += [(jeq, "pid", 0, prlimit), (jeq, "flags", 0, unshare), (jeq, "flags", 0, clone),
             (jeq, "nosys", 0, clone3)]
    if not unix_sockets:
        prog += [(jeq, "socket", 0, sock), (jeq, "socketpair", 0, sockpair)]
    prog += [(jeq, "deny", 0, nr) for nr in denied]
    prog.append((ret, 0, 0, allow))
    labels = {"pid": len(prog)}
    prog += [(ld, 0, 0, 16), (jeq, "allow", "deny", 0)]  # low word of the pid argument (little-endian)
    if not unix_sockets:
        labels["socket"] = len(prog)
        prog += [(ld, 0, 0, 16), (jeq, "deny", "allow", AF_UNIX)]  # the domain
        labels["socketpair"] = len(prog)  # AF_UNIX and a type (low 4 bits, the rest flags) of SOCK_DGRAM
        prog += [(ld, 0, 0, 16), (jeq, 0, "allow", AF_UNIX), (ld, 0, 0, 24), (andk, 0, 0, 0xF),
                 (jeq, "deny", "allow", SOCK_DGRAM)]
    labels["flags"] = len(prog)
    prog += [(ld, 0, 0, 16), (jset, "deny", "allow", CLONE_NEWUSER)]
    labels.update(allow=len(prog), deny=len(prog) + 1, nosys=len(prog) + 2)
    prog += [(ret, 0, 0, allow), (ret, 0, 0, deny), (ret, 0, 0, nosys)]
    out = []
    for pc, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - pc - 1 if type(jt) is str else jt
        jf = labels[jf] - pc - 1 if type(jf) is str else jf
        out.append((code, jt, jf, k))
    return out


def install_seccomp(unix_sockets=True):
    """Applies to the worker and, inherited across fork, to every child: programs cannot change the
    worker's limits (prlimit on PID 1 / the parent) nor use keyrings. Needs no_new_privs (set before).
    unix_sockets=False (a worker on the host, which sees the host's socket files) also refuses
    Unix-domain sockets but unnamed stream pairs; a container has no socket of the host to reach."""
    lc = libc()
    spec = SECCOMP_ARCHES.get(platform.machine())
    if not lc or spec is None:
        return False
    prog = seccomp_program(*spec, unix_sockets=unix_sockets)
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    return lc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) == 0


def _mount_tmpfs(lc, path, limits):
    opts = "size=%dm,nr_inodes=%d,mode=1777" % (int(limits.get("tmpfs_mb", 64)), int(limits.get("tmpfs_inodes", 16384)))
    return lc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode()) == 0


def isolate_host_process(cfg):
    """Best-effort namespaces for a worker running directly on the host (LocalSandbox).

    Root: private network (only a down loopback), IPC and mount namespaces; in the latter the whole
    filesystem is made read-only, /run becomes an empty read-only tmpfs, and fresh size-capped tmpfs
    are mounted on the world-writable places (/tmp, /var/tmp, /dev/shm, /run/lock) and a fresh mqueue
    on /dev/mqueue (or /run/mqueue): a job can write nowhere but there, and the worker empties them
    after every job. Non-root: the same through an unprivileged
    user namespace when the kernel allows it. Returns (isolation features obtained, scratch dirs).
    """
    got, scratch = [], []
    lc = libc()
    if not lc or not cfg.get("isolate"):
        return got, scratch
    uid, gid = os.geteuid(), os.getegid()
    user = CLONE_NEWUSER if uid != 0 else 0
    flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | user
    if lc.unshare(flags) != 0:
        flags = CLONE_NEWNET | user
        if lc.unshare(flags) != 0:
            return got, scratch
    got.append("netns")
    if user:
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
    if flags & CLONE_NEWIPC:
        got.append("private_ipc")
    if not flags & CLONE_NEWNS or lc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return got, scratch
    attr = ctypes.create_string_buffer(struct.pack("@QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0))
    if lc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, attr, len(attr.raw)) == 0:
        got.append("readonly_root")
        # but /proc (a process's files there are writable by its owner only, none of the worker's by
        # a job): a root worker's child sets its own OOM score there (run_child)
        clear = ctypes.create_string_buffer(struct.pack("@QQQQ", 0, MOUNT_ATTR_RDONLY, 0, 0))
        lc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/proc", 0, clear, len(clear.raw))
    # /run: a fresh tmpfs, read-only but for /run/lock (and /run/mqueue where the host has no
    # /dev/mqueue): the host's runtime files and service sockets are out of sight, and the worker has a
    # place to see its IPC namespace's POSIX message queues (mq_open() needs no mount: unseen, a job's
    # queues outlived it, for the next job to read)
    mqueue = "/dev/mqueue" if os.path.isdir("/dev/mqueue") else None
    if os.path.isdir("/run") and lc.mount(b"tmpfs", b"/run", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                          b"size=64k,nr_inodes=64,mode=755") == 0:
        os.mkdir("/run/lock", 0o755)
        if mqueue is None and flags & CLONE_NEWIPC:
            os.mkdir("/run/mqueue", 0o755)
            mqueue = "/run/mqueue"
        readonly = ctypes.create_string_buffer(struct.pack("@QQQQ", MOUNT_ATTR_RDONLY, 0, 0, 0))
        run_readonly = True
    else:
        run_readonly = False
    for path in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        if os.path.isdir(path) and _mount_tmpfs(lc, path, cfg["limits"]):
            scratch.append(path)
    if "/tmp" in scratch:
        got.append("private_tmp")
    if (flags & CLONE_NEWIPC and mqueue
            and lc.mount(b"mqueue", mqueue.encode(), b"mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0):
        scratch.append(mqueue)
    if run_readonly:  # the tmpfs itself, not the places mounted in it
        lc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/run", 0, readonly, len(readonly.raw))
    return got, scratch


def clean_import_path(scratch):
    """Nothing a job can write may be on sys.path: `python -c` puts the working directory first."""
    def safe(p):
        if not p or not os.path.isabs(p) or any(p == d or p.startswith(d.rstrip("/") + "/") for d in scratch):
            return False
        try:
            st = os.stat(p)
        except OSError:
            return True  # absent (e.g. python311.zip): nothing to import from, and nobody can create it
        return not st.st_mode & 0o002  # world-writable: any job could plant modules there

    sys.path[:] = [p for p in sys.path if safe(p)]
    sys.path_importer_cache.clear()


def main():
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    clean_import_path([])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a container's PID 1 gets only signals it handles
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
    isolation, private = isolate_host_process(cfg)
    uid = cfg.get("uid")
    if "private_tmp" in isolation:  # jobs work in the private tmpfs, emptied after each
        cfg["workdir"] = cfg["jobdir"] = "/tmp"
        cfg["scratch"], cfg["ipc_private"] = private, "private_ipc" in isolation
    else:
        cfg.setdefault("workdir", "/tmp")
        workdir = cfg["workdir"]
        if not os.path.isdir(workdir):
            os.makedirs(workdir)
        if not cfg.get("scratch"):  # a host directory of our own: the job directory lives in it
            cfg["scratch"] = [workdir]
            os.chmod(workdir, 0o711 if uid is not None and os.geteuid() == 0 else 0o700)
    clean_import_path(cfg["scratch"] + [cfg["workdir"]])
    os.environ["HOME"] = os.environ["TMPDIR"] = cfg.get("jobdir") or os.path.join(cfg["workdir"], "job")
    # what a job may empty between programs of its own (sandbox.programs' runner): the places this
    # worker empties after every job, and whether the SysV IPC namespace is the job's alone
    os.environ["CFCODE_SCRATCH"] = ":".join(cfg["scratch"])
    os.environ["CFCODE_IPC_PRIVATE"] = "1" if cfg.get("ipc_private") else "0"
    if prctl(PR_SET_CHILD_SUBREAPER, 1):
        isolation.append("subreaper")
    if prctl(PR_SET_DUMPABLE, 0):
        isolation.append("nondumpable")
    if prctl(PR_SET_NO_NEW_PRIVS, 1):  # inherited by every child: set once here, not per fork
        isolation.append("no_new_privs")
        if install_seccomp(unix_sockets=cfg.get("unix_sockets", True)):
            isolation.append("seccomp")
    cfg["isolation"] = isolation
    cfg["has_caps"] = has_capabilities()
    CpuLimit.preset(int(cfg["limits"]["cpu_seconds"]))
    worker = Worker(cfg, in_fd, out_fd)
    worker.clean_up()  # whatever is there before the first job (nothing, normally)
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
