"""What the env benchmarks time: the completions each problem is answered with, and the episode loop.
Shared by `envs.bench` and the OpenEnv adapter's benchmark (envs/adapters/openenv_bench.py)."""
from __future__ import annotations

import time
from typing import Any

import gymnasium as gym


def completions_for(problem: Any, kind: int) -> str:
    """One of four completion styles for a problem (cycled by the benchmark)."""
    if kind == 0:
        return problem.gold_trace
    if kind == 1:
        return "Let me think about which values are possible.\n<answer>[123456]</answer>"
    if kind == 2:
        return "I am not sure, the function is random so anything can happen."
    return "It could be <answer>[1]</answer> or maybe <answer>[1, 2, 3]</answer>"


def episodes_per_second(env: gym.Env, completions: dict[str, list[str]], steps: int) -> tuple[float, float]:
    """(episodes per wall-clock second, episodes per CPU second of this process).

    The CPU-time rate is the one-core throughput even when other processes share the machine."""
    env.reset(seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(steps):
        _, info = env.reset()
        env.step(completions[info["problem_id"]][i & 3])
    return steps / (time.perf_counter() - wall), steps / max(time.process_time() - cpu, 1e-9)
