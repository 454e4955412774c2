"""verifiers environment `cfcode-counterfactual` (verifiers 0.3.1, classic SingleTurnEnv/Rubric).

A thin entry point: the environment lives in the counterfactual-code project
(`envs.adapters.verifiers_env`), so the hub package and `cfcode eval` share one parser and scorer.
"""
from envs.adapters.verifiers_env import load_environment

__all__ = ["load_environment"]
