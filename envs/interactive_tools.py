"""Tool-call form of `CounterfactualCodeInteractive-v0`, in the shape TRL's `environment_factory` drives.

    from envs.interactive_tools import InteractiveExperimentTools
    trainer = GRPOTrainer(model, args=GRPOConfig(max_steps=..., num_generations=8), ...,
                          environment_factory=InteractiveExperimentTools.factory(group_size=8, families=["if_else"]))

TRL (>= 1.x) calls `reset(**row)` (the returned text is appended to the prompt), exposes every
public method except `reset` / `get_reward` as a tool (schema from type hints and the docstring's
Args), and reads `get_reward()` once per rollout (TRL gives the model another turn after every tool
result, `submit_answer`'s too; later calls get "The episode is over." and cannot change the reward;
after a sandbox failure `get_reward()` is None, which TRL masks;
tests/frameworks/openenv/test_interactive_tools_trl.py drives a real GRPO step through this class).
So this class has exactly two public tools:
`run_experiment` and `submit_answer`. Both go through the text env's own step, so the tool form
has exactly the text form's rules and reward (experiments refused for the same reasons, the same
cost, the same gold). Any other driver (OpenEnv, a plain loop) can call the same methods.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from envs.experiments import forbidden_args
from envs.interactive_env import CounterfactualCodeInteractiveEnv
from envs.parsing import parse_answer
from envs.values import value_key
from generators import answer_text, value_text

log = logging.getLogger(__name__)
NOT_VALUES = "<answer>not a list of values</answer>"  # what a submission that is no list of values sends
GROUP_SEED_STRIDE = 1 << 20  # episode e of group g draws seed base + e * stride + g
_warned_same_problem = False

TOOL_INSTRUCTIONS = ("\n\nUse the tool run_experiment(arguments) to call the function with the same hidden "
                     "draws at inputs of your choice (a JSON object of its arguments), and submit_answer(values) "
                     "once, with every value the function could have returned, to finish.")


class InteractiveExperimentTools:
    """One rollout's environment: `reset`, two tools, `get_reward` (see the module docstring).

    Keyword arguments are those of `CounterfactualCodeInteractiveEnv`. `reset(**row)` accepts the
    dataset columns `problem_id` (pin a problem) and `seed` (pin the episode's draws). Without
    either, the episode's seed comes from the instance's place in its group when `factory` made it,
    else from the row's other columns (so distinct prompts get distinct problems), and always from
    how many episodes the instance has played (each batch draws new problems).
    """

    def __init__(self, **env_kwargs: Any) -> None:
        self._env = CounterfactualCodeInteractiveEnv(**env_kwargs)
        self._reward = 0.0
        self._done = True
        self._episodes = 0
        self._last_info: dict[str, Any] = {}
        self._group: tuple[int, int] | None = None  # (group index, base seed) when `factory` made it
        self._lock = threading.RLock()  # one call at a time: a driver may call the tools from threads

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @classmethod
    def factory(cls, group_size: int, seed: int = 0, **env_kwargs: Any) -> Callable[[], InteractiveExperimentTools]:
        """An `environment_factory` for TRL without a `seed` or `problem_id` column (no dataset at all).

        Why: TRL hands the k-th rollout of a batch to the k-th instance it made and puts the
        `num_generations` rollouts of one prompt side by side, but its placeholder rows are all alike.
        Instance k therefore plays group k // group_size: a GRPO group shares its problem, the groups
        of a batch differ, and every batch draws new ones. Pass `group_size=num_generations`.
        (One process: under several, each numbers its own instances.)
        """
        for name, value, least in (("group_size", group_size, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        made = itertools.count()

        def make() -> InteractiveExperimentTools:
            tools = cls(**env_kwargs)
            tools._group = (next(made) // group_size, seed)
            return tools

        return make

    def reset(self, **kwargs: Any) -> str:
        """Start an episode; returns the problem text with the tool instructions."""
        with self._lock:
            return self._reset(kwargs)

    def _reset(self, kwargs: dict[str, Any]) -> str:
        self._reward, self._done, self._last_info = 0.0, True, {}  # a reset that raises leaves no episode
        seed = kwargs.get("seed")
        options = {"problem_id": kwargs["problem_id"]} if kwargs.get("problem_id") else None
        if seed is None and options is None and self._group is not None:
            seed, options = self._group_episode()
        elif seed is None:
            seed = self._episodes if options else self._unpinned_seed(kwargs)
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
        except Exception:  # noqa: BLE001 - too deep (RecursionError), not JSON, a hostile __iter__: no values
            text = NOT_VALUES
        if text != NOT_VALUES and not _reads_back(text, values):  # e.g. a string holding answer tags
            text = NOT_VALUES
        return self._step(text)

    def get_reward(self) -> float | None:
        """Correctness minus the experiment costs (0 before any answer; minus the costs if none came);
        None when the sandbox failed during the episode (TRL masks it: a verifier failure is no 0)."""
        with self._lock:
            return None if self._last_info.get("verifier_error") else float(self._reward)

    def _step(self, message: str) -> str:
        with self._lock:  # a call that waited for another may find the episode over
            return "The episode is over." if self._done else self._locked_step(message)

    def _locked_step(self, message: str) -> str:
        reply, reward, terminated, truncated, info = self._env.step(message)
        self._reward += reward
        self._done = terminated or truncated
        self._last_info = info
        return reply

    def _group_episode(self) -> tuple[int, dict[str, Any]]:
        """Seed and problem of this instance's group in its `self._episodes`-th batch (`factory`).

        Why not a seeded draw: groups drawing at random share a problem by chance (16 groups over 300
        problems: often). Group g of batch e plays position offset(e) + g of the env's families
        interleaved (family (offset + g) mod F, problem (offset + g) div F of its pool), so the groups
        of a batch get distinct problems while there are no more groups than F x the smallest pool,
        and families stay equally frequent. The seed still draws the episode's true latent."""
        group, base = self._group  # type: ignore[misc]
        families = self._env.families
        digest = hashlib.sha256(f"cfcode-group-offset:{base}:{self._episodes}".encode()).digest()
        position = int.from_bytes(digest[:8], "big") + group
        options = {"family": families[position % len(families)], "index": position // len(families)}
        return base + self._episodes * GROUP_SEED_STRIDE + group, options

    def _unpinned_seed(self, row: dict[str, Any]) -> int:
        """Distinct, reproducible episodes when the row pins nothing (see the class docstring)."""
        if _is_placeholder(row):
            _warn_same_problem()
        text = json.dumps(row, sort_keys=True, default=repr)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "big") + self._episodes

    @property
    def info(self) -> dict[str, Any]:
        """The last `info` of the underlying env (experiments, refused requests, gold at the end)."""
        return dict(self._last_info)


def _reads_back(text: str, values: list[Any]) -> bool:
    """Does the rendered answer message parse back to exactly the submitted values? A value's text must
    not be able to close the answer block and open another one."""
    parsed = parse_answer(text)
    return parsed.format_ok and [value_key(v) for v in parsed.values] == [value_key(v) for v in values]


def _limits(env: CounterfactualCodeInteractiveEnv) -> str:
    problem = env.episode_problem()
    forbidden = forbidden_args(problem)
    not_this = "" if forbidden is None else (
        f"; the question's own call {problem.entry}({', '.join(f'{k}={value_text(v)}' for k, v in forbidden.items())}) "
        "cannot be run")
    return (f" At most {env.max_experiments} experiments, each costing {env.experiment_cost:g}{not_this}. "
            "Allowed inputs: " + "; ".join(r.describe() for r in env.rules()) + ".")


def _is_placeholder(row: dict[str, Any]) -> bool:
    """TRL's stand-in row when there is no dataset: an empty user message and nothing else."""
    return set(row) <= {"prompt"} and not any(
        isinstance(m, dict) and m.get("content") for m in (row.get("prompt") or []))


def _warn_same_problem() -> None:
    global _warned_same_problem
    if not _warned_same_problem:
        _warned_same_problem = True
        log.warning("TRL passed no dataset columns: every group of a batch gets the same problem; pass "
                    "environment_factory=InteractiveExperimentTools.factory(group_size=num_generations, ...) "
                    "or a dataset with a seed or problem_id column")
