"""verifiers (0.3.1, the classic `SingleTurnEnv` / `Rubric` API in `verifiers.legacy`): `load_environment`.

The hub package is envs/adapters/verifiers_pkg/ (env id `cfcode-counterfactual`); with it installed:

    vf-eval cfcode-counterfactual -a '{"families": ["while"], "num_examples": 50}' \\
        -m local -b http://127.0.0.1:8000/v1 -k OPENAI_API_KEY -n 50 -r 3 -t 1024   # e.g. `cfcode model serve`

Rows: `prompt` (the problem's chat message), `answer` (the gold set as JSON, for display), `info`
(the problem record as JSON: what the scorer needs). The rubric's reward is `envs.scoring`'s verdict
on the last assistant message, exactly as `cfcode eval` scores it; `exact`, `f1`, `format_ok` and
`verifier_error` are logged as weight-0 metrics. Why 0.3.1's classic API: its `SingleTurnEnv` is
the one-prompt-one-reply shape of this task; 0.4.0 keeps only the new `verifiers.v1` stack.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import verifiers.legacy as vf
from datasets import Dataset

from envs.adapters._labels import problem_from_label, problem_label
from envs.code_env import CounterfactualCodeEnv
from envs.parsing import parse_answer
from envs.scoring import Score, check_question, check_reward, completion_text, real_items, score_completion
from envs.values import fresh
from generators import sort_answer

ENV_ID = "cfcode-counterfactual"


def build_dataset(families: list[str] | str | None = None, mode: str = "counterfactual",
                  suite: str | None = "frozen:test", split: str = "test", level: int | None = None,
                  question: str = "predict", num_examples: int = -1, num_problems: int = 128,
                  seed: int = 0, sandbox_backend: str = "auto") -> Dataset:
    """Rows from the same pools as `CounterfactualCode-v0` (a suite, or problems generated from `seed`)."""
    env = CounterfactualCodeEnv(families=families, mode=mode, split=split, suite=suite, level=level,
                                question=question, num_problems=num_problems, generation_seed=seed,
                                sandbox_backend=sandbox_backend)
    rows = []
    for family in env.families:
        for item in env.pool(family):
            p = item.problem
            rows.append({"prompt": [{"role": "user", "content": item.prompt}],
                         "answer": json.dumps(sort_answer(p.answer)),
                         "info": {"problem": problem_label(p), "problem_id": p.id, "family": p.family,
                                  "question": question},
                         "task": "counterfactual_code"})
    if num_examples is not None and num_examples >= 0:
        rows = rows[:num_examples]
    if not rows:
        raise ValueError("no problems selected (check families, suite, level and num_examples)")
    return Dataset.from_list(rows)


def _as_dicts(completion: Any) -> Any:
    """verifiers may hand messages as pydantic objects; `completion_text` reads dicts."""
    if isinstance(completion, (list, tuple)):  # its real items: a subclass's __iter__ could yield anything
        return [m.model_dump() if not isinstance(m, dict) and hasattr(m, "model_dump") else m
                for m in real_items(completion)]
    return completion


class CounterfactualParser(vf.Parser):
    """`parse_answer` shows the parsed answer set (JSON) the way `envs.parsing` reads it, or None."""

    def parse_answer(self, completion: Any) -> str | None:
        text = completion_text(_as_dicts(completion))
        parsed = parse_answer(text) if text is not None else None
        return json.dumps(parsed.values) if parsed is not None and parsed.format_ok else None


def make_rubric(reward: str = "exact", sandbox_backend: str = "auto") -> vf.Rubric:
    """Reward (weight 1) plus weight-0 metrics; one scoring per rollout, cached in its state with the
    completion, problem, question and reward kind it judged (a state scored again with another completion,
    or by a rubric of another reward kind, is rescored)."""
    check_reward(reward)

    def verdict(completion: Any, info: dict[str, Any], state: dict[str, Any]) -> Score:
        text = completion_text(_as_dicts(completion))
        # what the verdict is about, and how it was scored: another rubric (exact beside f1, another sandbox)
        # may score the same state
        key = (text, info["problem"], info.get("question", "predict"), reward, sandbox_backend)
        cached = state.get("cfcode_score")
        if not (isinstance(cached, tuple) and len(cached) == 2 and cached[0] == key):
            score = score_completion(problem_from_label(info["problem"]), text if text is not None else "",
                                     reward=reward, question=key[2], sandbox_backend=sandbox_backend)
            # the state is shared with every reward function and logger: a copy of the gold, not the cached
            # record's own list (editing it would edit the gold of every later rollout)
            score = dataclasses.replace(score, gold=fresh(score.gold))
            cached = state["cfcode_score"] = (key, score)
        return cached[1]

    def counterfactual_reward(completion, info, state, **_: Any) -> float:
        return float(verdict(completion, info, state).reward)

    def exact(completion, info, state, **_: Any) -> float:
        return float(verdict(completion, info, state).correct)

    def f1(completion, info, state, **_: Any) -> float:
        return float(verdict(completion, info, state).f1)

    def format_ok(completion, info, state, **_: Any) -> float:
        return float(verdict(completion, info, state).format_ok)

    def verifier_error(completion, info, state, **_: Any) -> float:
        return float(verdict(completion, info, state).verifier_error is not None)

    return vf.Rubric(funcs=[counterfactual_reward, exact, f1, format_ok, verifier_error],
                     weights=[1.0, 0.0, 0.0, 0.0, 0.0], parser=CounterfactualParser())


def load_environment(families: list[str] | str | None = None, mode: str = "counterfactual",
                     suite: str | None = "frozen:test", split: str = "test", level: int | None = None,
                     reward: str = "exact", question: str = "predict", num_examples: int = -1,
                     num_problems: int = 128, seed: int = 0, sandbox_backend: str = "auto",
                     system_prompt: str | None = None, **kwargs: Any) -> vf.SingleTurnEnv:
    """The verifiers environment. Defaults: the frozen held-out suites of every code family, exact reward.

    `suite=None` generates `num_problems` problems per family from `seed` (`split` "train" or "test").
    Other keyword arguments go to `vf.SingleTurnEnv`.
    """
    check_question(question)
    dataset = build_dataset(families, mode, suite, split, level, question, num_examples, num_problems, seed,
                            sandbox_backend)
    rubric = make_rubric(reward, sandbox_backend)
    return vf.SingleTurnEnv(dataset=dataset, eval_dataset=dataset, system_prompt=system_prompt,
                            parser=rubric.parser, rubric=rubric, **kwargs)
