"""Reference experimenters for `CounterfactualCodeInteractive-v0`, and a small benchmark.

All three reason perfectly (abduction by executing the shown program over the latent domain in the
sandbox, exactly as the `oracle` baseline does) and differ only in the experiments they choose:
  * `none`: answers at once;
  * `random`: runs random allowed inputs until the answer is one value or the experiments run out;
  * `greedy`: runs the input that minimises the expected size of the remaining consistent set
    (sum of squared outcome-group sizes / set size, latents uniform), and stops when no candidate
    splits the set or the answer is one value.
They use only what the agent sees: the problem text's program and observations, and each
experiment's reply. A trained agent's numbers read against theirs.
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from envs.experiments import candidate_inputs, outcome_job, outcome_keys, outcome_text
from envs.interactive_env import CounterfactualCodeInteractiveEnv, interactive_answer
from envs.shared_sandbox import shared_sandbox
from envs.signature import call_args
from envs.values import value_key
from generators import Problem, call_text, latent_combinations
from sandbox import Job, Sandbox, run_jobs

POLICIES = ("none", "random", "greedy")
CANDIDATES = 24


@dataclass
class _Belief:
    """What the experimenter knows: consistent assignments and their intervention outputs."""

    combos: list[tuple[Any, ...]]
    intervened: list[Any]

    def answer(self) -> list[Any]:
        return list({value_key(v): v for v in self.intervened}.values())


def _initial_belief(problem: Problem, sandbox: Sandbox) -> _Belief:
    combos = latent_combinations(problem.latents)
    jobs = [outcome_job(problem, o["args"], combos) for o in problem.observations]
    iv_program = problem.intervention.get("program") or problem.program
    jobs.append(Job(iv_program, problem.entry,
                    [call_args(problem, problem.intervention["args"], c, iv_program) for c in combos]))
    results = run_jobs(sandbox, jobs)
    keep = list(range(len(combos)))
    for o, r in zip(problem.observations, results[:-1]):
        keys = outcome_keys(r, len(combos)) or []
        keep = [k for k in keep if k < len(keys) and keys[k] == ("ok", value_key(o["output"]))]
    iv = results[-1].values or []
    return _Belief([combos[k] for k in keep], [iv[k] for k in keep])


def _outcomes(problem: Problem, belief: _Belief, candidates: list[dict[str, Any]], sandbox: Sandbox
              ) -> list[list[Any] | None]:
    results = run_jobs(sandbox, [outcome_job(problem, c, belief.combos) for c in candidates])
    return [r.values if outcome_keys(r, len(belief.combos)) is not None else None for r in results]


def _split_score(rows: list[Any]) -> float:
    """Expected size of the remaining consistent set after seeing the outcome (uniform prior)."""
    groups = Counter(_row_key(r) for r in rows)
    return sum(n * n for n in groups.values()) / len(rows)


def _row_key(row: Any) -> Hashable:
    return ("ok", value_key(row[1])) if row[0] == "ok" else ("error", str(row[1]))


def play_episode(env: CounterfactualCodeInteractiveEnv, policy: str, sandbox: Sandbox, seed: int
                 ) -> dict[str, Any]:
    """Run one episode with `policy`; returns the final info plus the episode's total reward."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    env.reset(seed=seed)
    problem = env.episode_problem()
    rules = env.rules()
    rng = Random(f"interactive-baseline|{policy}|{seed}|{problem.id}")
    belief = _initial_belief(problem, sandbox)
    total = 0.0
    for _ in range(env.max_experiments):
        if policy == "none" or len(belief.answer()) <= 1:
            break
        candidates = candidate_inputs(problem, rules, rng, CANDIDATES)
        if not candidates:
            break
        if policy == "random":
            chosen = [rng.choice(candidates)]
            rows = _outcomes(problem, belief, chosen, sandbox)
        else:
            rows = _outcomes(problem, belief, candidates, sandbox)
            scored = [(_split_score(r), i) for i, r in enumerate(rows) if r is not None]
            if not scored or min(scored)[0] >= len(belief.combos):
                break  # no candidate can split the consistent set
            best = min(scored)[1]
            chosen, rows = [candidates[best]], [rows[best]]
        _, reward, terminated, truncated, info = env.step(f"<run>{call_text(problem.entry, chosen[0])}</run>")
        total += reward
        if terminated or truncated:
            return {**info, "total_reward": total}
        seen = info["experiments"][-1]["outcome"] if info["experiments"] else None
        if rows[0] is not None and seen is not None:
            keep = [i for i, row in enumerate(rows[0]) if outcome_text(row) == seen]
            belief = _Belief([belief.combos[i] for i in keep], [belief.intervened[i] for i in keep])
    _, reward, _, _, info = env.step(interactive_answer(belief.answer()))
    return {**info, "total_reward": total + reward}


@dataclass(frozen=True)
class InteractiveBenchConfig:
    families: Sequence[str] = ("if_else", "while", "multi_r")
    episodes: int = 20  # per family
    max_experiments: int = 3
    experiment_cost: float = 0.05
    reward: str = "precise"
    suite: str = "frozen:test"
    sandbox_backend: str = "docker"
    seed: int = 0
    min_answer_size: int = 2  # problems where experiments can matter


def run_interactive_bench(cfg: InteractiveBenchConfig, sandbox: Sandbox | None = None) -> dict[str, Any]:
    """Mean total reward, correctness, experiments used and final gold size per policy."""
    sb = sandbox or shared_sandbox(cfg.sandbox_backend)
    out: dict[str, Any] = {"config": {k: (list(v) if isinstance(v, tuple) else v)
                                      for k, v in cfg.__dict__.items()}, "policies": {}}
    for policy in POLICIES:
        rows = []
        for family in cfg.families:
            env = CounterfactualCodeInteractiveEnv(families=[family], suite=cfg.suite, reward=cfg.reward,
                                                   max_experiments=cfg.max_experiments,
                                                   experiment_cost=cfg.experiment_cost, sandbox_backend=cfg.sandbox_backend,
                                                   min_answer_size=cfg.min_answer_size)
            for episode in range(cfg.episodes):
                rows.append(play_episode(env, policy, sb, cfg.seed * 100_003 + episode))
        out["policies"][policy] = {
            "mean_reward": round(statistics.fmean(r["total_reward"] for r in rows), 4),
            "correct_rate": round(statistics.fmean(float(r["correct"]) for r in rows), 4),
            "mean_experiments": round(statistics.fmean(len(r["experiments"]) for r in rows), 3),
            "mean_gold_size": round(statistics.fmean(len(r["gold"]) for r in rows), 3),
            "single_value_rate": round(statistics.fmean(float(len(r["gold"]) == 1) for r in rows), 4),
            "episodes": len(rows),
        }
    return out
