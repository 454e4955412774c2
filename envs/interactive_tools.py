"""Tool-call form of `CounterfactualCodeInteractive-v0`, in the shape TRL's `environment_factory` drives.

    from envs.interactive_tools import InteractiveExperimentTools
    trainer = GRPOTrainer(model, environment_factory=lambda: InteractiveExperimentTools(families=["if_else"]),
                          args=GRPOConfig(max_steps=...), ...)

TRL (>= 1.x) calls `reset(**row)` (the returned text is appended to the prompt), exposes every
public method except `reset` / `get_reward` as a tool (schema from type hints and the docstring's
Args), and reads `get_reward()` once per rollout (TRL gives the model another turn after every tool
result, `submit_answer`'s too; later calls get "The episode is over." and cannot change the reward;
tests/frameworks/openenv/test_interactive_tools_trl.py drives a real GRPO step through this class).
So this class has exactly two public tools:
`run_experiment` and `submit_answer`. Both go through the text env's own step, so the tool form
has exactly the text form's rules and reward (experiments refused for the same reasons, the same
cost, the same gold). Any other driver (OpenEnv, a plain loop) can call the same methods.
"""
from __future__ import annotations

import json
from typing import Any

from envs.interactive_env import CounterfactualCodeInteractiveEnv
from generators import answer_text, value_text

TOOL_INSTRUCTIONS = ("\n\nUse the tool run_experiment(arguments) to call the function with the same hidden "
                     "draws at inputs of your choice (a JSON object of its arguments), and submit_answer(values) "
                     "once, with every value the function could have returned, to finish.")


class InteractiveExperimentTools:
    """One rollout's environment: `reset`, two tools, `get_reward` (see the module docstring).

    Keyword arguments are those of `CounterfactualCodeInteractiveEnv`. `reset(**row)` accepts the
    dataset columns `problem_id` (pin a problem) and `seed` (pin the episode's draws); other
    columns are ignored.
    """

    def __init__(self, **env_kwargs: Any) -> None:
        self._env = CounterfactualCodeInteractiveEnv(**env_kwargs)
        self._reward = 0.0
        self._done = True
        self._episodes = 0
        self._last_info: dict[str, Any] = {}

    def reset(self, **kwargs: Any) -> str:
        """Start an episode; returns the problem text with the tool instructions."""
        seed = kwargs.get("seed")
        options = {"problem_id": kwargs["problem_id"]} if kwargs.get("problem_id") else None
        if seed is None:  # distinct, reproducible episodes for a pooled instance
            seed = self._episodes
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"dataset column 'seed' must be a non-negative integer, got {seed!r}")
        self._episodes += 1
        _, info = self._env.reset(seed=seed, options=options)
        self._reward, self._done, self._last_info = 0.0, False, info
        problem = self._env.episode_problem()
        return problem.prompt + TOOL_INSTRUCTIONS + _limits(self._env)

    def run_experiment(self, arguments: dict) -> str:
        """Call the function once, with the hidden random draws kept, at inputs of your choice.

        Args:
            arguments: The function's observable arguments by name, for example {"x": 5}.

        Returns:
            What the call returned (or raised), or why it was not run.
        """
        if self._done:
            return "The episode is over."
        if not isinstance(arguments, dict) or not all(isinstance(k, str) and k.isidentifier() for k in arguments):
            return self._step("<run>not a call</run>")  # refused (and counted) exactly like the text form
        problem = self._env.episode_problem()
        try:
            parts = [f"{k}={value_text(v)}" for k, v in arguments.items()]
        except Exception:  # noqa: BLE001 - a hostile __repr__ must not escape the tool
            parts = ["?"]
        return self._step(f"<run>{problem.entry}({', '.join(str(p) for p in parts)})</run>")

    def submit_answer(self, values: list) -> str:
        """Give the final answer and end the episode.

        Args:
            values: Every value the function could have returned in the question's call, given all the calls seen.

        Returns:
            A confirmation.
        """
        if self._done:
            return "The episode is over."
        if not isinstance(values, list):
            values = [values]
        try:
            text = f"<answer>{answer_text(values)}</answer>"
            json.dumps(values)
        except (TypeError, ValueError):
            text = "<answer>not a list of values</answer>"
        return self._step(text)

    def get_reward(self) -> float:
        """Correctness minus the experiment costs (0 before any answer; minus the costs if none came)."""
        return float(self._reward)

    def _step(self, message: str) -> str:
        reply, reward, terminated, truncated, info = self._env.step(message)
        self._reward += reward
        self._done = terminated or truncated
        self._last_info = info
        return reply

    @property
    def info(self) -> dict[str, Any]:
        """The last `info` of the underlying env (experiments, refused requests, gold at the end)."""
        return dict(self._last_info)


def _limits(env: CounterfactualCodeInteractiveEnv) -> str:
    problem = env.episode_problem()
    return (f" At most {env.max_experiments} experiments, each costing {env.experiment_cost:g}; the "
            f"question's own call {problem.entry}({', '.join(f'{k}={value_text(v)}' for k, v in problem.intervention['args'].items())}) "
            "cannot be run. Allowed inputs: " + "; ".join(r.describe() for r in env.rules()) + ".")
