"""Sources -> splits of problems -> every requested format; shared by the CLI and the tests."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generators.errors import InputError
from generators.export import hf, lm_eval, openrlhf, verl
from generators.io import load_problems, sha256_file
from generators.schema import Problem
from generators.suites import suites_dir

FORMATS = ("hf", "verl", "lm_eval", "openrlhf")
SOURCE_NAMES = ("frozen:test", "frozen:train", "frozen:all")
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,99}"  # a dataset / lm-eval group name: no path or YAML syntax


@dataclass
class ExportReport:
    out_dir: Path
    formats: list[str]
    counts: dict[str, int]  # split -> records
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "formats": self.formats, "counts": self.counts, "files": self.files}


def load_sources(sources: Sequence[str], split: str | None = None) -> dict[str, list[Problem]]:
    """Split name -> problems from `frozen:test` / `frozen:train` / `frozen:all` or JSONL paths.

    A JSONL file goes to `split` if given, else to the split its records name (`train` | `test`).
    Raises ValueError (file and line) for unreadable input; a split never mixes record duplicates.
    """
    out: dict[str, list[Problem]] = {}
    for source in sources:
        if source in SOURCE_NAMES:
            wanted = ("test", "train") if source == "frozen:all" else (source.split(":")[1],)
            for sub in wanted:
                files = sorted((suites_dir() / sub).glob("*.jsonl"))
                if not files:
                    raise ValueError(f"{source}: no suite files in {suites_dir() / sub}")
                for path in files:
                    out.setdefault(split or sub, []).extend(load_problems(path))
            continue
        if source.startswith("frozen:"):
            raise ValueError(f"unknown suite name {source!r}; expected one of {', '.join(SOURCE_NAMES)} or a JSONL path")
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"{source}: no such JSONL file (or a suite name: {', '.join(SOURCE_NAMES)})")
        for problem in load_problems(path):
            out.setdefault(split or problem.split, []).append(problem)
    for name, problems in out.items():
        seen: set[str] = set()
        for p in problems:
            if p.id in seen:
                raise ValueError(f"split {name!r} holds problem {p.id!r} twice (same file given twice?)")
            seen.add(p.id)
    if not out or not any(out.values()):
        raise ValueError("no problems in the given sources")
    return out


# What each format's writer puts in OUT/<format>/: an existing folder is replaced only if it holds nothing else.
_EXPORT_FILES = {"hf": ("README.md", "data/*.parquet"), "verl": ("*.parquet",), "openrlhf": ("*.parquet",),
                 "lm_eval": ("README.md", "*.yaml", "utils.py", "data/*.jsonl", "__pycache__/*")}


def _check_replaceable(folder: Path, fmt: str) -> None:
    """OUT/<format>/ is removed and replaced by the new export: a folder that is not an earlier export (a
    user's own `hf/`) was deleted with everything in it."""
    if not folder.is_dir():
        return
    patterns = _EXPORT_FILES.get(fmt, ())
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder)
        if path.is_symlink() or not any(rel.match(p) and len(rel.parts) == len(Path(p).parts) for p in patterns):
            raise InputError(f"expected {folder} to hold an earlier export (or nothing), got a file an export "
                             f"does not write: {rel}", field="--out")


def export_problems(splits: dict[str, list[Problem]], out_dir: str | os.PathLike,
                    formats: Sequence[str] = FORMATS, name: str = "counterfactual-code",
                    command: str = "", log: Callable[[str], None] | None = None) -> ExportReport:
    """Write `formats` under `out_dir/<format>/`: all in a staging directory, then renamed into place."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {', '.join(FORMATS)}")
    if not re.fullmatch(NAME_PATTERN, name):  # file names and YAML of the lm-eval folder are built from it
        raise InputError(f"expected letters, digits, '_' or '-' starting with a letter, got {name!r}",
                         field="--name")
    for fmt in formats:
        if (Path(out_dir) / fmt).exists() and not (Path(out_dir) / fmt).is_dir():
            raise InputError(f"expected {Path(out_dir) / fmt} to be a directory (an earlier export), got a file",
                             field="--out")
        _check_replaceable(Path(out_dir) / fmt, fmt)
    for split, problems in splits.items():
        if not split.replace("_", "").isalnum():
            raise ValueError(f"split name {split!r} must be letters, digits and '_'")
        if not problems:
            raise ValueError(f"split {split!r} is empty")

    writers = {"hf": hf.write, "verl": verl.write, "lm_eval": lm_eval.write, "openrlhf": openrlhf.write}
    out = Path(out_dir)
    created = [p for p in (out, *out.parents) if not p.exists()]  # removed again if the export fails
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(out, list(formats), {k: len(v) for k, v in splits.items()})
    # Every format is written into one staging directory first and moved into place only when all are
    # done: an interrupted export (Ctrl-C, a failing writer) leaves neither some formats nor an empty OUT.
    staging = Path(tempfile.mkdtemp(prefix=".export.", dir=out))
    try:
        for fmt in formats:
            (staging / fmt).mkdir()
            writers[fmt](splits, staging / fmt, name=name, command=command)
        for fmt in formats:
            (staging / fmt).chmod(0o755)  # mkdtemp's 0700 would make the dataset folder private
            final = out / fmt
            if final.exists():
                shutil.rmtree(final)
            (staging / fmt).rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for path in created:  # deepest first: only directories this export made, and only if still empty
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise
    staging.rmdir()
    for fmt in formats:
        final = out / fmt
        for path in sorted(final.rglob("*")):
            if path.is_file():
                report.files[str(path.relative_to(out))] = sha256_file(path)
        if log:
            log(f"wrote {final}")
    return report
