"""OpenRLHF reward function: `--remote_rm_url envs/adapters/openrlhf.py --label_key label`.

OpenRLHF (0.11) loads `reward_func(queries, prompts, labels, **kwargs)` from the file and calls it
with `queries` = the decoded prompt + response tokens (`skip_special_tokens=False`), `prompts` = the
prompt text it tokenized, `labels` = the `--label_key` column. It expects a dict of
`rewards` (advantages), `scores` (0-1, dynamic filtering) and `extra_logs` (wandb), as tensors.

The prompt states the answer format with an example, `<answer>[3, 7]</answer>`; the parser counts the
*last* answer block, so scoring the whole query would grade a response without an answer on the
prompt's example. The response is therefore cut out first: after the prompt when the query starts
with it, else after the problem's own prompt text; if neither is found, the sample earns 0 (with
`extra_logs["prompt_not_found"]`) instead of being scored on text that includes the example.
Export the data with `cfcode export --format verl` (its `reward_model.ground_truth` is the label) or
use any column holding the problem record as JSON.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envs.adapters._labels import problem_from_label
from envs.scoring import check_reward, real_list, score_batch
from generators import Problem


def response_text(query: str, prompt: str | None, problem: Problem) -> str | None:
    """The response part of `query`, or None when the prompt cannot be located in it (or it is not text)."""
    if not isinstance(query, str):
        return None
    query = str.__str__(query)  # plain characters: a str subclass's slicing or startswith could lie
    prompt = str.__str__(prompt) if isinstance(prompt, str) else None
    if prompt and query.startswith(prompt):
        return query[len(prompt):]
    for anchor in (prompt, problem.prompt):
        if isinstance(anchor, str) and anchor:
            at = query.find(anchor)
            if at >= 0:
                return query[at + len(anchor):]
    return None


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any],
                reward: str = "exact", **kwargs: Any) -> dict[str, Any]:
    """{"rewards": float tensor [B], "scores": float tensor [B], "extra_logs": {name: float tensor [B]}}."""
    import torch

    check_reward(reward)
    queries, prompts, labels = real_list(queries), real_list(prompts), real_list(labels)  # items, not what they say
    if not (len(queries) == len(prompts) == len(labels)):
        raise ValueError(f"{len(queries)} queries, {len(prompts)} prompts, {len(labels)} labels: lengths differ")
    problems = [problem_from_label(label) for label in labels]
    responses = [response_text(q, p, prob) for q, p, prob in zip(queries, prompts, problems)]
    found = [r is not None for r in responses]
    scores = score_batch(problems, [r if r is not None else "" for r in responses], reward=reward)
    values = [s.reward if ok and s.verifier_error is None else 0.0 for s, ok in zip(scores, found)]
    rewards = torch.tensor(values, dtype=torch.float32)

    def per_sample(xs: list[bool]) -> torch.Tensor:  # OpenRLHF logs element 0 of each (its batches are 1)
        return torch.tensor([float(x) for x in xs], dtype=torch.float32)

    return {
        "rewards": rewards,
        "scores": rewards.clone(),
        "extra_logs": {
            "cf_exact": per_sample([s.correct and ok for s, ok in zip(scores, found)]),
            "cf_format_ok": per_sample([s.format_ok and ok for s, ok in zip(scores, found)]),
            "cf_prompt_not_found": per_sample([not ok for ok in found]),
            "cf_verifier_error": per_sample([s.verifier_error is not None for s in scores]),
        },
    }
