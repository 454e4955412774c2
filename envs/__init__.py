"""Gymnasium environments and verifiable rewards for counterfactual reasoning through code.

    import gymnasium as gym
    env = gym.make("envs:CounterfactualCode-v0")        # or `import envs; gym.make("CounterfactualCode-v0")`
    from envs import parse_answer, score_completion, render_prompt, trl_rows, counterfactual_reward
"""
from __future__ import annotations

import gymnasium as gym

from envs.abduction_set import latents_text
from envs.code_env import CounterfactualCodeEnv, CounterfactualMathEnv
from envs.parsing import ParsedAnswer, ParserLimits, parse_answer
from envs.prompts import render_prompt
from envs.scoring import QUESTIONS, REWARDS, Score, check_question, score_batch, score_completion
from envs.trl_reward import counterfactual_f1_reward, counterfactual_reward, make_reward_fn, trl_rows
from envs.values import value_key

ENV_IDS = {
    "CounterfactualCode-v0": "envs.code_env:CounterfactualCodeEnv",
    "CounterfactualMath-v0": "envs.code_env:CounterfactualMathEnv",
    "CounterfactualCodeInteractive-v0": "envs.interactive_env:CounterfactualCodeInteractiveEnv",
}


def register_envs() -> None:
    """Register the env ids with gymnasium (idempotent; also the `gymnasium.envs` entry point)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


register_envs()

__all__ = [
    "ENV_IDS", "QUESTIONS", "REWARDS", "CounterfactualCodeEnv", "CounterfactualMathEnv", "ParsedAnswer",
    "ParserLimits", "Score", "check_question", "counterfactual_f1_reward", "counterfactual_reward",
    "latents_text", "make_reward_fn", "parse_answer", "register_envs", "render_prompt", "score_batch",
    "score_completion", "trl_rows", "value_key",
]
