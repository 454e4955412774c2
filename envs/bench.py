"""Benchmark: env steps per second on the exact-answer path and on the execution-verified path.

Why realistic completions: parsing cost grows with text length, so each problem is answered with
its own gold reasoning trace (a few hundred to a few thousand characters), alternating with a wrong
answer, an unformatted reply and a hedging reply, as a policy early in training would produce.
An episode is one reset plus one step; "steps/s" counts those pairs. The exact path is single-threaded,
so its rate per CPU second of the process is its one-core throughput (wall-clock rates are reported
too; they drop when other processes share the core).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

from envs.adapters import verl as verl_adapter
from envs.adapters.openenv_bench import bench_openenv
from envs.bench_episodes import completions_for, episodes_per_second
from envs.scoring import score_batch, score_completion
from envs.shared_sandbox import shared_sandbox


@dataclass
class BenchConfig:
    families: list[str] = field(default_factory=lambda: ["if_else"])
    num_problems: int = 64  # problems per family in the env's pool
    exact_steps: int = 50_000
    exec_steps: int = 256  # execution-verified ("abduce") steps, one sandbox round trip each
    exec_batch: int = 64  # completions per batched verification (TRL reward-function style)
    exec_batches: int = 8
    sandbox_backend: str = "docker"  # sandbox for the execution-verified path
    generation_sandbox_backend: str = "local"  # sandbox used to generate the pool (not timed)
    seed: int = 0


def bench_exact(cfg: BenchConfig) -> dict[str, Any]:
    """Steps/s of `CounterfactualCode-v0` with reward="exact" (raw env and through `gym.make`)."""
    env = gym.make("envs:CounterfactualCode-v0", families=cfg.families, num_problems=cfg.num_problems,
                   sandbox_backend=cfg.generation_sandbox_backend, generation_seed=cfg.seed)
    raw = env.unwrapped
    completions = {}
    for fam in raw.families:
        for item in raw.pool(fam):
            completions[item.problem.id] = [completions_for(item.problem, k) for k in range(4)]
    episodes_per_second(raw, completions, min(2_000, cfg.exact_steps))  # warm-up
    raw_wall, raw_cpu = episodes_per_second(raw, completions, cfg.exact_steps)
    made_wall, made_cpu = episodes_per_second(env, completions, cfg.exact_steps)
    mean_chars = sum(len(c) for cs in completions.values() for c in cs) / (4 * len(completions))
    env.close()
    return {"steps": cfg.exact_steps, "steps_per_cpu_s_raw_env": round(raw_cpu, 1),
            "steps_per_cpu_s_gym_make": round(made_cpu, 1), "steps_per_wall_s_raw_env": round(raw_wall, 1),
            "steps_per_wall_s_gym_make": round(made_wall, 1), "mean_completion_chars": round(mean_chars, 1),
            "target_steps_per_s": 20_000, "meets_target": raw_cpu >= 20_000}


def bench_exec(cfg: BenchConfig) -> dict[str, Any]:
    """Execution-verified ("abduce") path through the sandbox pool: single env steps and batches."""
    sandbox = shared_sandbox(cfg.sandbox_backend)
    env = gym.make("envs:CounterfactualCode-v0", families=cfg.families, num_problems=cfg.num_problems,
                   question="abduce", sandbox_backend=cfg.sandbox_backend, generation_seed=cfg.seed).unwrapped
    items = [item for fam in env.families for item in env.pool(fam)]
    answers = {it.problem.id: f"<answer>[{', '.join(repr(v[0]) for v in it.problem.latents.values())}]</answer>"
               for it in items}
    env.reset(seed=0)
    env.step(answers[env._item.problem.id])  # warm-up: starts the pool
    errors = 0
    start = time.perf_counter()
    for _ in range(cfg.exec_steps):
        _, info = env.reset()
        _, _, _, _, info = env.step(answers[info["problem_id"]])
        errors += info["verifier_error"] is not None
    step_rate = cfg.exec_steps / (time.perf_counter() - start)
    problems = [items[i % len(items)].problem for i in range(cfg.exec_batch)]
    batch = [answers[p.id] for p in problems]
    start = time.perf_counter()
    for _ in range(cfg.exec_batches):
        scores = score_batch(problems, batch, sandbox=sandbox, question="abduce")
        errors += sum(s.verifier_error is not None for s in scores)
    batch_rate = cfg.exec_batch * cfg.exec_batches / (time.perf_counter() - start)
    env.close()
    return {"backend": sandbox.backend, "steps": cfg.exec_steps, "steps_per_s_env": round(step_rate, 1),
            "batch_size": cfg.exec_batch, "completions_per_s_batched": round(batch_rate, 1),
            "verifier_errors": errors}


def _cpu_rate(fn, calls: list[tuple[Any, ...]]) -> float:
    """Calls per CPU second of this process (its one-core throughput)."""
    cpu = time.process_time()
    for args in calls:
        fn(*args)
    return len(calls) / max(time.process_time() - cpu, 1e-9)


def bench_adapters(cfg: BenchConfig) -> dict[str, Any]:
    """Completions scored per CPU second through the framework adapters, beside the env's exact path.

    Same pool, same completions, same order for every path. The verl row is `compute_score` called
    as verl's reward managers call it: the exported ground truth (the record as JSON, one string
    object per row, as verl's non-tensor batch holds it) parsed through the adapter's cache.
    Target: an adapter costs at most 2x the env's step.
    """
    env = gym.make("envs:CounterfactualCode-v0", families=cfg.families, num_problems=cfg.num_problems,
                   sandbox_backend=cfg.generation_sandbox_backend, generation_seed=cfg.seed).unwrapped
    problems = [item.problem for fam in env.families for item in env.pool(fam)]
    completions = {p.id: [completions_for(p, k) for k in range(4)] for p in problems}
    ground_truth = {p.id: p.to_json() for p in problems}
    source = {p.id: f"counterfactual_code/{p.family}/{p.mode}" for p in problems}
    steps = cfg.exact_steps
    order = [problems[(i * 7919) % len(problems)] for i in range(steps)]
    verl_calls = [(source[p.id], completions[p.id][i & 3], ground_truth[p.id], {"index": i})
                  for i, p in enumerate(order)]
    scorer_calls = [(p, completions[p.id][i & 3]) for i, p in enumerate(order)]
    episodes_per_second(env, completions, min(2_000, steps))  # warm-up (and parser caches)
    _cpu_rate(verl_adapter.compute_score, verl_calls[:2_000])
    _, env_rate = episodes_per_second(env, completions, steps)
    verl_rate = _cpu_rate(verl_adapter.compute_score, verl_calls)
    scorer_rate = _cpu_rate(score_completion, scorer_calls)
    env.close()
    return {"completions": steps, "env_steps_per_cpu_s": round(env_rate, 1),
            "scorer_completions_per_cpu_s": round(scorer_rate, 1),
            "verl_completions_per_cpu_s": round(verl_rate, 1),
            "verl_cost_vs_env": round(env_rate / verl_rate, 3), "target_cost_vs_env": 2.0,
            "meets_target": env_rate / verl_rate <= 2.0}


def run_bench(cfg: BenchConfig, exact: bool = True, execution: bool = True, adapters: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"config": asdict(cfg)}
    if exact:
        out["exact"] = bench_exact(cfg)
    if execution:
        out["execution_verified"] = bench_exec(cfg)
    if adapters:
        out["adapters"] = bench_adapters(cfg)
        out["openenv"] = _bench_openenv(cfg)
    return out


def _bench_openenv(cfg: BenchConfig) -> dict[str, Any]:
    """The OpenEnv adapter and server (envs/adapters/openenv_bench.py), where openenv is installed."""
    import importlib.util

    if importlib.util.find_spec("openenv") is None:
        return {"skipped": "openenv is not installed here: .nox/openenv/bin/cfcode env bench --adapters"}

    return bench_openenv(cfg)
