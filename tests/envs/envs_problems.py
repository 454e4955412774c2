"""Hand-built problem records for the envs tests (a unique module name: no clash with other areas)."""
from __future__ import annotations

from generators.schema import Problem

MOD_PROGRAM = "def f(x, r):\n    return (x * r) % 6\n"


def make_problem(pid: str, *, program: str = MOD_PROGRAM, latents=None, inputs=("x",), observations=None,
                 intervention=None, answer=None, mode: str = "counterfactual", revealed=None, meta=None,
                 family: str = "if_else") -> Problem:
    return Problem(
        id=pid, family=family, mode=mode, split="test", level=3, program=program, entry="f",
        inputs=list(inputs), latents=latents or {"r": [0, 1, 2, 3, 4, 5]},
        observations=observations or [{"args": {"x": 2}, "output": 2}],
        intervention=intervention or {"args": {"x": 5}}, answer=answer if answer is not None else [2, 5],
        prompt="Here is a Python function ... Give your final answer inside <answer></answer> tags.",
        python_version="3.11", revealed=revealed,
        meta={"unconditioned_answer_size": 6} if meta is None else meta,
        gold_trace="... so the answer is\n<answer>[2, 5]</answer>",
    )
