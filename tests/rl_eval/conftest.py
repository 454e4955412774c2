"""Shared fixtures: a small suites directory generated for real (every family, both modes)."""
from __future__ import annotations

from pathlib import Path

import pytest

MINI_SUITE_SIZE = 8


@pytest.fixture(scope="session")
def local_sandbox():
    from sandbox import make_sandbox

    sb = make_sandbox("local")
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def mini_suites(tmp_path_factory, local_sandbox) -> Path:
    """`<dir>/test/<family>.<mode>.jsonl` for every registered family, like the frozen suites."""
    from generators import FAMILIES, generate, write_problems

    root = tmp_path_factory.mktemp("suites")
    for family in sorted(FAMILIES):
        for mode in FAMILIES[family].modes:
            problems = generate(family, mode, MINI_SUITE_SIZE, seed=11, split="test", sandbox=local_sandbox)
            write_problems(root / "test" / f"{family}.{mode}.jsonl", problems)
    return root


def eval_config(suites_dir: Path, model: str, **kw):
    from rl.evaluation import EvalConfig

    return EvalConfig(model=model, suites_dir=str(suites_dir), sandbox=kw.pop("sandbox", "local"),
                      bootstrap_resamples=kw.pop("bootstrap_resamples", 200), **kw)
