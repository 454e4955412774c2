"""Every registered family, both modes: the env's verifier agrees with the generator's ground truth."""
from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401
from envs import score_batch
from envs.scoring import reachable_job
from generators import FAMILIES
from generators.render import answer_text
from sandbox import run_jobs

FAMILY_NAMES = sorted(FAMILIES)


def pool(family: str, mode: str, question: str = "predict"):
    env_id = "CounterfactualMath-v0" if FAMILIES[family].math else "CounterfactualCode-v0"
    env = gym.make(env_id, families=[family], mode=mode, split="test", num_problems=4,
                   sandbox_backend="local", question=question).unwrapped
    return env, [item.problem for item in env.pool(family)]


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("mode", ["counterfactual", "interventional"])
def test_gold_trace_earns_full_reward(family, mode):
    env, problems = pool(family, mode)
    for problem in problems:
        prompt, _ = env.reset(options={"problem_id": problem.id})
        assert "<answer>" in prompt
        assert env.step(problem.gold_trace)[1] == 1.0, problem.id


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_listing_all_reachable_outputs_pays_nothing(family, local_sandbox):
    _, problems = pool(family, "counterfactual")
    reachable = run_jobs(local_sandbox, [reachable_job(p) for p in problems])
    completions = [f"<answer>{answer_text(r.values)}</answer>" for r in reachable]
    scores = score_batch(problems, completions, reward="f1", sandbox=local_sandbox)
    assert [s.reward for s in scores] == [0.0] * len(problems)
    assert all(s.verifier_error is None and s.f1 == 0.0 for s in scores)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_abduction_accepts_the_true_latents(family, local_sandbox):
    """In interventional mode the latents are revealed: they produced the observation, so they verify."""
    _, problems = pool(family, "interventional", question="abduce")
    truth = [f"<answer>{answer_text([p.revealed[n] for n in p.latents])}</answer>" for p in problems]
    scores = score_batch(problems, truth, question="abduce", sandbox=local_sandbox)
    assert [s.reward for s in scores] == [1.0] * len(problems), [s.error for s in scores]
