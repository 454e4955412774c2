from __future__ import annotations

import math

from rl.evaluation.metrics import bootstrap_mean


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1] * 5
    a = bootstrap_mean(values, seed=3)
    b = bootstrap_mean(values, seed=3)
    assert a == b
    assert a.lo <= a.mean <= a.hi
    assert math.isclose(a.mean, 0.6)
    assert 0.4 < a.lo < 0.6 < a.hi < 0.8


def test_bootstrap_interval_narrows_with_more_data():
    small = bootstrap_mean([0, 1] * 10, seed=0)
    large = bootstrap_mean([0, 1] * 1000, seed=0)
    assert (large.hi - large.lo) < (small.hi - small.lo) / 5


def test_constant_values_have_a_degenerate_interval_and_empty_is_nan():
    e = bootstrap_mean([1.0] * 7)
    assert (e.mean, e.lo, e.hi, e.n) == (1.0, 1.0, 1.0, 7)
    empty = bootstrap_mean([])
    assert empty.n == 0 and math.isnan(empty.mean)
