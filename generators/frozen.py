"""Reading the frozen suites: where they are, one suite, the training set, and the program hashes a
new run must avoid. Kept apart from `generators.suites` (which builds and verifies them with the
pipeline) so the pipeline can read the frozen hashes without an import cycle.

Where: `$CFCODE_SUITES_DIR` if set, else the suites shipped with the package (`generators/suites_data`,
a link to `suites/` at the repository root in a checkout, a copy of it in an installed wheel).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from generators.errors import InputError, MissingInputError
from generators.io import iter_problems, load_problems
from generators.schema import MODES, Problem

TRAIN_FAMILY = "if_else"
TRAIN_MODE = "counterfactual"
PACKAGED_SUITES = (Path(__file__).parent / "suites_data").resolve()


def suites_dir() -> Path:
    """`$CFCODE_SUITES_DIR`, else the packaged suites (`suites/` at the repository root in a checkout)."""
    return Path(os.environ.get("CFCODE_SUITES_DIR") or PACKAGED_SUITES)


def check_outside_suites(path: str | os.PathLike, field: str = "--out") -> None:
    """An output file must not land in the frozen suites (`-o suites/test/if_else.counterfactual.jsonl`
    silently replaced a held-out test suite); `cfcode suites build` is what writes there."""
    target = Path(os.path.realpath(path))
    for root in {Path(os.path.realpath(suites_dir())), PACKAGED_SUITES}:
        if target == root or root in target.parents:
            raise InputError(f"expected a path outside the frozen suites directory {root}, got {path} "
                             f"(`cfcode suites build` writes the suites)", field=field)


def _suite_path(family: str, mode: str, split: str = "test") -> Path:
    return suites_dir() / f"{split}/{family}.{mode}.jsonl"


def load_suite(family: str, mode: str) -> list[Problem]:
    """The frozen test suite of a family and mode."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {list(MODES)}, got {mode!r}")
    path = _suite_path(family, mode)
    if not path.is_file():
        raise MissingInputError(
            f"no frozen suite {path}; run `cfcode suites build` (known families: "
            f"{sorted(p.name.split('.')[0] for p in path.parent.glob('*.jsonl'))})"
        )
    return load_problems(path)


def load_train_set() -> list[Problem]:
    """The frozen training set (if_else, counterfactual)."""
    return load_problems(_suite_path(TRAIN_FAMILY, TRAIN_MODE, "train"))


@lru_cache(maxsize=8)
def cached_hashes(directory: str, split: str, key: str) -> frozenset[str]:
    out: set[str] = set()
    for path in sorted(Path(directory, split).glob("*.jsonl")):
        for problem in iter_problems(path):
            value = problem.meta.get(key)
            if not isinstance(value, str):
                raise InputError(f"expected a hash string, got {value!r}", where=str(path), field=f"meta.{key}")
            out.add(value)
    return frozenset(out)


def _exclusion_dir() -> str:
    """The suites a run must avoid. A CFCODE_SUITES_DIR that names no directory (a typo) silently meant
    nothing to avoid: training programs could then repeat the frozen test suites."""
    directory = suites_dir()
    if os.environ.get("CFCODE_SUITES_DIR") and not directory.is_dir():
        raise MissingInputError(f"expected an existing directory of frozen suites, got {str(directory)!r}",
                                field="CFCODE_SUITES_DIR")
    return str(directory)


def test_program_hashes() -> frozenset[str]:
    """Normalized program hashes of every frozen test suite (a train run must avoid them)."""
    directory = _exclusion_dir()
    if os.environ.get("CFCODE_SUITES_DIR") and not any(Path(directory, "test").glob("*.jsonl")):
        # an empty or unrelated directory meant nothing to avoid, like a typo did
        raise MissingInputError(f"expected frozen test suites ({Path(directory, 'test')}/*.jsonl), found none",
                                field="CFCODE_SUITES_DIR")
    return cached_hashes(directory, "test", "program_hash")


def train_program_hashes() -> frozenset[str]:
    return cached_hashes(_exclusion_dir(), "train", "program_hash")


def train_skeleton_hashes() -> frozenset[str]:
    """Structural templates of the frozen training set (an OOD family must avoid them)."""
    return cached_hashes(_exclusion_dir(), "train", "skeleton_hash")
