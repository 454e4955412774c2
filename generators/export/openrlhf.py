"""OpenRLHF prompt data: `--prompt_data OUT/openrlhf/<split>.parquet --input_key prompt --label_key label`.

OpenRLHF reads the label with `data[label_key]` (no nested keys), so the record travels as a flat
`label` column (its JSON, what `envs.adapters.openrlhf.reward_func` needs); `prompt` is the chat
message list for `--apply_chat_template`.
"""
from __future__ import annotations

from pathlib import Path

from generators.export.verl import data_source
from generators.schema import Problem


def schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([("prompt", pa.list_(message)), ("label", pa.string()), ("data_source", pa.string()),
                      ("id", pa.string())])


def write(splits: dict[str, list[Problem]], out: Path, name: str, command: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split, problems in splits.items():
        rows = [{"prompt": [{"role": "user", "content": p.prompt}], "label": p.to_json(),
                 "data_source": data_source(p), "id": p.id} for p in problems]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema()), out / f"{split}.parquet", compression="zstd")
