"""`CounterfactualCodeInteractive-v0`: gather the evidence abduction needs, then answer.

    env = gym.make("envs:CounterfactualCodeInteractive-v0", families=["if_else"], max_experiments=3)
    prompt, info = env.reset(seed=0)
    reply, reward, terminated, truncated, info = env.step("<run>f(x=2)</run>")     # an experiment
    reply, reward, terminated, truncated, info = env.step("<answer>[4]</answer>")  # the answer

Each episode fixes one true latent assignment, drawn (seeded) among those consistent with the
problem's factual observation(s). Before answering, the agent may run up to `max_experiments`
experiments: one call of the function per message at inputs of its choice (never the
intervention's, unless the intervention changes the function itself), executed in the sandbox with
the true latent; the reply is what the call returned (or raised; cut at 1,000 characters, and every
reply fits the observation space). The gold answer is the set of intervention outputs over the latent
assignments consistent with *every* observation so far, so good experiments shrink it, ideally to one
value.

Rewards (summed over the episode): `-experiment_cost` on each executed experiment, and on the
answer step the correctness: "exact" (answer set == gold set), "f1" (the env's gated set F1: one
value the evidence rules out makes it 0, see `envs.scoring.partial_credit`) or "precise" (exact /
|gold|: full credit only when the evidence pins one value, so that experiments pay for themselves).

Rules that keep the reward honest: a message containing `<run>` is an experiment request and never
an answer; one experiment per message; refused requests (not a call of the function, non-literal
or out-of-range arguments, the intervention's own input, several runs) use up an experiment slot
without running anything; after the last slot the next message must be the answer; a message with
neither a run nor an answer ends the episode unanswered (reward: minus the costs).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from envs.code_env import CounterfactualCodeEnv
from envs.experiments import (
    Experiment,
    ExperimentRefused,
    InputRule,
    forbidden_args,
    input_rules,
    outcome_job,
    outcome_keys,
    outcome_text,
    parse_run,
    same_args,
    same_outcome,
)
from envs.parsing import parse_answer
from envs.scoring import completion_text, partial_credit
from envs.shared_sandbox import shared_sandbox
from envs.signature import call_args
from envs.sources import Item
from envs.values import key_set, value_key
from generators import Problem, answer_text, call_text, latent_combinations, sort_answer
from sandbox import Job, SandboxFailure, run_jobs

INTERACTIVE_REWARDS = ("exact", "f1", "precise")
_RUN_OPEN = re.compile(r"<\s*run\s*>", re.IGNORECASE)
_RUN_BLOCK = re.compile(r"<\s*run\s*>(.*?)<\s*/\s*run\s*>", re.IGNORECASE | re.DOTALL)
_RUN_ANY = re.compile(r"<\s*/?\s*run\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Tables:
    """Per problem, computed once in the sandbox: latent assignments, which fit the factual
    observation(s), and the intervention's output under each."""

    combos: list[tuple[Any, ...]]
    consistent: tuple[int, ...]
    intervened: list[Any]


_TABLES: dict[tuple[str, str], _Tables] = {}
_TABLES_LOCK = threading.Lock()


def _content_key(problem: Problem) -> tuple[str, str]:
    """Cache key over everything the tables depend on (not just the id: ids repeat across files)."""
    text = json.dumps([problem.program, problem.entry, problem.inputs, problem.latents, problem.observations,
                       problem.intervention], sort_keys=True)
    return problem.id, hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Episode:
    item: Item
    tables: _Tables
    rules: list[InputRule]
    true_k: int
    consistent: list[int]
    slots_left: int
    experiments: list[Experiment] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    cost: float = 0.0
    done: bool = False


class CounterfactualCodeInteractiveEnv(CounterfactualCodeEnv):
    """Multi-turn text env: experiments (`<run>f(...)</run>`) then an answer (`<answer>[...]</answer>`).

    Args (besides `CounterfactualCodeEnv`'s families, split, suite, level, sandbox_backend,
    num_problems, generation_seed, max_prompt_chars, max_completion_chars, render_mode):
        max_experiments: K, experiments allowed per episode (0: answer at once).
        experiment_cost: reward subtracted for each executed experiment.
        reward: "exact" | "f1" | "precise" (see the module docstring).
        max_input_abs: integers in experiments lie within +-max(max_input_abs, 2 x the largest
            observed magnitude); strings and lists are bounded in length; custom records
            (`cfcode counterfactualize`) use their declared input domains.
        min_answer_size: serve only problems whose counterfactual answer has at least this many
            values (2: problems where experiments can matter).

    Observation: the prompt at reset, then the reply to each experiment (plain text).
    Action: the agent's message. `info` on every step: experiments (call, args, outcome,
    ruled_out, remaining), refused requests, experiments_used / experiments_left, consistent
    (assignments left), cost; on the final step also correct, f1, correctness, parsed_answer, gold,
    format_ok, error, verifier_error, episode_reward and true_latents.
    """

    def __init__(self, families: str | list[str] | None = None, split: str = "train", suite: str | None = None,
                 level: int | None = None, max_experiments: int = 3, experiment_cost: float = 0.05,
                 reward: str = "exact", sandbox_backend: str = "auto", num_problems: int = 128,
                 generation_seed: int = 0, max_input_abs: int = 100, min_answer_size: int = 1,
                 max_prompt_chars: int = 32_768,
                 max_completion_chars: int = 131_072, render_mode: str | None = None) -> None:
        if reward not in INTERACTIVE_REWARDS:
            raise ValueError(f"reward must be one of {INTERACTIVE_REWARDS}, got {reward!r}")
        if type(max_experiments) is not int or not 0 <= max_experiments <= 64:
            raise ValueError(f"max_experiments must be an integer in 0..64, got {max_experiments!r}")
        if not _finite_number(experiment_cost) or experiment_cost < 0:
            raise ValueError(f"experiment_cost must be a finite number >= 0, got {experiment_cost!r}")
        if type(max_input_abs) is not int or max_input_abs < 1:
            raise ValueError(f"max_input_abs must be a positive integer, got {max_input_abs!r}")
        super().__init__(families=families, mode="counterfactual", split=split, suite=suite, level=level,
                         reward="f1" if reward == "f1" else "exact", prompt_style="plain", question="predict",
                         sandbox_backend=sandbox_backend, num_problems=num_problems,
                         generation_seed=generation_seed, max_prompt_chars=max_prompt_chars,
                         max_completion_chars=max_completion_chars, render_mode=render_mode)
        self.interactive_reward = reward
        self.max_experiments = max_experiments
        self.experiment_cost = float(experiment_cost)
        self.max_input_abs = max_input_abs
        if type(min_answer_size) is not int or min_answer_size < 1:
            raise ValueError(f"min_answer_size must be a positive integer, got {min_answer_size!r}")
        self.min_answer_size = min_answer_size
        self._episode: _Episode | None = None

    # -- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Pick a problem (as `CounterfactualCode-v0` does) and a true latent among the consistent ones."""
        self._episode = None  # a reset that fails leaves nothing to step
        super().reset(seed=seed, options=options)
        item = self._item
        assert item is not None
        tables = self.tables(item.problem)
        true_k = tables.consistent[int(self.np_random.integers(len(tables.consistent)))]
        self._episode = _Episode(item, tables, input_rules(item.problem, self.max_input_abs), true_k,
                                 list(tables.consistent), self.max_experiments)
        prompt = self.prompt(item)
        if not self.observation_space.contains(prompt):
            raise ValueError(f"prompt of {item.problem.id} exceeds max_prompt_chars; raise it")
        return prompt, self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        ep = self._episode
        if ep is None or ep.done:
            raise gym.error.ResetNeeded("call reset() before step(); the episode has ended")
        text = completion_text(action)
        if text is None:
            text = ""
        self._last = text
        if _RUN_ANY.search(text):
            if ep.slots_left <= 0:
                return self._end_unanswered(ep, "no experiments left: the answer was due")
            return self._experiment(ep, text)
        return self._answer(ep, text)

    # -- episode steps -------------------------------------------------------------------------
    def _experiment(self, ep: _Episode, text: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        ep.slots_left -= 1
        problem = ep.item.problem
        try:
            # count the opening tags first: with many unclosed tags the block search is quadratic
            if len(_RUN_OPEN.findall(text)) != 1 or len(blocks := _RUN_BLOCK.findall(text)) != 1:
                raise ExperimentRefused("write exactly one <run>...</run> per message")
            args = parse_run(blocks[0], problem.entry, ep.rules)
            forbidden = forbidden_args(problem)
            if forbidden is not None and same_args(args, forbidden):
                raise ExperimentRefused("the intervention's own input cannot be run: that is the question")
        except ExperimentRefused as refused:
            ep.refused.append({"request": text[:200], "reason": str(refused)})
            return self._reply(ep, f"Not run: {refused}."), 0.0, False, False, self._info()
        combos = [ep.tables.combos[k] for k in ep.consistent]
        try:
            (result,) = run_jobs(self._sandbox(), [outcome_job(problem, args, combos)])
        except (SandboxFailure, OSError, RuntimeError) as exc:
            return self._verifier_failure(ep, f"experiment failed in the sandbox: {type(exc).__name__}: {exc}")
        keys = outcome_keys(result, len(combos))
        true_pos = ep.consistent.index(ep.true_k)
        if keys is None:  # the whole job failed: e.g. the call loops for some latent value
            outcome = f"did not finish ({result.status.value})"
            kept = list(ep.consistent)
        else:
            outcome = outcome_text(result.values[true_pos])  # type: ignore[index]
            same = same_outcome(result.values, keys, true_pos, outcome)  # type: ignore[arg-type]
            kept = [k for k, alike in zip(ep.consistent, same) if alike]
        ep.cost += self.experiment_cost
        experiment = Experiment(call_text(problem.entry, args), args, outcome, len(ep.consistent) - len(kept),
                                len(kept))
        ep.consistent = kept
        ep.experiments.append(experiment)
        return (self._reply(ep, f"{experiment.call} {outcome}."), -self.experiment_cost, False, False,
                self._info())

    def _answer(self, ep: _Episode, text: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        ep.done = True
        gold = self.gold()
        parsed = parse_answer(text)
        gold_keys = key_set(gold)
        info = self._info()
        if not parsed.format_ok:
            correctness, correct, f1, error = 0.0, False, 0.0, parsed.error
        else:
            answer = key_set(parsed.values)
            f1 = partial_credit(answer, gold_keys)  # the env's gated F1: one impossible value -> 0
            correct = answer == gold_keys
            error = None if correct else ("wrong answer: a value the evidence rules out" if not answer <= gold_keys
                                          else "wrong answer: some possible values are missing")
            if self.interactive_reward == "exact":
                correctness = float(correct)
            elif self.interactive_reward == "precise":
                correctness = float(correct) / len(gold_keys)
            else:
                correctness = f1
        info.update({"correct": correct, "f1": f1, "correctness": correctness, "format_ok": parsed.format_ok,
                     "parsed_answer": list(parsed.values) if parsed.format_ok else None, "error": error,
                     "verifier_error": None, "gold": list(gold), "episode_reward": correctness - ep.cost,
                     "true_latents": self._true_latents(ep)})
        return self._reply(ep, "Answer received."), correctness, True, False, info

    def _end_unanswered(self, ep: _Episode, why: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        ep.done = True
        info = self._info()
        info.update({"correct": False, "f1": 0.0, "correctness": 0.0, "format_ok": False, "parsed_answer": None,
                     "error": why, "verifier_error": None, "gold": self.gold(), "episode_reward": -ep.cost,
                     "true_latents": self._true_latents(ep)})
        return self._reply(ep, f"Episode over: {why}."), 0.0, True, False, info

    def _verifier_failure(self, ep: _Episode, why: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        ep.done = True
        info = self._info()
        info.update({"correct": False, "f1": 0.0, "correctness": 0.0, "format_ok": False, "parsed_answer": None,
                     "error": None, "verifier_error": why, "gold": self.gold(), "episode_reward": 0.0,
                     "true_latents": self._true_latents(ep)})
        return "Episode over: the sandbox failed.", 0.0, False, True, info

    # -- helpers -------------------------------------------------------------------------------
    def gold(self) -> list[Any]:
        """Intervention outputs over the latent assignments consistent with every observation so far."""
        ep = self._episode
        if ep is None:
            raise gym.error.ResetNeeded("call reset() first")
        return sort_answer(ep.tables.intervened[k] for k in ep.consistent)

    def _true_latents(self, ep: _Episode) -> dict[str, Any]:
        return dict(zip(ep.item.problem.latents, ep.tables.combos[ep.true_k]))

    def _reply(self, ep: _Episode, message: str) -> str:
        """The observation after a step: the message, cut so that the whole reply lies in the observation
        space (a refusal may quote a long argument name), then how many experiments are left."""
        if ep.done:
            suffix = ""
        elif ep.slots_left <= 0:
            suffix = " No experiments left: give your answer now."
        else:
            suffix = f" {ep.slots_left} experiment{'s' if ep.slots_left != 1 else ''} left."
        room = self.observation_space.max_length - len(suffix)
        if len(message) > room:
            message = message[:max(room - 3, 0)] + "..."
        return (message + suffix)[:self.observation_space.max_length]

    def _info(self) -> dict[str, Any]:
        ep = self._episode
        assert ep is not None
        info = self._problem_info(ep.item)
        info.update({"question": "interactive", "max_experiments": self.max_experiments,
                     "experiments": [e.to_dict() for e in ep.experiments],
                     "refused": [dict(r) for r in ep.refused],
                     "experiments_used": self.max_experiments - ep.slots_left,
                     "experiments_left": ep.slots_left, "consistent": len(ep.consistent),
                     "cost": ep.cost})
        return info

    def _sandbox(self):
        return shared_sandbox(self.source.sandbox_backend)

    def prompt(self, item: Item) -> str:
        """The problem's prompt plus the experiment protocol (text form)."""
        # not cached by id: ids repeat across families and files (a cached prompt served another problem's)
        return item.problem.prompt + protocol_text(item.problem, self.max_experiments, self.experiment_cost,
                                                   input_rules(item.problem, self.max_input_abs))

    def tables(self, problem: Problem) -> _Tables:
        """Latent assignments, the consistent ones and the intervention outputs (sandbox, cached)."""
        key = _content_key(problem)
        with _TABLES_LOCK:
            cached = _TABLES.get(key)
        if cached is not None:
            return cached
        combos = latent_combinations(problem.latents)
        jobs = [Job(problem.program, problem.entry, [call_args(problem, o["args"], c) for c in combos])
                for o in problem.observations]
        iv_program = problem.intervention.get("program") or problem.program
        jobs.append(Job(iv_program, problem.entry,
                        [call_args(problem, problem.intervention["args"], c, iv_program) for c in combos]))
        results = run_jobs(self._sandbox(), jobs)
        bad = next((r for r in results if r.status != "ok"), None)
        if bad is not None:
            raise ValueError(f"{problem.id}: the program fails in the sandbox ({bad.status.value} {bad.detail})")
        factual = [r.values or [] for r in results[:-1]]
        consistent = tuple(k for k in range(len(combos)) if all(
            value_key(f[k]) == value_key(o["output"]) for f, o in zip(factual, problem.observations)))
        if not consistent:
            raise ValueError(f"{problem.id}: no latent assignment reproduces the observation")
        tables = _Tables(combos, consistent, list(results[-1].values or []))
        with _TABLES_LOCK:
            _TABLES[key] = tables
        return tables

    def pool(self, family: str) -> tuple[Item, ...]:
        """The family's problems whose counterfactual answer has at least `min_answer_size` values."""
        pool = super().pool(family)
        if self.min_answer_size > 1:
            pool = tuple(it for it in pool if len(it.problem.answer) >= self.min_answer_size)
            if not pool:
                raise ValueError(f"no {family!r} problem has an answer of {self.min_answer_size} or more values")
        return pool

    def episode_problem(self) -> Problem:
        """The current problem record (what the agent was shown; no hidden state)."""
        if self._episode is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._episode.item.problem

    def rules(self) -> list[InputRule]:
        if self._episode is None:
            raise gym.error.ResetNeeded("call reset() first")
        return list(self._episode.rules)


def _finite_number(value: Any) -> bool:
    """A real int or float (not a bool) that is finite as a float (an int too large for one is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def protocol_text(problem: Problem, max_experiments: int, cost: float, rules: list[InputRule]) -> str:
    """How to run experiments, appended to the problem's prompt."""
    if max_experiments == 0:
        return ""
    plural = len(problem.latents) > 1
    example = call_text(problem.entry, problem.observations[0]["args"])
    forbidden = forbidden_args(problem)
    not_this = "" if forbidden is None else f" You may not run {call_text(problem.entry, forbidden)} itself."
    return (
        "\n\nBefore you answer, you may run experiments: call the function yourself, with the same "
        f"random draw{'s' if plural else ''}, by writing one call per message, e.g. <run>{example}</run>; "
        f"the reply says what it returned. You may run at most {max_experiments} "
        f"experiment{'s' if max_experiments != 1 else ''}; each costs {cost:g} of the reward.{not_this} Allowed inputs: "
        + "; ".join(r.describe() for r in rules)
        + ". A message with an answer ends the episode; the answer is scored against the values still "
        "possible given every call you have seen, and a message with <run> is never an answer."
    )


def interactive_answer(values: list[Any]) -> str:
    """The answer message for a list of values."""
    return f"<answer>{answer_text(sort_answer(values))}</answer>"
