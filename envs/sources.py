"""Where an env's problems come from: a suite (file or name) or on-the-fly generation, cached.

Why a cache at module level: `reset` must be cheap and a vector env holds N copies of the same
env, so each (source, family) pool is loaded or generated once per process and shared. Each item
is prepared once (prompt text, gold keys), so a step does no per-problem work beyond scoring.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Hashable
from dataclasses import dataclass

from envs.prompts import prompt_text
from envs.shared_sandbox import shared_sandbox
from envs.values import key_set
from generators import Problem, generate, load_problems, load_suite, load_train_set


@dataclass(frozen=True)
class Item:
    """One problem as the env serves it: the record plus what each reset/step would recompute."""

    problem: Problem
    prompt: str  # user-facing text for the env's question type
    gold_keys: frozenset[Hashable]


@dataclass(frozen=True)
class SourceSpec:
    """Everything that determines a pool of problems (hashable: it is the cache key)."""

    families: tuple[str, ...]
    mode: str
    split: str
    level: int | None
    question: str
    suite: str | None = None  # path to a JSONL file, FROZEN_TEST or FROZEN_TRAIN
    num_problems: int = 128  # per family, on-the-fly generation only
    generation_seed: int = 0
    sandbox_backend: str = "auto"


# cached with the suite file's stamp on disk (None: not a file): a file rewritten in place is read again
_POOLS: dict[tuple[SourceSpec, str], tuple[tuple[int, ...] | None, tuple[Item, ...]]] = {}
_SUITES: dict[str, tuple[tuple[int, ...] | None, tuple[Problem, ...]]] = {}
_LOCK = threading.RLock()


def family_pool(spec: SourceSpec, family: str) -> tuple[Item, ...]:
    """The items of one family for `spec` (loaded or generated on first use, then cached)."""
    key = (spec, family)
    stamp = _file_stamp(spec.suite)
    with _LOCK:
        cached = _POOLS.get(key)
        if cached is None or cached[0] != stamp:
            problems = _suite_problems(spec, family) if spec.suite else _generated(spec, family)
            pool = tuple(Item(p, prompt_text(p, spec.question), key_set(p.answer)) for p in problems)
            if not pool:
                raise ValueError(f"no problems for family {family!r} (mode={spec.mode}, level={spec.level}, "
                                 f"split={spec.split}, suite={spec.suite!r})")
            cached = _POOLS[key] = (stamp, pool)
        return cached[1]


def _file_stamp(suite: str | None) -> tuple[int, ...] | None:
    """A suite file's identity (inode, size, mtime, ctime); None for the frozen names and generation.
    Why: a pool cached by path alone kept scoring a rewritten file's old problems against their old gold."""
    if not suite or suite in (FROZEN_TEST, FROZEN_TRAIN):
        return None
    try:
        st = os.stat(suite)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


FROZEN_TEST = "frozen:test"  # the frozen held-out suites (`generators.load_suite(family, mode)`)
FROZEN_TRAIN = "frozen:train"  # the frozen training set (`generators.load_train_set()`)


def suite_families(suite: str) -> list[str] | None:
    """Families present in a suite file or the frozen training set (None for frozen test suites: any)."""
    if suite == FROZEN_TEST:
        return None
    return list(dict.fromkeys(p.family for p in _load(suite)))


def _suite_problems(spec: SourceSpec, family: str) -> list[Problem]:
    suite = spec.suite or ""
    if suite == FROZEN_TEST:
        problems: tuple[Problem, ...] | list[Problem] = load_suite(family, spec.mode)
    else:
        problems = _load(suite)
    return [p for p in problems
            if p.family == family and p.mode == spec.mode and (spec.level is None or p.level == spec.level)]


def _load(suite: str) -> tuple[Problem, ...]:
    stamp = _file_stamp(suite)
    with _LOCK:
        cached = _SUITES.get(suite)
        if cached is None or cached[0] != stamp:
            problems = tuple(load_train_set()) if suite == FROZEN_TRAIN else tuple(load_problems(suite))
            cached = _SUITES[suite] = (stamp, problems)
        return cached[1]


def _generated(spec: SourceSpec, family: str) -> list[Problem]:
    return generate(family, spec.mode, spec.num_problems, spec.generation_seed, level=spec.level,
                    split=spec.split, sandbox=shared_sandbox(spec.sandbox_backend))
