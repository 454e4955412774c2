"""`cfcode env bench --json` runs both paths and reports numbers (no timing assertions here)."""
from __future__ import annotations

import json

import gymnasium as gym
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import envs  # noqa: F401
from envs.cli import register


def test_bench_command_reports_both_paths():
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["env", "bench", "--json", "--exact-steps", "300", "--exec-steps", "4",
                                      "--exec-batch", "4", "--exec-batches", "1", "--backend", "local",
                                      "--num-problems", "8"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["exact"]["steps"] == 300 and out["exact"]["steps_per_cpu_s_raw_env"] > 0
    assert out["execution_verified"]["backend"] == "local"
    assert out["execution_verified"]["verifier_errors"] == 0


@pytest.fixture(scope="module")
def f1_env():
    env = gym.make("CounterfactualCode-v0", families=["if_else"], num_problems=8, sandbox_backend="local",
                   reward="f1")
    yield env
    env.close()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.integers(0, 2**31 - 1))
def test_any_completion_steps_cleanly(f1_env, completion, seed):
    env = f1_env
    env.reset(seed=seed)
    _, reward, terminated, truncated, info = env.step(completion)
    assert 0.0 <= reward <= 1.0 and terminated and not truncated
    assert reward == 0.0 or info["format_ok"]
