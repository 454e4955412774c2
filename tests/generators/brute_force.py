"""The test oracle: the counterfactual answer by plain enumeration, independent of the generator
pipeline (its own product over the domain, its own consistency check and set logic), calling the
sandbox one plain request per program instead of the generator's packed runner."""
from __future__ import annotations

import itertools
import json

from generators.schema import Problem
from sandbox import ExecRequest


def _key(v):
    return json.dumps(v, sort_keys=True)


def brute_force(problem: Problem, sandbox) -> tuple[set[str], set[str]]:
    """(answer, unconditioned answer) of a record as sets of JSON texts, recomputed from program,
    domain and evidence."""
    names = list(problem.latents)
    assignments = list(itertools.product(*(problem.latents[n] for n in names)))
    if problem.mode == "interventional":
        assignments = [tuple(problem.revealed[n] for n in names)]
    obs_requests = [
        ExecRequest(problem.program, problem.entry,
                    [tuple(o["args"][i] for i in problem.inputs) + a for a in assignments], timeout_s=2.0)
        for o in problem.observations
    ]
    iv_program = problem.intervention.get("program", problem.program)
    iv_args = tuple(problem.intervention["args"][i] for i in problem.inputs)
    iv_request = ExecRequest(iv_program, problem.entry, [iv_args + a for a in assignments], timeout_s=2.0)
    *obs_results, iv_results = sandbox.run_batch(obs_requests + [iv_request])
    for results in [*obs_results, iv_results]:
        assert all(r.ok and not r.value_is_repr for r in results), [r for r in results if not r.ok][:3]
    fits = [
        k
        for k in range(len(assignments))
        if all(_key(res[k].value) == _key(o["output"]) for res, o in zip(obs_results, problem.observations))
    ]
    return {_key(iv_results[k].value) for k in fits}, {_key(r.value) for r in iv_results}


def answer_keys(values: list) -> set[str]:
    return {_key(v) for v in values}
