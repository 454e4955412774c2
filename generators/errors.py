"""The project's user-error class: bad input (a file, a record, a knob, a config), not a bug.

Why one class: every `cfcode` command turns it into exactly one line on stderr,
`cfcode: error: <file>:<line>: <field>: expected ..., got ...`, and exit code 2, while real bugs keep
their tracebacks. Library callers can still catch `ValueError` (or `FileNotFoundError` for
`MissingInputError`) as before.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODE = 2
_MAX_GOT = 80  # characters of an offending value quoted in a message


class InputError(ValueError):
    """Bad user input; the message names where (file:line, field) and what was expected."""

    def __init__(self, message: str, *, where: str = "", field: str = "") -> None:
        self.where, self.field, self.detail = where, field, message
        super().__init__(": ".join(p for p in (where, field, message) if p))


class MissingInputError(InputError, FileNotFoundError):
    """A named input file or directory does not exist (or is the wrong kind of path)."""


def describe(value: Any) -> str:
    """`int 5`, `str 'three'`, `list [1, 2]`: the type and a bounded repr, for 'got ...' messages."""
    text = repr(value)
    if len(text) > _MAX_GOT:
        text = text[:_MAX_GOT - 3] + "..."
    return f"{type(value).__name__} {text}"


def one_line(message: str) -> str:
    """A message on one line (embedded newlines would break the one-line contract)."""
    return " | ".join(part.strip() for part in str(message).splitlines() if part.strip()) or "bad input"


def print_error(message: str) -> None:
    print(f"cfcode: error: {one_line(message)}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    """Print one error line and leave the command with exit code 2 (a Typer exit, so tests see it)."""
    import typer

    print_error(message)
    raise typer.Exit(EXIT_CODE)


def cli_errors(*extra: type[BaseException]) -> Callable[[F], F]:
    """Decorate a Typer command: `InputError` (and `extra` classes) become one line and exit code 2."""
    caught = (InputError, *extra)

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except caught as exc:
                fail(str(exc))

        return run  # type: ignore[return-value]

    return wrap


def check_output_file(path: Any, field: str = "--out") -> None:
    """Fail before any work when `path` cannot become a file (it is a directory, or under a file)."""
    from pathlib import Path

    if isinstance(path, str) and not path.strip():
        raise InputError("expected a file path, got an empty string", field=field)
    path = Path(path)
    _check_path_usable(path, field)
    if path.is_dir():
        raise InputError(f"expected a file path, got a directory: {path}", field=field)
    kind = special_file_kind(path)
    if kind:
        raise InputError(f"expected a regular file path, got a {kind}: {path}", field=field)
    _check_parents(path, field)
    _check_writable(path, field)


def special_file_kind(path: Any) -> str:
    """'character device', 'FIFO', ... when `path` (through symlinks) is an existing file that is neither
    regular nor a directory, else ''. Outputs are written to a temporary file renamed over the target:
    over `/dev/null` (run as root) that replaces the device node itself with a regular file."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return ""
    for test, kind in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return ""


def check_output_dir(path: Any, field: str = "--out") -> None:
    """Fail before any work when `path` cannot become a directory (it is a file, or under a file)."""
    from pathlib import Path

    if isinstance(path, str) and not path.strip():  # Path("") is the current directory
        raise InputError("expected a directory path, got an empty string", field=field)
    path = Path(path)
    _check_path_usable(path, field)
    if path.exists() and not path.is_dir():
        raise InputError(f"expected a directory path, got a file: {path}", field=field)
    _check_parents(path, field)
    _check_writable(path, field)


def _check_writable(path: Any, field: str) -> None:
    """Something can be created where `path` will be made (its nearest existing directory): else a
    read-only place, /proc or a full disk failed only when the results were written, after all the work.
    Tried for real (a directory made and removed): permission bits say nothing to root or about /proc."""
    import os
    import tempfile

    place = next((p for p in (path, *path.parents) if p.is_dir()), None)
    if place is None:
        return
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".cfcode-write-check.", dir=place))
    except OSError as exc:
        raise InputError(f"cannot write {path}: nothing can be created in {place} ({exc.strerror or exc})",
                         field=field) from None


@contextlib.contextmanager
def output_errors(path: Any, field: str = "--out") -> Iterator[None]:
    """Around the writing of `path`: an OSError (a full disk, a place that became read-only) is the one
    line `FIELD: cannot write PATH: REASON`, not a traceback after all the work."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(path):
            reason += f" ({exc.filename})"
        raise InputError(f"cannot write {path}: {reason}", field=field) from None


def check_backend(backend: str, field: str = "--backend") -> None:
    """Before any work: an unknown sandbox backend is one line, not an error from the first sandbox."""
    from sandbox import BACKENDS

    if backend not in BACKENDS:
        raise InputError(f"expected one of {', '.join(BACKENDS)}, got {backend!r}", field=field)


def check_distinct_output(out: Any, inputs: dict[str, Any], field: str = "--out") -> None:
    """Fail when the output path names one of the inputs (`-o utils.py` wrote problems over the source)."""
    import os
    from pathlib import Path

    for name, path in inputs.items():
        if path is None or not Path(path).exists() or not Path(out).exists():
            same = path is not None and Path(out).resolve() == Path(path).resolve()
        else:
            same = os.path.samefile(out, path)
        if same:
            raise InputError(f"expected a path other than the input {name} ({path}), got {out}", field=field)


def _check_path_usable(path: Any, field: str) -> None:
    """A name the system refuses (a component over NAME_MAX, a path over PATH_MAX, a NUL byte) is the
    user's mistake too: one line, not the OSError of the first write after all the work."""
    import os

    try:
        try:
            os.stat(path)  # a symlink loop (ELOOP) too: Path.exists() only says False
        except (FileNotFoundError, NotADirectoryError):
            pass
        for part in path.parts:
            if len(part.encode("utf-8", "surrogateescape")) > 255:
                raise OSError(36, "File name too long")
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a usable path, got {describe(str(path))}: "
                         f"{getattr(exc, 'strerror', None) or exc}", field=field) from None


def _check_parents(path: Any, field: str) -> None:
    """The nearest existing ancestor of `path` must be a directory (else nothing can be made there)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"expected a path under a directory, but {parent} is a file", field=field)
            break


def check_input_file(path: Any, field: str, what: str = "file") -> None:
    """Fail early, with one line, when a named input file is missing or is a directory."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise MissingInputError(f"expected a {what}, got a directory: {path}", field=field)
    kind = special_file_kind(path)
    if kind:  # a FIFO or a device was reported as "(no such file)"
        raise MissingInputError(f"expected a regular {what}, got a {kind}: {path}", field=field)
    if not path.is_file():
        raise MissingInputError(f"expected an existing {what}, got {str(path)!r} (no such file)", field=field)
