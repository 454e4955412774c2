"""CI gate: the oracle baseline scores 100% through the env's scorer on every frozen suite, in full.

If this fails, a frozen suite, the generators' ground truth or the env's scorer is wrong."""
from __future__ import annotations

import pytest

from rl.evaluation import EvalConfig, evaluate


@pytest.mark.docker
def test_oracle_is_perfect_on_every_frozen_suite_and_mode():
    from generators import FAMILIES
    from rl.evaluation.suite_selection import available_suites

    assert set(available_suites()) == set(FAMILIES), "every family needs a frozen suite: cfcode suites build"
    result, records = evaluate(EvalConfig(model="oracle", suites=["all"], sandbox="docker", bootstrap_resamples=10))
    assert len(result.groups) == sum(len(FAMILIES[f].modes) for f in FAMILIES)
    failures = [(r.suite, r.mode, r.problem_id, r.parsed_answer, r.gold) for r in records if not r.correct]
    assert not failures, f"{len(failures)} wrong, e.g. {failures[:3]}"
    assert all(r.format_ok and r.verifier_error is None for r in records)
    assert all(g.n_problems >= 100 for g in result.groups)
