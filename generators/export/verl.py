"""verl RL parquet: the columns verl's RLHFDataset and reward managers read.

`prompt` is the chat message list verl runs through the model's chat template; `reward_model.
ground_truth` is the whole problem record as JSON (what `envs.adapters.verl.compute_score` needs);
`data_source` names family and mode so verl's validation metrics come out per suite.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from generators.schema import Problem

ABILITY = "counterfactual_reasoning"


def data_source(problem: Problem) -> str:
    return f"counterfactual_code/{problem.family}/{problem.mode}"


def schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(message)),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("id", pa.string()),
                                  ("family", pa.string()), ("mode", pa.string()), ("level", pa.int64())])),
    ])


def row(problem: Problem, split: str, index: int) -> dict[str, Any]:
    return {
        "data_source": data_source(problem),
        "prompt": [{"role": "user", "content": problem.prompt}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": problem.to_json()},
        "extra_info": {"split": split, "index": index, "id": problem.id, "family": problem.family,
                       "mode": problem.mode, "level": problem.level},
    }


def write(splits: dict[str, list[Problem]], out: Path, name: str, command: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split, problems in splits.items():
        table = pa.Table.from_pylist([row(p, split, i) for i, p in enumerate(problems)], schema=schema())
        pq.write_table(table, out / f"{split}.parquet", compression="zstd")
