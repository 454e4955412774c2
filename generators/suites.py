"""Frozen held-out suites and the frozen training set, with a sha256 manifest.

Layout (repository root):
    suites/test/<family>.<mode>.jsonl      300 problems per family per mode (split "test")
    suites/train/if_else.counterfactual.jsonl   5,000 training problems
    suites/manifest.json                  sha256, count and recipe of every file

Build order makes the train/test separation hold by construction, and uses only in-memory results
of the same build (never files from an earlier build), so a rebuild is byte-identical:
  1. in-distribution test suites (the training family);
  2. the training set, excluding every program of step 1;
  3. every other suite, excluding the training set's programs and, for OOD families, its templates.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generators.errors import InputError
from generators.family import FAMILIES, get_family
from generators.filters import FilterStats
from generators.frozen import (
    TRAIN_FAMILY,
    TRAIN_MODE,
    cached_hashes,
    load_suite,
    load_train_set,
    suites_dir,
    test_program_hashes,
    train_program_hashes,
    train_skeleton_hashes,
)
from generators.io import load_problems, sha256_file, write_problems
from generators.pipeline import Exclusions, generate_with_stats
from generators.schema import MODES
from generators.typecheck import check_fields
from generators.version import GENERATOR_VERSION
from sandbox import make_sandbox

TEST_SEED = 20251001
TRAIN_SEED = 7
DEFAULT_TEST_SIZE = 300
DEFAULT_TRAIN_SIZE = 5000
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SuiteSpec:
    """Recipe of one frozen file."""

    family: str
    mode: str
    split: str
    n: int
    seed: int

    @property
    def relpath(self) -> str:
        return f"{self.split}/{self.family}.{self.mode}.jsonl"


def suite_specs(test_size: int = DEFAULT_TEST_SIZE, train_size: int = DEFAULT_TRAIN_SIZE,
                families: list[str] | None = None) -> list[SuiteSpec]:
    """All frozen files, in build order."""
    get_family(TRAIN_FAMILY)  # registers families
    names = families or sorted(FAMILIES)
    first = [SuiteSpec(TRAIN_FAMILY, m, "test", test_size, TEST_SEED) for m in MODES if TRAIN_FAMILY in names]
    train = [SuiteSpec(TRAIN_FAMILY, TRAIN_MODE, "train", train_size, TRAIN_SEED)] if train_size else []
    rest = [SuiteSpec(f, m, "test", test_size, TEST_SEED) for f in names if f != TRAIN_FAMILY for m in MODES]
    return first + train + rest


def build_suites(out_dir: Path | None = None, *, sandbox_backend: str = "docker",
                 test_size: int = DEFAULT_TEST_SIZE, train_size: int = DEFAULT_TRAIN_SIZE,
                 families: list[str] | None = None, log: Callable[[str], None] = print) -> dict:
    """Generate every frozen file into `out_dir` and write the manifest; returns the manifest."""
    out_dir = Path(out_dir or suites_dir())
    specs = suite_specs(test_size, train_size, families)
    manifest: dict = {"files": {}, "recipe": {"test_size": test_size, "train_size": train_size,
                                              "families": sorted({s.family for s in specs})}}
    # Every file is built in a staging directory and moved into place only when all are done, so an
    # interrupted build (Ctrl-C, a failing family) leaves the existing suites and manifest as they were.
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    try:
        _build_into(staging, specs, manifest, sandbox_backend, log)
        manifest["generator_version"] = GENERATOR_VERSION
        manifest["code_sha256"] = code_fingerprint()
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        for rel in [*manifest["files"], MANIFEST]:  # the manifest last
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, out_dir / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    cached_hashes.cache_clear()
    return manifest


def _build_into(out_dir: Path, specs: list[SuiteSpec], manifest: dict, sandbox_backend: str,
                log: Callable[[str], None]) -> None:
    test_hashes: set[str] = set()
    train_programs: frozenset[str] = frozenset()
    train_skeletons: frozenset[str] = frozenset()
    with make_sandbox(sandbox_backend) as sandbox:
        manifest["python_version"] = sandbox.python_version
        for spec in specs:
            fam = get_family(spec.family)
            if spec.split == "train":
                excl = Exclusions(program_hashes=frozenset(test_hashes))
            else:
                excl = Exclusions(program_hashes=train_programs,
                                  skeleton_hashes=train_skeletons if fam.ood else frozenset())
            result = generate_with_stats(spec.family, spec.mode, spec.n, spec.seed, split=spec.split,
                                         sandbox=sandbox, exclusions=excl)
            path = write_problems(out_dir / spec.relpath, result.problems)
            if spec.split == "train":
                train_programs = frozenset(p.meta["program_hash"] for p in result.problems)
                train_skeletons = frozenset(p.meta["skeleton_hash"] for p in result.problems)
            else:
                test_hashes.update(p.meta["program_hash"] for p in result.problems)
            stats: FilterStats = result.stats
            manifest["files"][spec.relpath] = {
                **asdict(spec),
                "sha256": sha256_file(path),
                "count": len(result.problems),
                "filter_counts": stats.to_dict(),
            }
            log(f"built {spec.relpath}: {len(result.problems)} problems, counts {stats.to_dict()}")


_NOT_OUTPUT_AFFECTING = {"cli.py", "bench.py", "suites.py", "frozen.py", "errors.py", "typecheck.py",
                         "toml_files.py"}


def code_fingerprint() -> str:
    """sha256 over the generator sources that shape the records, to notice suites older than the code."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if path.name not in _NOT_OUTPUT_AFFECTING:
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass
class ManifestRecipe:
    test_size: int
    train_size: int
    families: list[str]


@dataclass
class ManifestEntry:
    """One frozen file in `manifest.json` (its recipe, checksum and filter counts)."""

    family: str
    mode: str
    split: str
    n: int
    seed: int
    sha256: str
    count: int
    filter_counts: dict[str, Any]


@dataclass
class Manifest:
    files: dict[str, dict[str, Any]]
    recipe: dict[str, Any]
    python_version: str
    generator_version: str = ""
    code_sha256: str = ""


def read_manifest(path: Path) -> dict:
    """`manifest.json`, checked against the dataclasses above; a corrupted file is one InputError."""
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
        manifest = json.loads(text)
    except UnicodeDecodeError as exc:
        raise InputError(f"expected UTF-8 JSON, got byte {exc.object[exc.start]:#04x} at offset {exc.start}",
                         where=where) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"expected JSON, got a syntax error: {exc.msg} (column {exc.colno})",
                         where=f"{where}:{exc.lineno}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"expected JSON: {exc}", where=where) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=where) from None
    check_fields(Manifest, manifest, where=where, what="field")
    check_fields(ManifestRecipe, manifest["recipe"], where=where, what="field", prefix="recipe.")
    for rel, entry in manifest["files"].items():
        check_fields(ManifestEntry, entry, where=where, what="field", prefix=f"files.{rel}.")
        if entry["mode"] not in MODES or entry["split"] not in ("train", "test"):
            raise InputError(f"expected a mode in {list(MODES)} and a split train/test, got "
                             f"{entry['mode']!r}/{entry['split']!r}", where=where, field=f"files.{rel}")
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise InputError(f"expected a path inside the suites directory, got {rel!r}", where=where,
                             field="files")
    return manifest


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str]
    files: int
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            ("OK" if self.ok else "FAILED")
            + f": {self.files} files checked"
            + "".join(f"\n  - {p}" for p in self.problems)
            + "".join(f"\n  warning: {w}" for w in self.warnings)
        )


def verify_suites(directory: Path | None = None) -> VerifyReport:
    """Checksums, counts, record validity, and train/test program separation."""
    directory = Path(directory or suites_dir())
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return VerifyReport(False, [f"no manifest at {manifest_path}; run `cfcode suites build`"], 0)
    manifest = read_manifest(manifest_path)
    issues: list[str] = []
    train_hashes: set[str] = set()
    test_hashes: set[str] = set()
    for rel, entry in sorted(manifest["files"].items()):
        path = directory / rel
        if not path.is_file():
            issues.append(f"{rel}: missing")
            continue
        if sha256_file(path) != entry["sha256"]:
            issues.append(f"{rel}: sha256 mismatch")
        try:
            problems = load_problems(path)
        except ValueError as exc:
            issues.append(str(exc))
            continue
        if len(problems) != entry["count"]:
            issues.append(f"{rel}: {len(problems)} records, manifest says {entry['count']}")
        for p in problems:
            if (p.family, p.mode, p.split) != (entry["family"], entry["mode"], entry["split"]):
                issues.append(f"{rel}: record {p.id} has family/mode/split {(p.family, p.mode, p.split)}")
                break
        hashes = [p.meta.get("program_hash") for p in problems]
        if not all(isinstance(h, str) for h in hashes):
            issues.append(f"{rel}: a record has no meta.program_hash")
        (train_hashes if entry["split"] == "train" else test_hashes).update(h for h in hashes if isinstance(h, str))
    overlap = train_hashes & test_hashes
    if overlap:
        issues.append(f"{len(overlap)} normalized programs appear in both train and test")
    warnings = []
    if manifest.get("code_sha256") != code_fingerprint():
        warnings.append(
            "generator code changed since the suites were built; `cfcode suites verify --rebuild` "
            "tells whether the records changed (then rebuild and bump GENERATOR_VERSION)"
        )
    return VerifyReport(not issues, issues, len(manifest["files"]), warnings)


def rebuild_matches(directory: Path | None = None, sandbox_backend: str = "docker") -> list[str]:
    """Regenerate the manifest's recipe into a temporary directory; the files whose bytes differ."""
    directory = Path(directory or suites_dir())
    manifest = read_manifest(directory / MANIFEST)
    recipe = manifest["recipe"]
    with tempfile.TemporaryDirectory(prefix="cfcode-suites-") as tmp:
        fresh = build_suites(
            Path(tmp),
            sandbox_backend=sandbox_backend,
            test_size=recipe["test_size"],
            train_size=recipe["train_size"],
            families=recipe["families"],
            log=lambda m: None,
        )
    return sorted(
        rel
        for rel in set(manifest["files"]) | set(fresh["files"])
        if manifest["files"].get(rel, {}).get("sha256") != fresh["files"].get(rel, {}).get("sha256")
    )


__all__ = [  # the readers live in generators.frozen; re-exported for callers of this module
    "TRAIN_FAMILY", "TRAIN_MODE", "load_suite", "load_train_set", "suites_dir", "test_program_hashes",
    "train_program_hashes", "train_skeleton_hashes",
]
