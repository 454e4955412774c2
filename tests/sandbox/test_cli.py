"""`cfcode sandbox bench --json` prints one JSON line with the agreed keys (numbers are not judged here:
timing targets belong to the benchmark itself, not to tests)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sandbox.cli import app

KEYS = {"pool_jobs_per_s", "docker_run_jobs_per_s", "fork_worker_jobs_per_s", "inprocess_jobs_per_s",
        "pool_p50_ms", "pool_p99_ms", "pool_vs_docker_run", "pool_vs_fork_worker", "python_version",
        "docker_run_parallel_jobs_per_s", "pool_vs_docker_run_parallel"}


@pytest.mark.docker
def test_bench_json_line():
    result = CliRunner().invoke(app, ["bench", "--json", "--jobs", "20", "--rounds", "1", "--naive-jobs", "2",
                                      "--latency-jobs", "20", "--calls", "10"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert KEYS <= data.keys()
    assert all(data[k] > 0 for k in KEYS - {"python_version"})
    assert data["pool_p50_ms"] <= data["pool_p99_ms"]
    assert data["pool_vs_fork_worker"] == pytest.approx(data["pool_jobs_per_s"] / data["fork_worker_jobs_per_s"],
                                                       rel=1e-2)
