"""lm-evaluation-harness metric hook: `process_results(doc, results)` with the env's own scorer.

The task folder written by `cfcode export --format lm_eval` points its YAMLs here (through its
`utils.py`). `doc["record"]` is the problem record as JSON; `results` is lm-eval's list of filtered
generations for the doc (one with the default `take_first` filter). Metrics: `exact_match`, `f1`,
`format_ok`, each the per-doc value that `cfcode eval` averages, so a task's `exact_match` equals
`cfcode eval`'s exact match on the same completions.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envs.adapters._labels import problem_from_label
from envs.scoring import check_reward, real_list, score_completion


def process_results(doc: dict[str, Any], results: Sequence[Any], reward: str = "exact") -> dict[str, float]:
    check_reward(reward)
    problem = problem_from_label(doc.get("record", doc))
    items = real_list(results) if isinstance(results, (list, tuple)) else []  # its items, not what it says
    text = items[0] if items else ""
    if isinstance(text, (list, tuple)):  # some lm-eval filters return (text, ...) tuples
        inner = real_list(text)
        text = inner[0] if inner else ""
    if not isinstance(text, str):  # not a generation: never str() it (an object's __str__ could say anything)
        text = ""
    score = score_completion(problem, text, reward=reward)
    return {"exact_match": float(score.correct), "f1": float(score.f1), "format_ok": float(score.format_ok)}
