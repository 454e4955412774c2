"""Policies that need no model: reference points every model is read against.

- `oracle`: abduction by enumeration, executing the program in the sandbox over the whole latent
  domain; it must score 100% through the env's scorer (otherwise the suite or scorer is broken).
- `skip-abduction`: reasons as if the problem were interventional, with a guessed latent; the gap
  between its interventional and counterfactual scores is the price of skipping abduction.
- `prior`: answers every output reachable under the intervention, ignoring the observation.

They write completions in the same text format a model would, so they go through the same parser.
"""
from __future__ import annotations

import ast
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from envs import latents_text, value_key
from generators import Problem, answer_text, call_text, latent_combinations, sort_answer
from rl.inference.engines import Completion
from sandbox import Job, JobResult, Sandbox, run_jobs

BASELINES: tuple[str, ...] = ("oracle", "skip-abduction", "prior")


@dataclass(frozen=True)
class _Plan:
    """Which latent assignments to try, and whether the observation filters them."""

    assignments: list[dict[str, Any]]
    use_observations: bool


def is_baseline(spec: str) -> bool:
    return spec in BASELINES


def format_answer(values: list[Any]) -> str:
    """The answer block a model is asked to write: a Python-style list inside <answer> tags."""
    return f"<answer>{answer_text(values)}</answer>"


def _all_assignments(latents: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(latents, combo)) for combo in latent_combinations(latents)]


def _guess(problem: Problem, seed: int) -> dict[str, Any]:
    """A latent guess that is deterministic per problem and seed (independent of suite order)."""
    digest = hashlib.sha256(f"{seed}:{problem.id}".encode()).digest()
    rng = random.Random(digest)
    return {name: rng.choice(domain) for name, domain in problem.latents.items()}


def _plan(policy: str, problem: Problem, seed: int) -> _Plan:
    revealed = problem.revealed if problem.mode == "interventional" and problem.revealed else None
    if policy == "oracle":
        return _Plan([dict(revealed)] if revealed else _all_assignments(problem.latents), True)
    if policy == "skip-abduction":
        return _Plan([dict(revealed) if revealed else _guess(problem, seed)], False)
    if policy == "prior":
        return _Plan(_all_assignments(problem.latents), False)
    raise ValueError(f"unknown baseline {policy!r}; choose one of {', '.join(BASELINES)}")


def _intervened_program(problem: Problem) -> str:
    """`do_internal` records carry the rewritten program in the intervention; others reuse `program`."""
    return problem.intervention.get("program") or problem.program


@lru_cache(maxsize=4096)
def _parameters(program: str, entry: str) -> tuple[str, ...]:
    """Parameter names of `entry`, read from the source: the record's `latents` dict may not keep the
    signature's order (records are serialised with sorted keys), so calls are built by name."""
    tree = ast.parse(program)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None:
        raise ValueError(f"program does not define {entry!r}")
    return tuple(a.arg for a in fn.args.args)


def _arg_list(problem: Problem, program: str, args: dict[str, Any], assignment: dict[str, Any]) -> list[Any]:
    values = {**args, **assignment}
    return [values[name] for name in _parameters(program, problem.entry)]


def _jobs(problem: Problem, plan: _Plan) -> list[Job]:
    """One factual job (every assignment x observation; oracle only) and one intervened job."""
    jobs = []
    if plan.use_observations and problem.observations:
        jobs.append(Job(problem.program, problem.entry,
                        [_arg_list(problem, problem.program, o["args"], a)
                         for a in plan.assignments for o in problem.observations]))
    program = _intervened_program(problem)
    jobs.append(Job(program, problem.entry,
                    [_arg_list(problem, program, problem.intervention["args"], a) for a in plan.assignments]))
    return jobs


def _solve(problem: Problem, plan: _Plan, results: list[JobResult]) -> tuple[list[dict], list[Any], str]:
    """Consistent assignments, the sorted distinct intervened outputs they give, and any failure."""
    failed = next((r for r in results if r.status != "ok"), None)
    if failed is not None:
        return [], [], f"{failed.status.value}: {failed.detail}"
    intervened = results[-1].values or []
    n_obs = len(problem.observations) if len(results) == 2 else 0
    keep = []
    for i in range(len(plan.assignments)):
        factual = results[0].values[i * n_obs:(i + 1) * n_obs] if n_obs else []
        if all(value_key(v) == value_key(o["output"]) for v, o in zip(factual, problem.observations)):
            keep.append(i)
    return [plan.assignments[i] for i in keep], sort_answer(intervened[i] for i in keep), ""


def _trace(policy: str, problem: Problem, plan: _Plan, kept: list[dict], answer: list[Any]) -> str:
    """A short abduction / intervention / prediction trace ending in the answer block."""
    latent_names = ", ".join(problem.latents)
    do_args = call_text(problem.entry, problem.intervention["args"])
    lines: list[str] = []
    if problem.mode == "interventional" and problem.revealed and policy != "prior":
        lines.append(f"Abduction: not needed, the latent values are given: {problem.revealed!r}.")
    elif policy == "oracle":
        evidence = "; ".join(f"{call_text(problem.entry, o['args'])} = {o['output']!r}"
                             for o in problem.observations)
        shown = kept if len(kept) <= 12 else kept[:12] + ["..."]
        lines.append(f"Abduction: trying every value of {latent_names}, the observation {evidence} "
                     f"holds for {len(kept)} of {len(plan.assignments)} candidates: {shown!r}.")
    elif policy == "skip-abduction":
        lines.append(f"Assume {latent_names} = {plan.assignments[0]!r} (a guess, without using the "
                     f"observation).")
    else:
        lines.append(f"Ignoring the observation, {latent_names} can take any of its "
                     f"{len(plan.assignments)} values.")
    lines.append(f"Intervention: set the input to {problem.intervention['args']!r}, keeping "
                 f"{latent_names} unchanged.")
    lines.append(f"Prediction: {do_args} then gives {answer!r}.")
    lines.append(format_answer(answer))
    return "\n".join(lines)


class BaselinePolicy:
    """Answers problems with one of BASELINES; shares one sandbox across all problems of a batch."""

    def __init__(self, name: str, sandbox: Sandbox, *, seed: int = 0, timeout_s: float = 0.5,
                 question: str = "predict"):
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
        if question not in ("predict", "abduce_predict"):
            raise ValueError(f"baselines answer 'predict' or 'abduce_predict' questions, got {question!r}")
        self.name, self.sandbox, self.seed, self.timeout_s = name, sandbox, seed, timeout_s
        self.question = question

    def answers(self, problems: Sequence[Problem]) -> list[list[Any]]:
        return [answer for _, answer in self._run(problems)]

    def complete(self, problems: Sequence[Problem]) -> list[Completion]:
        return [Completion(text=text, n_tokens=len(text.split()), finish_reason="stop")
                for text, _ in self._run(problems)]

    def _run(self, problems: Sequence[Problem]) -> list[tuple[str, list[Any]]]:
        plans = [_plan(self.name, p, self.seed) for p in problems]
        per_problem = [_jobs(p, plan) for p, plan in zip(problems, plans)]
        results = run_jobs(self.sandbox, [j for jobs in per_problem for j in jobs],
                           call_timeout_s=self.timeout_s)  # raises SandboxFailure on infrastructure trouble
        out, pos = [], 0
        for problem, plan, jobs in zip(problems, plans, per_problem):
            kept, answer, failure = _solve(problem, plan, results[pos:pos + len(jobs)])
            pos += len(jobs)
            if failure:  # no answer block: scored as a format failure, visible in the report
                out.append((f"The program could not be executed ({failure}).", []))
            else:
                text = _trace(self.name, problem, plan, kept, answer)
                if self.question == "abduce_predict":  # the latents the policy believes in, before the answer
                    stated = plan.assignments if self.name != "oracle" else kept
                    head, _, last = text.rpartition("\n")
                    text = f"{head}\n{latents_text(problem, stated)}\n{last}"
                out.append((text, answer))
        return out
