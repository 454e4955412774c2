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


@pytest.mark.parametrize("args, expected", [
    (["--episodes", "-1"], "--episodes: expected a positive integer, got -1"),
    (["--episodes", "0"], "--episodes: expected a positive integer, got 0"),
    (["--families", ","], "--families: expected at least one family name"),
    (["--families", "if_else,nope"], "unknown family 'nope'"),
    (["--backend", "nope"], "--backend: expected one of"),
])
def test_interactive_bench_bad_options_are_one_line_before_any_work(args, expected):
    """`--episodes -1` / `--families ,` ran the bench and ended in 'error: fmean requires at least one data
    point' (no option named); errors lacked the `cfcode: error:` prefix of every other command."""
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["env", "interactive-bench", "--families", "if_else", *args])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfcode: error: ") and expected in lines[0], result.stderr
