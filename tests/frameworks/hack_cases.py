"""Completions that try to game the verifier, shared by the framework tests (each must pay 0 there too).

  * domain dump: every value the program can output under the intervention, whatever the latent
    (it ignores the observation; the frozen suites guarantee it is a strict superset of the gold);
  * prompt copy: the prompt itself, whose format example `<answer>[3, 7]</answer>` is an answer block;
  * several answers: the gold in one answer block, then a wrong one (the last block counts).
"""
from __future__ import annotations

import inspect
import itertools
import json
from typing import Any

from generators import load_suite
from generators.schema import Problem, sort_answer

WRONG = "not-an-output"  # a quoted string: well-formed, never an output of the integer families


def reachable_outputs(problem: Problem) -> list[Any]:
    """Outputs under the intervention for every latent assignment (trusted suite code, run in-process;
    arguments passed by parameter name, as records store latents in sorted order)."""
    namespace: dict[str, Any] = {}
    program = problem.intervention.get("program") or problem.program
    exec(compile(program, "<suite program>", "exec"), namespace)  # noqa: S102 - our own frozen suite
    f = namespace[problem.entry]
    names = list(problem.latents)
    outputs = []
    for combo in itertools.product(*problem.latents.values()):
        kwargs = {**problem.intervention["args"], **dict(zip(names, combo))}
        outputs.append(f(**{k: kwargs[k] for k in inspect.signature(f).parameters}))
    return sort_answer(outputs)


def answer_block(values: list[Any]) -> str:
    return f"<answer>{json.dumps(values)}</answer>"


def hack_completions(problem: Problem) -> dict[str, str]:
    return {
        "domain_dump": "Every output is possible: " + answer_block(reachable_outputs(problem)),
        "prompt_copy": problem.prompt,
        "several_answers": f"Maybe {answer_block(problem.answer)}, or rather {answer_block([WRONG])}",
    }


def hackable_problems(family: str = "if_else", mode: str = "counterfactual", n: int = 3) -> list[Problem]:
    """Frozen-suite problems where each hack is a real attempt: the dump is a strict superset of the gold
    and the prompt's format example `[3, 7]` shares no value with the gold."""
    chosen = []
    for p in load_suite(family, mode):
        if "<answer>[3, 7]</answer>" in p.prompt and not {3, 7} & set(p.answer) \
                and len(reachable_outputs(p)) > len(p.answer):
            chosen.append(p)
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"fewer than {n} hackable problems in {family}.{mode}")
