"""Means with seeded 95% bootstrap intervals: the one statistic every eval table reports.

Why bootstrap: suites are a few hundred problems, so differences of a few points between base, SFT
and RL are often noise; the interval says so. Seeded numpy so reports are byte-identical.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Estimate:
    """A mean and its bootstrap interval (percentile method)."""

    mean: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Estimate:
        return cls(mean=float(data["mean"]), lo=float(data["lo"]), hi=float(data["hi"]), n=int(data["n"]))


def bootstrap_mean(values: Sequence[float], *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
                   level: float = 0.95, digits: int = 6) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval; rounded so JSON output is stable."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(resamples, data.size))
    means = data[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return Estimate(round(float(data.mean()), digits), round(float(lo), digits), round(float(hi), digits),
                    int(data.size))
