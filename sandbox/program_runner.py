"""The program runner that `sandbox.programs.run_jobs` sends *into* the sandbox (never imported).

Why a fork per record: programs of different records must never share an interpreter. One program
that patches a builtin, `json`, `sys.modules` or this runner's own helpers, raises SystemExit or
prints without end would otherwise change the results of every program packed after it. So the
runner (the sandbox job's process, which runs no program code itself) forks one fresh child per
group of jobs (one record), reads that child's result from a private pipe, then kills and reaps
everything the child left behind and empties the job's scratch places (its working directory, /tmp,
/dev/shm, ... as the worker names them; SysV IPC objects where the namespace is the job's) before the
next group starts. The child holds no descriptor of
the parent's but its own result pipe, does not inherit the parent's shared-memory result channel
(MADV_DONTFORK), cannot trace the parent (not dumpable), finds no writable directory on its import
path, and stays in the job's process group, which the sandbox ends with the job. Only the standard
library: this source is executed by the sandbox's interpreter.

Job: [source, entry, [argument lists]]; payload: a list of groups (lists of jobs). Result per job:
["ok", [values]] | ["error", "Type: message"] | ["unsupported", "type name"] | ["crashed", why] |
["output_too_large", why].
"""
# ruff: noqa: BLE001, S102, UP031  (runs untrusted code and must survive anything; Python >= 3.8 style)
import ctypes as _ctypes
import json as _json
import os as _os
import resource as _resource
import select as _select
import signal as _signal
import stat as _stat
import struct as _struct
import sys as _sys
import time as _time

_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
_MADV_DONTFORK = 10
_RESULT_CAP = 1 << 20
# what compiling in the runner may add to its address space, all sources together: a source of a few
# kB can need hundreds of MB (nested try/finally), and what the runner takes stays taken for every
# later record's child (each inherits it as part of the job's address-space limit)
_COMPILE_MEMORY = 16 << 20
_MESSAGE_MEMORY = 8 << 20  # what rendering one error message may take


def _libc():
    try:
        lc = _ctypes.CDLL(None, use_errno=True)
        lc.madvise.argtypes = [_ctypes.c_void_p, _ctypes.c_size_t, _ctypes.c_int]
        return lc
    except (OSError, AttributeError):
        return None


def _prctl(lc, option, arg):
    return lc is not None and lc.prctl(option, _ctypes.c_ulong(arg), 0, 0, 0) == 0


def _shared_mappings():
    out = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 1 and fields[1][3:4] == "s":
                    lo, hi = fields[0].split("-")
                    out.append((int(lo, 16), int(hi, 16) - int(lo, 16)))
    except (OSError, ValueError):
        return None
    return out


def _safe_path():
    keep = []
    for p in _sys.path:
        if p and _os.path.isabs(p) and _os.path.exists(p) and not _os.access(p, _os.W_OK):
            keep.append(p)
    return keep


_MAX_DEPTH = 50  # nesting of a record's values (the runner's own result nests them 2 deeper, see _shallow)


def _plain(value, depth=0):
    if depth > _MAX_DEPTH or isinstance(value, tuple):
        return False
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return True


def _scan(values, cap):
    # (over, plain): `over` if the values' JSON is certain to be longer than `cap` (a row referenced a
    # million times is small in memory and gigabytes encoded: encoding it first cost the record its
    # time limit or its memory); else `plain` is _plain(values), found in the same walk (nested at most
    # _MAX_DEPTH deep: json.dumps of a list nested 200,000 deep, under a recursion limit the program
    # lifted, overflowed the C stack). Each part is charged a lower bound of its encoded length and
    # the walk stops past `cap`, so it takes at most about `cap` steps, however deep or self-containing.
    left, plain, stack, items = cap, True, [], iter((values,))
    while True:
        for x in items:
            if isinstance(x, str):
                left -= len(x) + 2
            elif isinstance(x, (list, tuple, dict)):
                left -= len(x) + 2
                if left < 0:
                    return True, False
                if plain and len(stack) >= _MAX_DEPTH and x:  # its items would be nested too deep
                    plain = False
                stack.append(items)
                if isinstance(x, dict):
                    if plain and not all(isinstance(k, str) for k in x):
                        plain = False
                    items = _flat_items(x)
                else:
                    if plain and isinstance(x, tuple):
                        plain = False
                    items = iter(x)
                break
            else:
                left -= 1
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


def _describe(exc):
    try:
        return type(exc).__name__ + ": " + _bounded_str(exc)[:200]
    except BaseException:
        return "Exception: <unprintable>"


def _bounded_str(exc):
    # str(exc) with at most _MESSAGE_MEMORY of new address space: the builtin types render a KeyError
    # of [v, v] nested 60 deep (or of a row referenced a million times) as gigabytes of text, which
    # took the record's whole time limit; text costs memory as it grows, so the cap ends it at once
    args = exc.args
    if (type(exc).__str__ in (BaseException.__str__, KeyError.__str__) and type(args) is tuple
            and all(type(a) in (str, int, float, bool, type(None)) for a in args)):
        return str(exc)  # the usual exception: the builtin rendering of scalar arguments is cheap
    # (and with Python's default recursion limit: a KeyError of a list nested 200,000 deep, under a
    # limit the program lifted, overflowed the C stack while rendered)
    depth = _sys.getrecursionlimit()
    soft, hard = _resource.getrlimit(_resource.RLIMIT_AS)
    before = _address_space()
    cap = before + _MESSAGE_MEMORY
    if before and (soft == _resource.RLIM_INFINITY or cap < soft):
        _resource.setrlimit(_resource.RLIMIT_AS, (cap, hard))
    else:
        soft = None
    try:
        _sys.setrecursionlimit(min(depth, 1000))
        return str(exc)
    except (MemoryError, RecursionError):
        return "<message too large to render>"
    finally:
        try:
            _sys.setrecursionlimit(depth)
            if soft is not None:
                _resource.setrlimit(_resource.RLIMIT_AS, (soft, hard))
        except (ValueError, OSError, RecursionError):  # the program's own __str__ lowered the hard limit
            pass


def _address_space():
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * _os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0  # then every source is compiled in its record's child


def _compile(source, cache, cap):
    # In the parent (compiling runs no program code, as in the sandbox's own worker), once per source,
    # within `cap` bytes of address space; a source that needs more is left to its record's child.
    code = cache.get(source)
    if code is None:
        soft, hard = _resource.getrlimit(_resource.RLIMIT_AS)
        _resource.setrlimit(_resource.RLIMIT_AS, (cap if hard == _resource.RLIM_INFINITY else min(cap, hard), hard))
        try:
            code = compile(source, "<program>", "exec")
        except MemoryError:
            code = source
        except BaseException as exc:
            code = ["error", _describe(exc)]
        finally:
            _resource.setrlimit(_resource.RLIMIT_AS, (soft, hard))
        cache[source] = code
    return code


def _run_one(code, entry, arg_lists):
    if isinstance(code, list):
        return code
    try:
        if isinstance(code, str):  # too costly to compile in the runner: here, under the job's limit
            code = compile(code, "<program>", "exec")
        namespace = {"__name__": "__cfcode_program__"}
        exec(code, namespace)
        fn = namespace[entry]
        values = [fn(*args) for args in arg_lists]
    except BaseException as exc:
        return ["error", _describe(exc)]
    try:
        over, plain = _scan(values, _RESULT_CAP)
        if over:
            return ["output_too_large", "the returned values encode to over %d bytes" % _RESULT_CAP]
        plain = plain and _json.loads(_json.dumps(values, allow_nan=False)) == values
    except BaseException:
        plain = False
    if plain:
        return ["ok", values]
    try:
        bad = next((type(v).__name__ for v in values if not _plain([v])), "non-JSON value")
    except BaseException:
        bad = "non-JSON value"
    return ["unsupported", str(bad)[:100]]


def _child(group, wfd):
    # Nothing here may reach past this one record: no inherited descriptor but the result pipe (the
    # parent's shared memory is not inherited at all: MADV_DONTFORK). No ctypes here: in a forked
    # child its first call costs more copy-on-write faults than the whole program. The child stays
    # in the job's process group, so the sandbox's clean-up of the job ends it too.
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)  # the parent ignores it; programs see Python's
    if wfd != 3:
        _os.dup2(wfd, 3)
    try:
        null = _os.open("/dev/null", _os.O_RDWR)
        for fd in (0, 1, 2):
            _os.dup2(null, fd)
    except OSError:
        null = -1
        _os.closerange(0, 3)
    _os.closerange(4, 1 << 16)
    results = [_run_one(code, entry, arg_lists) for code, entry, arg_lists in group]
    data = _json.dumps(results).encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        view = view[_os.write(3, view):]
    _os._exit(0)


def _children(me):
    try:
        tasks = _os.listdir("/proc/self/task")
        found = []
        for tid in tasks:
            with open("/proc/self/task/%s/children" % tid) as fh:
                found.extend(int(p) for p in fh.read().split())
        return found
    except (OSError, ValueError):
        pass
    found = []
    for name in _os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 1 and int(fields[1]) == me:
                found.append(int(name))
    return found


def _sweep(me):
    # Kill and reap every process left behind; orphans are reparented to us (child subreaper).
    for _ in range(10000):
        while True:
            try:
                pid, _ = _os.waitpid(-1, _os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                break
        live = _children(me)
        if not live:
            return
        for pid in live:
            try:
                _os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        try:
            _os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _collect(pid, rfd, me):
    chunks, size, exited = [], 0, False
    poller = _select.poll()
    poller.register(rfd, _select.POLLIN | _select.POLLHUP)
    while True:
        if poller.poll(20):
            data = _os.read(rfd, 1 << 16)
            if not data:
                break
            size += len(data)
            if size > _RESULT_CAP:
                chunks = None
                if not exited:
                    _os.kill(pid, _signal.SIGKILL)
                break
            chunks.append(data)
        elif not exited and _os.waitpid(pid, _os.WNOHANG)[0]:
            exited = True
            _sweep(me)  # a left-behind process may hold the pipe open
    if not exited:
        _os.waitpid(pid, 0)  # a child that closed its pipe and runs on is ended by the call's time limit
    _sweep(me)
    return None if chunks is None else b"".join(chunks)


def _no_constant(name):
    raise ValueError("non-finite number " + name)


def _shallow(value, depth):
    # What the worker can send back as JSON (it falls back to a repr string past depth 100).
    if depth > 50:
        return False
    if isinstance(value, list):
        return all(_shallow(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_shallow(v, depth + 1) for v in value.values())
    return True


def _decode(data, group):
    if data is None:
        return [["output_too_large", "result over %d bytes" % _RESULT_CAP]] * len(group)
    if not data:
        return [["crashed", "program exited without a result"]] * len(group)
    try:
        rows = _json.loads(data.decode("utf-8", "surrogatepass"), parse_constant=_no_constant)
        ok = isinstance(rows, list) and len(rows) == len(group)
        for row, job in zip(rows if ok else [], group):
            ok = (isinstance(row, list) and len(row) == 2
                  and (row[0] == "ok" and isinstance(row[1], list) and len(row[1]) == len(job[2])
                       and _shallow(row[1], 0)
                       or row[0] in ("error", "unsupported", "output_too_large") and isinstance(row[1], str)
                       and len(row[1]) <= 300))
            if not ok:
                break
    except (ValueError, RecursionError, UnicodeDecodeError):
        ok = False
    return rows if ok else [["crashed", "malformed result"]] * len(group)


def _scratch():
    # The places the sandbox empties after every job (its worker names them: they are the job's own,
    # never the host's /tmp), the job's working directory, and whether the SysV IPC namespace is the
    # job's own too. Records of one pack share them: what one record leaves there is removed before
    # the next starts, or it would see the files and shared memory of the one before, or a full /tmp.
    cwd = _os.getcwd()
    places = [cwd] + [d for d in _os.environ.get("CFCODE_SCRATCH", "").split(":")
                      if d and d != cwd and not cwd.startswith(d.rstrip("/") + "/")]
    return places, _os.environ.get("CFCODE_IPC_PRIVATE") == "1"


def _wipe(path):
    # Remove everything inside `path`, never raising (a record may leave anything: trees thousands of
    # levels deep, directories chmod 0): each subdirectory met is moved up to `path` under a fresh name,
    # then emptied and removed, so no path grows long and at most two descriptors are open.
    try:
        if not _os.listdir(path):  # the usual case, at the cost of one call
            return
        top = _os.open(path, _os.O_RDONLY | _os.O_DIRECTORY)
    except OSError:
        return
    try:
        todo, serial = [n for n in _os.listdir(top) if not _unlink(top, n)], 0
        while todo:
            name = todo.pop()
            try:
                _os.chmod(name, 0o700, dir_fd=top)
                fd = _os.open(name, _os.O_RDONLY | _os.O_DIRECTORY | _os.O_NOFOLLOW, dir_fd=top)
            except OSError:
                continue
            try:
                for sub in _os.listdir(fd):
                    if _unlink(fd, sub):
                        continue
                    serial += 1
                    moved = ".cfcode-wipe-%d-%d" % (_os.getpid(), serial)
                    try:
                        _os.chmod(sub, 0o700, dir_fd=fd)  # moving a directory rewrites its ".."
                        _os.rename(sub, moved, src_dir_fd=fd, dst_dir_fd=top)
                        todo.append(moved)
                    except OSError:
                        pass
            except OSError:
                pass
            finally:
                _os.close(fd)
            try:
                _os.rmdir(name, dir_fd=top)
            except OSError:
                pass
    finally:
        _os.close(top)


def _unlink(dir_fd, name):
    # True if `name` is gone or cannot go; False if it is a directory to empty first
    try:
        _os.unlink(name, dir_fd=dir_fd)
    except IsADirectoryError:
        return False
    except PermissionError:  # some filesystems answer EPERM for unlink() of a directory
        try:
            return not _stat.S_ISDIR(_os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            return True
    except OSError:
        pass
    return True


def _remove_ipc(lc, buf):
    # SysV shared memory, message queues and semaphores outlive the record that made them (the
    # namespace is the job's own: _scratch says so)
    used = [lc.shmctl(0, 14, buf) >= 0 and _struct.unpack_from("i", buf, 0)[0],  # SHM_INFO: used_ids
            lc.msgctl(0, 12, buf) >= 0 and _struct.unpack_from("i", buf, 0)[0],  # MSG_INFO: msgpool
            lc.semctl(0, 0, 19, buf) >= 0 and _struct.unpack_from("i", buf, 28)[0]]  # SEM_INFO: semusz
    if not any(used):
        return
    removers = {"shm": lambda k: lc.shmctl(k, 0, None), "msg": lambda k: lc.msgctl(k, 0, None),
                "sem": lambda k: lc.semctl(k, 0, 0)}  # IPC_RMID
    for kind, remove in removers.items():
        try:
            with open("/proc/sysvipc/" + kind) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def _fork():
    for attempt in range(5):
        try:
            return _os.fork()
        except BlockingIOError:
            if attempt == 4:
                raise
            _sweep(_os.getpid())
            _time.sleep(0.01 * (attempt + 1))


def __cfcode_run_jobs__(groups):
    me = _os.getpid()
    lc = _libc()
    if lc is None or not _prctl(lc, _PR_SET_DUMPABLE, 0) or not _prctl(lc, _PR_SET_CHILD_SUBREAPER, 1):
        raise RuntimeError("cannot isolate programs from each other (prctl unavailable)")
    shared = _shared_mappings()
    if shared is None or any(lc.madvise(start, length, _MADV_DONTFORK) != 0 for start, length in shared):
        raise RuntimeError("cannot keep the result channel from the programs (maps or madvise failed)")
    _sys.path[:] = _safe_path()
    _sys.path_importer_cache.clear()
    # a program's SIGINT to its parent must not raise KeyboardInterrupt here: that failed the runner
    # itself (no program's status), and run_jobs gave up on every record of the call
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    results, codes, cap = [], {}, _address_space() + _COMPILE_MEMORY
    places, ipc_private = _scratch()
    ipc_buf = _ctypes.create_string_buffer(256) if ipc_private else None
    for k, group in enumerate(groups):
        if k:  # nothing of the record before: its processes are gone (_collect), now its files
            for place in places:
                _wipe(place)
            if ipc_buf is not None:
                _remove_ipc(lc, ipc_buf)
        group = [(_compile(source, codes, cap), entry, arg_lists) for source, entry, arg_lists in group]
        rfd, wfd = _os.pipe()
        pid = _fork()
        if pid == 0:
            try:
                _os.close(rfd)
                _child(group, wfd)
            finally:
                _os._exit(70)
        _os.close(wfd)
        try:
            data = _collect(pid, rfd, me)
        finally:
            _os.close(rfd)
        results.extend(_decode(data, group))
    return results
