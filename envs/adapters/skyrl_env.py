"""SkyRL (skyrl-gym 0.4.0): a `BaseTextEnv` over one problem, registered as "counterfactual_code".

    import envs.adapters.skyrl_env                      # registers the id (idempotent)
    env = skyrl_gym.make("counterfactual_code", env_config={"reward": "exact"}, extras=row)
    prompt, _ = env.init(row["prompt"])
    out = env.step(completion)                          # out["reward"], out["done"] (always True)

SkyRL-train builds one env per dataset row with that row's fields as `extras`; `skyrl_rows` writes
those rows (`env_class`, `reward_spec.ground_truth` = the problem record as JSON, the label of every
export; a verl export's `reward_model` works too). `step` scores the
completion with `envs.scoring.score_completion`, as `cfcode eval` does; an episode is one turn.
`env_config` keys: `reward` ("exact" | "f1"), `sandbox_backend`, `question` ("predict" | "abduce"; a
row's `extra_info.question` wins, since it chose the prompt).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import skyrl_gym
from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType

from envs.adapters._labels import problem_from_label, problem_label
from envs.prompts import render_prompt
from envs.scoring import check_question, check_reward, score_completion
from generators import Problem

ENV_ID = "counterfactual_code"


def _get(config: Any, key: str, default: Any) -> Any:
    if config is None:
        return default
    value = config.get(key, default) if hasattr(config, "get") else getattr(config, key, default)
    return default if value is None else value


class CounterfactualSkyRLEnv(BaseTextEnv):
    """One problem, one completion: `step` returns the verdict and `done=True`; a second step pays 0."""

    def __init__(self, env_config: Any = None, extras: dict[str, Any] | None = None) -> None:
        super().__init__()
        extras = extras or {}
        spec = extras.get("reward_spec") or extras.get("reward_model") or {}
        ground_truth = spec.get("ground_truth") if isinstance(spec, dict) else None
        if ground_truth is None:
            raise ValueError("extras['reward_spec']['ground_truth'] must be the problem record as a JSON string "
                             "(rows made by envs.adapters.skyrl_env.skyrl_rows, or a verl export's reward_model)")
        self.problem = problem_from_label(ground_truth)
        self.reward_kind = check_reward(_get(env_config, "reward", "exact"))
        extra = extras.get("extra_info") if isinstance(extras.get("extra_info"), dict) else {}
        self.question = check_question(extra.get("question") or _get(env_config, "question", "predict"))
        self.sandbox_backend = _get(env_config, "sandbox_backend", "auto")
        self.max_turns = 1
        self.last_info: dict[str, Any] = {}

    def init(self, prompt: ConversationType) -> tuple[ConversationType, dict[str, Any]]:
        self.turns = 0
        return prompt, {"problem_id": self.problem.id}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        self.turns += 1
        if self.turns > self.max_turns:  # the episode took its one completion already
            return BaseTextEnvStepOutput(observations=[], reward=0.0, done=True,
                                         metadata={"error": "episode already answered"})
        score = score_completion(self.problem, action, reward=self.reward_kind, question=self.question,
                                 sandbox_backend=self.sandbox_backend)
        self.last_info = {**score.info(), "problem_id": self.problem.id, "family": self.problem.family}
        return BaseTextEnvStepOutput(observations=[], reward=float(score.reward), done=True,
                                     metadata=self.last_info)

    def get_metrics(self) -> dict[str, Any]:
        info = self.last_info
        if not info:
            return {}
        return {"correct": float(info["correct"]), "f1": info["f1"], "format_ok": float(info["format_ok"]),
                "verifier_error": float(info["verifier_error"] is not None)}


def register() -> None:
    """Register ENV_ID with skyrl_gym (idempotent; importing this module does it)."""
    if ENV_ID not in skyrl_gym.registry:
        skyrl_gym.register(id=ENV_ID, entry_point=f"{__name__}:CounterfactualSkyRLEnv")


def skyrl_rows(problems: Iterable[Problem], question: str = "predict") -> list[dict[str, Any]]:
    """SkyRL-train dataset rows: chat prompt, `env_class`, `reward_spec` (rule, ground truth), `extra_info`."""
    check_question(question)
    return [{
        "data_source": f"counterfactual_code/{p.family}",
        "prompt": render_prompt(p, "chat", question),
        "env_class": ENV_ID,
        "reward_spec": {"method": "rule", "ground_truth": problem_label(p)},
        "extra_info": {"problem_id": p.id, "family": p.family, "mode": p.mode, "level": p.level,
                       "question": question},
    } for p in problems]


register()
