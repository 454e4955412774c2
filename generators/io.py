"""JSONL reading and writing of problem records (one canonical JSON object per line)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from generators.schema import Problem


def write_problems(path: str | os.PathLike, problems: Iterable[Problem]) -> Path:
    """Write atomically (temp file + rename), so an interrupted run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for problem in problems:
                fh.write(problem.to_json() + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; frozen files should read like any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_problems(path: str | os.PathLike) -> list[Problem]:
    """Read a JSONL file of problems; a bad line raises ValueError naming the file and line number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no problem file at {path}")
    problems = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                problems.append(Problem.from_json(line))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a valid problem record: {exc}") from exc
    return problems
