"""The verl, OpenRLHF and lm-eval adapters in the main venv: same verdict as the env's scorer, hacks pay 0.

(The real frameworks drive these functions in tests/frameworks/, one nox venv each.)"""
from __future__ import annotations

import dataclasses

import pytest

from envs.adapters import lm_eval as lm_eval_adapter
from envs.adapters import openrlhf, verl
from envs.scoring import score_completion

CASES = [
    ("right", "so r is 1 or 4 <answer>[5, 2]</answer>", 1.0),
    ("wrong", "<answer>[3]</answer>", 0.0),
    ("unformatted", "the answer is 2 and 5", 0.0),
    ("domain_dump", "<answer>[0, 1, 2, 3, 4, 5]</answer>", 0.0),
    ("several_blocks", "<answer>[2, 5]</answer> no wait <answer>[2]</answer>", 0.0),
    ("code_block", "```\n<answer>[2, 5]</answer>\n```", 0.0),
]


@pytest.mark.parametrize(("name", "text", "reward"), CASES)
def test_every_adapter_agrees_with_the_scorer(mod_problem, name, text, reward):
    label = mod_problem.to_json()
    env = score_completion(mod_problem, text)
    assert env.reward == reward, name
    got = verl.compute_score("counterfactual_code/hand/counterfactual", text, label, {})
    assert got == {"score": reward, "exact": float(env.correct), "f1": env.f1, "format_ok": float(env.format_ok),
                   "verifier_error": 0.0}
    prompt = mod_problem.prompt
    assert openrlhf.reward_func([prompt + text], [prompt], [label])["rewards"].tolist() == [reward]
    assert lm_eval_adapter.process_results({"record": label}, [text])["exact_match"] == reward


def test_openrlhf_never_scores_the_prompt_example(mod_problem):
    problem = dataclasses.replace(mod_problem, prompt=mod_problem.prompt + "\ne.g. <answer>[2, 5]</answer>")
    assert score_completion(problem, problem.prompt + " no idea").reward == 1.0  # the trap
    out = openrlhf.reward_func([problem.prompt + " no idea"], [problem.prompt], [problem.to_json()])
    assert out["rewards"].tolist() == [0.0]
    templated = "<|im_start|>user\n" + problem.prompt + "<|im_end|>\n<|im_start|>assistant\nno idea"
    out = openrlhf.reward_func([templated], ["<|im_start|>user\n" + problem.prompt], [problem.to_json()])
    assert out["rewards"].tolist() == [0.0]


def test_labels_accept_record_dicts_and_reject_anything_else(mod_problem):
    assert verl.compute_score(None, "<answer>[2, 5]</answer>", mod_problem.to_dict())["score"] == 1.0
    for bad in ("[2, 5]", 7, {"answer": [2, 5]}):
        with pytest.raises(ValueError, match="problem record"):
            verl.compute_score(None, "<answer>[2, 5]</answer>", bad)
    with pytest.raises(ValueError, match="reward must be one of"):
        verl.compute_score(None, "x", mod_problem.to_json(), reward="exactly")


def test_bench_reports_the_verl_adapter_beside_the_env():
    from envs.bench import BenchConfig, bench_adapters

    out = bench_adapters(BenchConfig(num_problems=4, exact_steps=200))
    assert out["completions"] == 200 and out["verl_completions_per_cpu_s"] > 0
    assert set(out) >= {"env_steps_per_cpu_s", "verl_cost_vs_env", "meets_target"}


class _Says:
    """Not text: an object whose str() is the gold answer (or raises)."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        if self.text is None:
            raise RuntimeError("hostile __str__")
        return self.text


def test_lm_eval_scores_only_text_generations(mod_problem):
    doc = {"record": mod_problem.to_json()}
    for results in ([_Says("<answer>[2, 5]</answer>")], [_Says(None)], [(_Says("<answer>[2, 5]</answer>"),)],
                    [None], [[]]):
        assert lm_eval_adapter.process_results(doc, results) == {"exact_match": 0.0, "f1": 0.0, "format_ok": 0.0}
    assert lm_eval_adapter.process_results(doc, [("<answer>[2, 5]</answer>", 0)])["exact_match"] == 1.0


def test_a_problem_object_label_is_validated_like_a_record(mod_problem):
    """A Problem built in code is re-validated (as the TRL column is): a malformed answer is refused,
    not turned into a gold set of its characters."""
    from tests.envs.envs_problems import make_problem

    forged = make_problem("hand:forged", answer="25")
    for adapter in (lambda: verl.compute_score(None, "<answer>['2', '5']</answer>", forged),
                    lambda: lm_eval_adapter.process_results({"record": forged}, ["<answer>['2', '5']</answer>"])):
        with pytest.raises(ValueError, match="answer: expected list"):
            adapter()
    assert verl.compute_score(None, "<answer>[2, 5]</answer>", mod_problem)["score"] == 1.0


def test_openrlhf_query_that_is_not_text_pays_nothing(mod_problem):
    label = mod_problem.to_json()
    for query in (None, b"<answer>[2, 5]</answer>", ["<answer>[2, 5]</answer>"]):
        out = openrlhf.reward_func([query], [mod_problem.prompt], [label])
        assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["cf_prompt_not_found"].tolist() == [1.0]
