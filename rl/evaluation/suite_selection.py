"""Which frozen suites an evaluation runs on, and the order tables list them in.

A suite name is a family with frozen test files (`suites/test/<family>.<mode>.jsonl`), `all` for
every family that has them, or a path to any JSONL file of problems (its modes are read from the
records). Tables put the in-distribution family first, then the paper's OOD families, then the rest.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from generators import MODES, TRAIN_FAMILY, Problem, SuiteSpec, load_problems
from generators import suites_dir as default_dir

PAPER_OOD_ORDER: tuple[str, ...] = ("if_else_long", "while", "multi_r", "gsm")


def _root(suites_dir: str | Path | None) -> Path:
    return Path(suites_dir) if suites_dir else default_dir()


def _test_file(root: Path, family: str, mode: str) -> Path:
    return root / SuiteSpec(family, mode, "test", 0, 0).relpath


def available_suites(suites_dir: str | Path | None = None) -> list[str]:
    """Families with at least one frozen test file."""
    root = _root(suites_dir)
    names = {p.name.split(".")[0] for p in (root / "test").glob("*.jsonl")}
    return ordered_suites(names)


def check_suite_names(names: Sequence[str], suites_dir: str | Path | None = None) -> None:
    """What `load_named_suites` would refuse, without reading any problem (configs check it up front)."""
    root = _root(suites_dir)
    for name in names:
        if name.endswith(".jsonl"):
            if not Path(name).is_file():
                raise FileNotFoundError(f"no problem file at {name}")
        elif name != "all" and not any(_test_file(root, name, m).is_file() for m in MODES):
            raise FileNotFoundError(f"no frozen suite {name!r} under {root / 'test'} "
                                    f"(available: {', '.join(available_suites(root)) or 'none'})")


def is_in_distribution(suite: str) -> bool:
    return suite == TRAIN_FAMILY


def ordered_suites(names: Sequence[str] | set[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(PAPER_OOD_ORDER)}
    return sorted(names, key=lambda s: (not is_in_distribution(s), rank.get(s, len(rank)), s))


def load_named_suites(names: Sequence[str], modes: Sequence[str], suites_dir: str | Path | None = None
                      ) -> Iterator[tuple[str, str, list[Problem]]]:
    """Yield (suite, mode, problems) for every requested suite and mode, in table order."""
    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes or not modes:
        raise ValueError(f"modes must be a non-empty subset of {list(MODES)}, got {list(modes)}")
    root = _root(suites_dir)
    wanted: list[str] = []
    for name in names:
        if name == "all":
            found = available_suites(root)
            if not found:
                raise FileNotFoundError(f"no frozen suites under {root / 'test'}; run `cfcode suites build`")
            wanted += found
        else:
            wanted.append(name)
    seen: dict[str, str] = {}
    for name in dict.fromkeys(wanted):
        suite = Path(name).name.split(".")[0] if name.endswith(".jsonl") else name
        if suite in seen:  # results are keyed by suite name: one would silently replace the other
            raise ValueError(f"suite {suite!r} named twice ({seen[suite]!r} and {name!r}); evaluate them apart")
        seen[suite] = name
        if name.endswith(".jsonl"):
            problems = _unique_ids(load_problems(name), name)
            for mode in modes:
                yield suite, mode, [p for p in problems if p.mode == mode]
            continue
        files = {m: _test_file(root, name, m) for m in modes}
        if not any(f.is_file() for f in files.values()):
            raise FileNotFoundError(f"no frozen suite {name!r} under {root / 'test'} "
                                    f"(available: {', '.join(available_suites(root)) or 'none'})")
        for mode, path in files.items():
            if path.is_file():
                yield name, mode, _unique_ids(load_problems(path), path)


def _unique_ids(problems: list[Problem], path: str | Path) -> list[Problem]:
    """Metrics average samples per problem id: an id held by two problems would count them as one."""
    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(problems, 1):
        j = first.setdefault((p.mode, p.id), i)
        if j != i:
            raise ValueError(f"{path}: problem id {p.id!r} appears twice (problems {j} and {i}); ids must be "
                             f"unique within a suite")
    return problems
