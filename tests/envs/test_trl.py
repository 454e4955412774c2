"""TRL glue: dataset rows and reward functions with TRL's calling convention."""
from __future__ import annotations

import json

import pytest
from tests.envs.envs_problems import make_problem

from envs import counterfactual_reward, make_reward_fn, render_prompt, trl_rows
from generators.schema import Problem


def test_rows_carry_prompt_and_problem(mod_problem):
    (row,) = trl_rows([mod_problem])
    assert row["prompt"] == [{"role": "user", "content": mod_problem.prompt}]
    assert Problem.from_json(row["problem"]) == mod_problem
    assert (row["problem_id"], row["family"], row["mode"], row["question"]) == (
        mod_problem.id, "if_else", "counterfactual", "predict")
    (plain,) = trl_rows([mod_problem], style="plain", question="abduce")
    assert plain["prompt"] == render_prompt(mod_problem, "plain", "abduce") and plain["question"] == "abduce"
    json.dumps(trl_rows([mod_problem]))  # rows are plain JSON data (datasets.Dataset.from_list works)


def test_reward_fn_called_like_trl(mod_problem, string_problem):
    rows = trl_rows([mod_problem, string_problem, mod_problem])
    columns = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    logged = {}
    completions = [[{"role": "assistant", "content": "so <answer>[5, 2]</answer>"}],  # conversational
                   [{"role": "assistant", "content": [{"type": "text", "text": "<answer>['lo']</answer>"}]}],
                   "plain text, no answer"]
    rewards = counterfactual_reward(prompts=[r["prompt"] for r in rows], completions=completions,
                                    completion_ids=[[1], [2], [3]], trainer_state=None, log_extra=lambda *a: None,
                                    log_metric=lambda name, value: logged.__setitem__(name, value), **columns)
    assert rewards == [1.0, 1.0, 0.0]
    assert logged == {"envs/format_ok": pytest.approx(2 / 3), "envs/verifier_error": 0.0}
    assert counterfactual_reward.__name__ == "counterfactual_reward"
    assert make_reward_fn("f1").__name__ == "counterfactual_f1_reward"


def test_reward_fn_returns_none_when_the_verifier_fails():
    from sandbox import make_sandbox

    dead = make_sandbox("local")
    dead.close()
    problem = make_problem("hand:trl:dead", meta={})
    fn = make_reward_fn("f1", sandbox=dead)
    rewards = fn(["<answer>[0, 1, 2, 3, 4, 5]</answer>", "<answer>[2, 5]</answer>", "<answer>[4]</answer>"],
                 problem=[problem.to_json()] * 3, question=["predict", "predict", "abduce"])
    assert rewards == [0.0, 1.0, None]  # only "abduce" needs the sandbox


def test_reward_fn_needs_the_problem_column():
    with pytest.raises(TypeError, match="problem"):
        counterfactual_reward(["<answer>[1]</answer>"])
