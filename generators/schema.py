"""The problem record: one abduction-intervention-prediction problem, one JSONL line.

Every downstream consumer (env, SFT data, eval) reads these records and nothing else, so the
schema is versioned and serialised canonically (sorted keys, no whitespace variance) so that
the same seed gives byte-identical files.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

SCHEMA_VERSION = 1

Mode = Literal["counterfactual", "interventional"]
MODES: tuple[str, ...] = ("counterfactual", "interventional")


@dataclass(frozen=True)
class Observation:
    args: dict[str, Any]
    output: Any


@dataclass
class Problem:
    """One problem. `program` is executable Python; latents are parameters of `entry`."""

    id: str
    family: str
    mode: str  # "counterfactual" | "interventional"
    split: str  # "train" | "test"
    level: int  # curriculum level 1-5
    program: str  # executable source; latents are parameters
    entry: str  # function name to call
    inputs: list[str]  # observable argument names
    latents: dict[str, list[Any]]  # latent name -> full domain
    observations: list[dict[str, Any]]  # [{"args": {...}, "output": v}] factual evidence
    intervention: dict[str, Any]  # {"args": {...}}  (do_internal: also "internal": {...})
    answer: list[Any]  # sorted distinct values
    prompt: str
    python_version: str
    revealed: dict[str, Any] | None = None  # latent values, interventional mode only
    meta: dict[str, Any] = field(default_factory=dict)  # knobs, template id, hashes
    gold_trace: str = ""  # step-by-step abduction / intervention / prediction, ends in <answer>...</answer>
    schema_version: int = SCHEMA_VERSION
    generator_version: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Problem:
        data = json.loads(line)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown problem fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_answer(values) -> list[Any]:
    """Canonical answer order: distinct values, sorted by (type name, JSON text) so mixed types sort."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True), v)
    return [seen[k] for k in sorted(seen, key=lambda k: (type(seen[k]).__name__, _num_key(seen[k]), k))]


def _num_key(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
