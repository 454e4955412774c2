"""skyrl-gym 0.4.0 for real: the env made through `skyrl_gym.make` from a SkyRL dataset row, one
episode per problem, rewards equal to `envs.scoring` (the path of `cfcode eval`), hacks paying 0."""
from __future__ import annotations

import pytest
import skyrl_gym

from envs.adapters.skyrl_env import ENV_ID, skyrl_rows
from envs.scoring import score_completion
from tests.frameworks.hack_cases import answer_block, hack_completions, hackable_problems


@pytest.fixture(scope="module")
def problems():
    return hackable_problems(n=3)


def _episode(row, completion, **env_config):
    env = skyrl_gym.make(ENV_ID, env_config=env_config, extras=row)
    prompt, info = env.init(row["prompt"])
    assert prompt == row["prompt"] and info["problem_id"] == row["extra_info"]["problem_id"]
    out = env.step(completion)
    assert out["done"] is True and out["observations"] == []
    env.close()
    return env, out


def test_registered_and_scores_like_the_env(problems):
    assert ENV_ID in skyrl_gym.registry
    for p, row in zip(problems, skyrl_rows(problems)):
        assert row["env_class"] == ENV_ID and row["prompt"] == [{"role": "user", "content": p.prompt}]
        for completion in (p.gold_trace, answer_block(p.answer), "no answer", answer_block([p.answer[0], 99])):
            for reward in ("exact", "f1"):
                env, out = _episode(row, completion, reward=reward, sandbox_backend="local")
                want = score_completion(p, completion, reward=reward, sandbox_backend="local")
                assert out["reward"] == want.reward and out["metadata"]["correct"] == want.correct
        assert env.get_metrics()["format_ok"] == 1.0


@pytest.mark.parametrize("hack", ["domain_dump", "prompt_copy", "several_answers"])
def test_hacks_pay_zero(problems, hack):
    for p, row in zip(problems, skyrl_rows(problems)):
        for reward in ("exact", "f1"):
            _, out = _episode(row, hack_completions(p)[hack], reward=reward, sandbox_backend="local")
            assert out["reward"] == 0.0 and out["metadata"]["verifier_error"] is None, (p.id, hack, reward)


def test_one_completion_per_episode(problems):
    p = problems[0]
    env = skyrl_gym.make(ENV_ID, env_config={}, extras=skyrl_rows([p])[0])
    env.init([{"role": "user", "content": p.prompt}])
    assert env.step("<answer>[12345]</answer>")["reward"] == 0.0
    assert env.step(answer_block(p.answer))["reward"] == 0.0  # a second try does not pay


def test_bad_rows_fail_clearly():
    with pytest.raises(ValueError, match="ground_truth"):
        skyrl_gym.make(ENV_ID, env_config={}, extras={"reward_spec": {"method": "rule"}})
    with pytest.raises(ValueError, match="reward must be one of"):
        skyrl_gym.make(ENV_ID, env_config={"reward": "bogus"}, extras=skyrl_rows(hackable_problems(n=1))[0])
