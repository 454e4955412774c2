"""Completions that try to game the verifier, shared by the framework tests (each must pay 0 there too).

  * domain dump: every value the program can output under the intervention, whatever the latent
    (it ignores the observation; the frozen suites guarantee it is a strict superset of the gold);
  * prompt copy: the prompt itself, whose format example `<answer>[3, 7]</answer>` is an answer block;
  * several answers: the gold in one answer block, then a wrong one (the last block counts).
"""
from __future__ import annotations

import json
from typing import Any

from envs.scoring import reachable_job
from generators import load_suite
from generators.schema import Problem, sort_answer

WRONG = "not-an-output"  # a quoted string: well-formed, never an output of the integer families


def reachable_outputs(problem: Problem) -> list[Any]:
    """Outputs under the intervention for every latent assignment (trusted suite code, run in-process)."""
    job = reachable_job(problem)
    namespace: dict[str, Any] = {}
    exec(compile(job.source, "<suite program>", "exec"), namespace)  # noqa: S102 - our own frozen suite
    return sort_answer(namespace[job.entry](*args) for args in job.arg_lists)


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
