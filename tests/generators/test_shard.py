"""`cfcode generate --shard I/N`: the N shard files concatenated are the unsharded run, byte for byte."""
from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from generators.cli import register
from generators.pipeline import chunk_plan

app = typer.Typer()
register(app)
runner = CliRunner()
BASE = ["generate", "--family", "while", "--mode", "interventional", "--n", "7", "--seed", "5", "--level", "2",
        "--backend", "local"]


def _run(tmp_path, name: str, *extra: str) -> bytes:
    out = tmp_path / name
    result = runner.invoke(app, [*BASE, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_chunk_plan_splits_chunks_contiguously():
    assert chunk_plan(7, 3) == [(0, 3), (1, 3), (2, 1)]
    assert [chunk_plan(7, 3, (i, 2)) for i in range(2)] == [[(0, 3)], [(1, 3), (2, 1)]]
    assert [chunk_plan(7, 3, (i, 4)) for i in range(4)] == [[], [(0, 3)], [(1, 3)], [(2, 1)]]
    assert chunk_plan(300, 10_000) == [(0, 300)]  # a run up to one chunk is the plain sequential run
    with pytest.raises(ValueError, match="shard"):
        chunk_plan(7, 3, (2, 2))


@pytest.mark.slow
def test_shards_concatenated_are_the_unsharded_run(tmp_path):
    whole = _run(tmp_path, "whole.jsonl", "--chunk-size", "3")
    assert whole.count(b"\n") == 7
    for n_shards in (3, 2, 4):
        parts = [_run(tmp_path, f"s{i}of{n_shards}.jsonl", "--chunk-size", "3", "--shard", f"{i}/{n_shards}")
                 for i in range(n_shards)]
        assert b"".join(parts) == whole, n_shards


@pytest.mark.slow
def test_one_chunk_is_the_sequential_run(tmp_path):
    """Runs no larger than a chunk keep their old bytes (the frozen suites depend on it)."""
    assert _run(tmp_path, "default.jsonl") == _run(tmp_path, "chunk7.jsonl", "--chunk-size", "7")


@pytest.mark.parametrize("shard", ["3/3", "1", "a/2", "-1/2", "0/0"])
def test_bad_shard_is_one_clear_line(tmp_path, shard):
    result = runner.invoke(app, [*BASE, "--out", str(tmp_path / "x.jsonl"), "--shard", shard])
    assert result.exit_code == 2 and "--shard" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()
