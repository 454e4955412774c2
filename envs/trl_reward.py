"""TRL glue: dataset rows whose columns carry the problem, and reward functions with TRL's signature.

TRL's GRPOTrainer calls `reward_fn(prompts=..., completions=..., completion_ids=..., **columns)`
with every dataset column except "prompt" as a list, and masks `None` rewards (NaN) instead of
learning from them; a verifier failure therefore returns None, never a silent 0.

Dataset columns are user input: every row of `problem` goes through the one record validator
(`generators.schema`), a Problem object included, so a malformed row (an answer given as the string
"01", latents of the wrong type, ...) stops training with one line naming the column and the row
instead of paying for a misread gold or failing deep inside the verifier.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from envs.prompts import render_prompt
from envs.scoring import QUESTIONS, check_question, check_reward, real_list, score_batch
from generators import InputError, Problem, describe
from sandbox import Sandbox


def trl_rows(problems: Iterable[Problem], style: str = "chat", question: str = "predict") -> list[dict[str, Any]]:
    """One row per problem: `prompt` (chat messages or text) plus the columns the reward function reads."""
    check_question(question)
    return [{
        "prompt": render_prompt(p, style, question),
        "problem": p.to_json(),
        "problem_id": p.id,
        "family": p.family,
        "mode": p.mode,
        "level": p.level,
        "question": question,
    } for p in problems]


class DatasetColumnError(InputError):
    """A TRL dataset column holds a value the reward function cannot use (names column and row)."""


@lru_cache(maxsize=4096)
def _problem_from_json(text: str) -> Problem:
    return Problem.from_json(text)


_CACHED_ROW_CHARS = 64 * 1024  # larger rows are parsed on each use: the cache's memory stays bounded


def _problem(value: Any, row: int) -> Problem:
    """Row `row` of the `problem` column as a validated Problem (JSON text, or a Problem re-validated)."""
    where = f"dataset column 'problem', row {row}"
    if isinstance(value, Problem):
        try:
            value = value.to_json()
        except (TypeError, ValueError) as exc:
            raise DatasetColumnError(f"expected a problem record that serialises to JSON: {exc}",
                                     where=where) from None
    if not isinstance(value, str):
        raise DatasetColumnError(f"expected a JSON problem record (str, as made by envs.trl_rows), got "
                                 f"{describe(value)}", where=where)
    try:
        return _problem_from_json(value) if len(value) <= _CACHED_ROW_CHARS else Problem.from_json(value)
    except InputError as exc:
        raise DatasetColumnError(exc.detail, where=where, field=exc.field) from None


def _questions(question: Any, n: int) -> list[str]:
    if question is None:
        return ["predict"] * n
    if isinstance(question, (str, bytes)) or not hasattr(question, "__len__") or len(question) != n:
        raise DatasetColumnError(f"expected one question per row ({n}), got {describe(question)}",
                                 where="dataset column 'question'")
    for row, q in enumerate(question):
        if q not in QUESTIONS:
            raise DatasetColumnError(f"expected one of {', '.join(QUESTIONS)}, got {describe(q)}",
                                     where=f"dataset column 'question', row {row}")
    return list(question)


def make_reward_fn(reward: str = "exact", sandbox: Sandbox | None = None,
                   sandbox_backend: str = "auto") -> Callable[..., list[float | None]]:
    """A TRL reward function: `fn(completions, problem, question=None, **kwargs) -> list[float | None]`.

    `problem` is the column of JSON records made by `trl_rows`; `question` (optional column) selects
    "predict" or "abduce" per row. If TRL passes `log_metric`, the batch's format and verifier-error
    rates are logged under `envs/`.
    """
    check_reward(reward)

    def reward_fn(completions: Sequence[Any], problem: Sequence[str | Problem] | None = None,
                  question: Sequence[str] | None = None, **kwargs: Any) -> list[float | None]:
        if problem is None:
            raise TypeError("the reward function needs the 'problem' dataset column (build rows with envs.trl_rows)")
        if isinstance(problem, (str, bytes)) or not hasattr(problem, "__len__"):
            raise DatasetColumnError(f"expected a list with one record per completion, got {describe(problem)}",
                                     where="dataset column 'problem'")
        problem, completions = real_list(problem), real_list(completions)  # what they hold, not what they say
        if len(problem) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(problem)} problems")
        problems = [_problem(p, row) for row, p in enumerate(problem)]
        scores = score_batch(problems, completions, reward=reward, sandbox=sandbox,
                             question=_questions(question, len(problems)), sandbox_backend=sandbox_backend)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and scores:
            log_metric("envs/format_ok", sum(s.format_ok for s in scores) / len(scores))
            log_metric("envs/verifier_error", sum(s.verifier_error is not None for s in scores) / len(scores))
        return [None if s.verifier_error is not None else s.reward for s in scores]

    reward_fn.__name__ = reward_fn.__qualname__ = "counterfactual_reward" if reward == "exact" else f"counterfactual_{reward}_reward"
    return reward_fn


counterfactual_reward = make_reward_fn("exact")
counterfactual_f1_reward = make_reward_fn("f1")
