"""verl reward function: `compute_score` scores a decoded response exactly as `cfcode eval` does.

Data: `cfcode export --format verl` writes parquet rows with `data_source` ("counterfactual_code/
<family>/<mode>"), `prompt` (chat messages), `ability`, `reward_model = {"style": "rule",
"ground_truth": <the problem record as JSON>}` and `extra_info`. Config (verl 0.9.1; the same keys
feed the legacy `NaiveRewardManager` and the reward loop's `naive` manager):

    data.train_files=cf/verl/train.parquet data.val_files=cf/verl/test.parquet
    reward.custom_reward_function.path=$(python -c 'import envs.adapters.verl as m; print(m.__file__)')
    reward.custom_reward_function.name=compute_score
    # optional: reward.custom_reward_function.reward_kwargs.reward=f1   (set-F1 partial credit)

verl decodes only the response tokens (`skip_special_tokens=True`) and passes them as
`solution_str`, so the prompt's format example never reaches the parser here. The dict's "score"
becomes the token-level reward; the other keys are logged (`reward_extra_info`), identically for
every row, as verl requires.
"""
from __future__ import annotations

from typing import Any

from envs.adapters._labels import problem_from_label
from envs.scoring import Score, check_reward, real_list, score_batch, score_completion

SCORE_KEYS = ("score", "exact", "f1", "format_ok", "verifier_error")


def result(score: Score) -> dict[str, float]:
    """Score -> verl's dict (floats only, so verl can stack them into arrays)."""
    return {
        "score": 0.0 if score.verifier_error is not None else float(score.reward),
        "exact": float(score.correct),
        "f1": float(score.f1),
        "format_ok": float(score.format_ok),
        "verifier_error": float(score.verifier_error is not None),
    }


def compute_score(data_source: str | None, solution_str: str, ground_truth: Any,
                  extra_info: dict[str, Any] | None = None, reward: str = "exact",
                  **kwargs: Any) -> dict[str, float]:
    """verl's `custom_reward_function`: {"score", "exact", "f1", "format_ok", "verifier_error"}.

    `ground_truth` is the exported problem record (JSON string or dict). `reward` ("exact" | "f1")
    comes from `reward_kwargs`. A verifier failure (only possible with reward="f1") scores 0 and is
    flagged in "verifier_error": verl cannot mask a sample the way TRL does.
    """
    check_reward(reward)
    problem = problem_from_label(ground_truth)
    return result(score_completion(problem, solution_str, reward=reward))


def compute_score_batch(data_sources: list[str], solution_strs: list[str], ground_truths: list[Any],
                        extra_infos: list[dict[str, Any] | None] | None = None, reward: str = "exact",
                        **kwargs: Any) -> list[dict[str, float]]:
    """The same for verl's `batch` reward manager (`reward_manager=batch`): one packed sandbox request."""
    check_reward(reward)
    problems = [problem_from_label(g) for g in real_list(ground_truths)]
    return [result(s) for s in score_batch(problems, real_list(solution_strs), reward=reward)]
