"""Comparison keys for answer values: one hashable key per value, so answers compare as sets.

Why not `==` on raw values: Python says `True == 1` and `[1] != (1,)`; an answer must be strict on
content (a bool is not a number, a string is not a number) yet tolerant of form (a tuple written
for a list, `3.0` for `3`, float noise below 12 significant digits).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Hashable, Iterable
from typing import Any


def value_key(value: Any) -> Hashable:
    """Type-aware, hashable key: equal keys <=> the same answer value."""
    kind = type(value)
    if kind is int:
        return ("n", value)
    if kind is str:
        return ("s", value)
    if kind is bool:
        return ("b", value)
    if kind is float:
        return ("n", _float_key(value))
    if value is None:
        return ("z",)
    if isinstance(value, (list, tuple)):
        return ("q", tuple(value_key(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted(((value_key(k), value_key(v)) for k, v in value.items()), key=repr)))
    if isinstance(value, (set, frozenset)):
        return ("f", frozenset(value_key(v) for v in value))
    if isinstance(value, int):  # int subclasses other than bool (e.g. numpy ints via .item() misses)
        return ("n", int(value))
    return ("o", repr(value))


def _float_key(value: float) -> int | float | str:
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.12g}")


def key_set(values: Iterable[Any]) -> frozenset[Hashable]:
    """The set of keys of a list of answer values (duplicates collapse)."""
    return frozenset(value_key(v) for v in values)


def fresh(value: Any) -> Any:
    """A copy of an answer value sharing no list or dict with it (scalars are immutable: kept as they are).

    Why: scores and infos hand values to callers; the gold is the problem's own list, shared by every later
    episode of a pooled problem, so a caller editing what it was given must not edit the problem."""
    kind = type(value)
    if kind is list or kind is tuple:
        return [fresh(v) for v in value] if kind is list else tuple(fresh(v) for v in value)
    if kind is dict:
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, dict, set, frozenset, bytearray)):
        return copy.deepcopy(value)
    return value
