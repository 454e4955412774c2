"""The execution-verified question type "abduce": give one latent assignment consistent with the evidence.

Why: an answer like "r = 4" is not checked against a stored key but by running the problem's own
program `f(x0, 4)` in the sandbox and comparing with the observed `y0` for every observation. Any
consistent value is right, so the check needs no list of all solutions, only the program.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from envs.parsing import ParsedAnswer
from envs.signature import call_args
from envs.values import value_key
from generators import Problem, call_text, display_program, value_text
from sandbox import Job

ABDUCE_INSTRUCTION_ONE = ("Give your final answer inside <answer></answer> tags as a Python-style list "
                          "containing one possible value of {name}, in this format (the value shown is not "
                          "one of them): <answer>[{example}]</answer>.")
ABDUCE_INSTRUCTION_MANY = ("Give your final answer inside <answer></answer> tags as a Python-style list "
                           "with one possible value for each of {names}, in that order, in this format (the "
                           "values shown are not among them): <answer>[{example}]</answer>.")


def abduce_prompt(problem: Problem) -> str:
    """Prompt: the program with its random draws, the observation(s), and the question about the draws."""
    names = list(problem.latents)
    shown = display_program(problem.program, problem.entry, problem.latents)
    lines = ["Here is a Python function:", "", "```python", shown.rstrip("\n"), "```", ""]
    obs = problem.observations
    if len(obs) == 1:
        lines.append(f"We called {call_text(problem.entry, obs[0]['args'])} and it returned "
                     f"{value_text(obs[0]['output'])}.")
    else:
        lines.append(f"We called the function {len(obs)} times with the same random draws:")
        lines += [f"- {call_text(problem.entry, o['args'])} returned {value_text(o['output'])}" for o in obs]
    what = names[0] if len(names) == 1 else ", ".join(names)
    lines.append(f"Which value{'s' if len(names) > 1 else ''} of {what} could the function have drawn? "
                 "There may be more than one possibility; give any one that is consistent with every call.")
    lines.append("")
    example = ", ".join(value_text(outside_values(problem.latents[n], 1)[0]) for n in names)
    if len(names) == 1:
        lines.append(ABDUCE_INSTRUCTION_ONE.format(name=names[0], example=example))
    else:
        lines.append(ABDUCE_INSTRUCTION_MANY.format(names=", ".join(names), example=example))
    return "\n".join(lines)


def outside_values(domain: Sequence[Any], k: int) -> list[Any]:
    """`k` values of the domain's type that are not in it: the prompts' format examples.

    Why: an example drawn from the domain is a consistent value in about half of the problems, so a
    completion that copies the prompt (or always answers the example) was paid without reading it."""
    taken = {value_key(v) for v in domain}
    kinds = {type(v) for v in domain}
    typed: Iterable[Any] = ()
    if kinds and kinds <= {int, float}:
        top = max(domain)
        typed = (top + i for i in itertools.count(1))
    elif kinds == {str}:
        typed = itertools.chain("xyzw", (f"x{i}" for i in itertools.count(1)))
    # a bounded try of the domain's type (max + 1 is max again for inf or 1e308), then values of other types
    # (e.g. bools: none lies outside [True, False]); a finite domain leaves one of those free
    candidates = itertools.chain(itertools.islice(typed, len(domain) + k), [None], "xyzw", itertools.count(0))
    out: list[Any] = []
    for c in candidates:
        if value_key(c) not in taken:
            taken.add(value_key(c))
            out.append(c)
            if len(out) == k:
                return out
    return out


def assignment_from(problem: Problem, parsed: ParsedAnswer) -> tuple[dict[str, Any] | None, str | None]:
    """The latent assignment an answer proposes, using the domain's own values; (None, reason) if none.

    Accepts a list of one value per latent (in declared order) or a dict keyed by latent name.
    More values than latents ("several answers", e.g. the whole domain) is rejected, not searched.
    """
    names = list(problem.latents)
    if parsed.container == "dict":
        given = parsed.values[0]
        if set(given) != set(names):
            return None, f"dict answer must name exactly {names}"
        proposed = [given[n] for n in names]
    else:
        proposed = list(parsed.values)
        if len(proposed) != len(names):
            return None, f"expected {len(names)} value(s) (one per latent), got {len(proposed)}"
    assignment: dict[str, Any] = {}
    for name, value in zip(names, proposed):
        domain = {value_key(v): v for v in problem.latents[name]}
        key = value_key(value)
        if key not in domain:
            return None, f"{name}={value!r} is outside its domain"
        assignment[name] = domain[key]
    return assignment, None


def consistency_job(problem: Problem, assignment: dict[str, Any]) -> Job:
    """Call `entry` once per observation (arguments by parameter name); consistent iff every output matches."""
    combo = tuple(assignment[n] for n in problem.latents)
    arg_lists = [call_args(problem, o["args"], combo) for o in problem.observations]
    return Job(problem.program, problem.entry, arg_lists)


def outputs_match(problem: Problem, outputs: list[Any]) -> bool:
    return len(outputs) == len(problem.observations) and all(
        value_key(got) == value_key(o["output"]) for got, o in zip(outputs, problem.observations))
