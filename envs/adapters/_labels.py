"""What every adapter needs: the problem record back from a framework's label column.

Frameworks carry one opaque per-row value to the reward function (verl's `ground_truth`, OpenRLHF's
`label`, lm-eval's doc). The exports put the whole problem record there as a JSON string, because
that is what the scorer needs (the gold set for exact match; the program for the F1 hack rule), and
a string survives every framework's dataset loader unchanged. Parsing is cached: a GRPO group scores
the same label many times.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from generators import Problem


CACHED_LABEL_CHARS = 64 * 1024  # larger records are parsed on each use: the cache's memory stays bounded


@lru_cache(maxsize=4096)
def _from_json(text: str) -> Problem:
    return Problem.from_json(text)


def record_from_json(text: str) -> Problem:
    """The record in `text`, through the cache unless it is large (a dataset of 1 MB records would
    otherwise keep ~2 MB per row: the label and its parsed problem)."""
    return _from_json(text) if len(text) <= CACHED_LABEL_CHARS else Problem.from_json(text)


def problem_from_label(label: Any) -> Problem:
    """A `Problem` from a record's JSON text, its dict, or a `Problem`; ValueError names what came."""
    if isinstance(label, Problem):  # built in code, never validated: through the one validator, as TRL's column
        try:
            label = label.to_json()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"label is a Problem that does not serialise to JSON: {exc}") from None
    if isinstance(label, bytes):
        label = label.decode("utf-8")
    if isinstance(label, str):
        try:
            return record_from_json(label)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"label is not a counterfactual-code problem record (JSON): {exc}") from None
    if isinstance(label, dict):
        if "problem" in label and isinstance(label["problem"], (str, dict)):  # a wrapper row
            return problem_from_label(label["problem"])
        try:
            return Problem.from_dict(label)  # the one record validator (generators.schema)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"label dict is not a problem record: {exc}") from None
    raise ValueError(f"label must be a problem record (JSON string or dict), got {type(label).__name__}")


def problem_label(problem: Problem) -> str:
    """The label the exports write: the record's canonical JSON (same bytes as the JSONL line)."""
    return problem.to_json()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
