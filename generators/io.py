"""JSONL reading and writing of problem records (one canonical JSON object per line)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from generators.errors import InputError, MissingInputError, special_file_kind
from generators.schema import Problem, RecordError


def write_problems(path: str | os.PathLike, problems: Iterable[Problem]) -> Path:
    """Write atomically (temp file + rename), so an interrupted run never leaves a half-written file.

    A symlink is written through (its target is replaced, the link stays); a device, FIFO or socket is
    refused: the rename would replace the node itself (as root, `/dev/null` became a regular file)."""
    path = Path(path)
    kind = special_file_kind(path)
    if kind:
        raise InputError(f"expected a regular file path, got a {kind}", where=str(path))
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    created = [p for p in target.parents if not p.exists()]  # deepest first; removed again on failure
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for i, problem in enumerate(problems):
                if not isinstance(problem, Problem):  # decoded dicts: an AttributeError from in here
                    raise TypeError(f"problems[{i}]: expected a Problem, got {type(problem).__name__}")
                fh.write(problem.to_json() + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; frozen files should read like any file
        os.replace(tmp, target)
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        _remove_empty_dirs(created)
        raise
    return path


def _remove_empty_dirs(created: list[Path]) -> None:
    """Undo the `mkdir(parents=True)` of a failed write: the directories it made, deepest first, if empty."""
    for path in created:
        with contextlib.suppress(OSError):
            path.rmdir()


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Write a set of files into the yielded directory; they replace those in `out_dir` only when the block
    ends without error. A failure (a full disk, Ctrl-C) leaves `out_dir` as it was (an earlier result
    whole, not a new eval.json beside an old samples.jsonl) and removes the directories this made."""
    out = Path(out_dir)
    created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    staging: Path | None = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=out))
        yield staging
        for item in sorted(staging.iterdir()):
            os.replace(item, out / item.name)
        staging.rmdir()
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_empty_dirs(created)
        raise


def load_problems(path: str | os.PathLike) -> list[Problem]:
    """Read a JSONL file of problems; any defect raises RecordError naming the file, line and field.

    A missing path or a directory raises MissingInputError (also a FileNotFoundError); an empty file
    is an error too, since every reader needs at least one problem."""
    return list(iter_problems(path))


MAX_LINE_BYTES = 16 << 20  # one record; the frozen suites' longest is under 10 kB


def iter_problems(path: str | os.PathLike) -> Iterator[Problem]:
    """Validated problems of a JSONL file, one at a time (the one reader every loader goes through)."""
    path = Path(path)
    if path.is_dir():
        raise MissingInputError(f"expected a JSONL file of problems, got a directory: {path}")
    if not path.is_file():
        raise MissingInputError(f"no problem file at {path}")
    count = 0
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
    with fh:
        lineno = 0
        while raw := fh.readline(MAX_LINE_BYTES + 1):  # a line of a GB was read whole, then parsed
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise RecordError(f"expected a line of at most {MAX_LINE_BYTES >> 20} MiB (one problem record), "
                                  f"got a longer one", where=f"{path}:{lineno}")
            if not raw.strip():
                continue
            count += 1
            yield Problem.from_json(raw, where=f"{path}:{lineno}", unique_keys=True)
    if not count:
        raise RecordError("expected at least one problem record, got an empty file", where=str(path))


def sha256_file(path: Path) -> str:
    """Checksum of a file, read in 1 MiB chunks (suites manifest, export cards and reports)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
