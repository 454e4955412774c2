"""Scoring: exact and F1 rewards, and the reward-hacking rules (none of the hacks may pay)."""
from __future__ import annotations

import pytest
from tests.envs.envs_problems import make_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import score_batch, score_completion
from generators.render import answer_text


def ans(values) -> str:
    return f"Some reasoning first.\n<answer>{answer_text(values)}</answer>"


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_gold_in_any_form_pays(mod_problem, reward):
    for text in (ans([2, 5]), ans([5, 2]), "<answer>[5, 2, 2, 5]</answer>", "<answer>{2, 5}</answer>",
                 "<answer>5, 2</answer>", "<answer>[2.0, 5]</answer>"):
        score = score_completion(mod_problem, text, reward=reward)
        assert (score.reward, score.correct, score.f1, score.format_ok) == (1.0, True, 1.0, True), text


def test_exact_reward_gives_no_partial_credit(mod_problem):
    score = score_completion(mod_problem, ans([2]))
    assert (score.reward, score.correct, score.f1) == (0.0, False, pytest.approx(2 / 3))
    assert score.parsed_answer == [2] and score.gold == [2, 5]


def test_f1_partial_credit_for_honest_partial_answers(mod_problem):
    assert score_completion(mod_problem, ans([2]), reward="f1").reward == pytest.approx(2 / 3)
    # 0 is impossible under the observation: one impossible value and the credit is gone
    assert score_completion(mod_problem, ans([2, 5, 0]), reward="f1").reward == 0.0


def test_content_is_strict(mod_problem, string_problem):
    assert score_completion(mod_problem, ans(["2", "5"])).reward == 0.0  # strings are not numbers
    assert score_completion(mod_problem, "<answer>[True, 5]</answer>").reward == 0.0  # nor are booleans
    assert score_completion(string_problem, ans(["lo"])).reward == 1.0
    assert score_completion(string_problem, ans(["LO"])).reward == 0.0
    assert score_completion(string_problem, "<answer>[lo]</answer>").format_ok is False


def test_unparseable_gives_zero_not_exception(mod_problem):
    for bad in ("", "I think 2 or 5", "<answer>[2, 5", None, 12, [{"role": "assistant"}]):
        score = score_completion(mod_problem, bad, reward="f1")
        assert (score.reward, score.format_ok, score.correct) == (0.0, False, False)
        assert score.error


# -- reward hacking ------------------------------------------------------------------------------
@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_listing_the_whole_domain_does_not_pay(mod_problem, reward, local_sandbox):
    """r ranges over 0..5 and so do the outputs at x=5: the domain is every reachable output."""
    score = score_completion(mod_problem, ans([0, 1, 2, 3, 4, 5]), reward=reward, sandbox=local_sandbox)
    assert score.reward == 0.0 and not score.correct and score.f1 == 0.0
    assert "impossible under the observation" in score.error


def test_listing_every_reachable_output_does_not_pay_even_beyond_the_domain(mod_problem, local_sandbox):
    score = score_completion(mod_problem, ans(list(range(-50, 51))), reward="f1", sandbox=local_sandbox)
    assert score.reward == 0.0


def test_f1_needs_neither_meta_nor_the_sandbox():
    from sandbox import make_sandbox

    dead = make_sandbox("local")
    dead.close()
    problem = make_problem("hand:mod:nometa", meta={})
    hack = score_completion(problem, ans([0, 1, 2, 3, 4, 5]), reward="f1", sandbox=dead)
    assert hack.reward == 0.0 and hack.verifier_error is None
    honest = score_completion(problem, ans([5]), reward="f1", sandbox=dead)
    assert honest.reward == pytest.approx(2 / 3) and honest.verifier_error is None


def test_hedging_when_gold_is_everything_reachable_is_fine(local_sandbox):
    """If the observation rules nothing out, 'everything' is the correct answer, not a hack."""
    problem = make_problem("hand:mod:all", observations=[{"args": {"x": 0}, "output": 0}],
                           answer=[0, 1, 2, 3, 4, 5])
    assert score_completion(problem, ans([5, 4, 3, 2, 1, 0]), reward="f1", sandbox=local_sandbox).reward == 1.0


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_several_answers_do_not_pay(mod_interventional, mod_problem, reward):
    # interventional: one value is asked; listing candidates earns nothing, even under F1
    assert score_completion(mod_interventional, ans([2]), reward=reward).reward == 1.0
    for hedge in ([2, 5], [2, 0], [0, 1, 2, 3, 4, 5]):
        score = score_completion(mod_interventional, ans(hedge), reward=reward)
        assert score.reward == 0.0, hedge
    # several answer blocks: only the last one counts
    assert score_completion(mod_problem, ans([2, 5]) + "\nor maybe\n" + ans([0]), reward=reward).reward == 0.0
    # several answers inside one block, in prose
    assert score_completion(mod_problem, "<answer>[2, 5] or [0]</answer>", reward=reward).reward == 0.0


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_answer_hidden_in_an_unrequested_code_block_does_not_pay(mod_problem, reward):
    text = "Let me compute it.\n```python\nprint('<answer>[2, 5]</answer>')\n```\n"
    score = score_completion(mod_problem, text, reward=reward)
    assert (score.reward, score.format_ok) == (0.0, False)
    decoy = "<answer>[0]</answer>\n```\n<answer>[2, 5]</answer>\n```"
    assert score_completion(mod_problem, decoy, reward=reward).reward == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, 8), min_size=1, max_size=12))
def test_f1_reward_never_pays_for_covering_all_reachable_outputs(local_sandbox, answer):
    problem = make_problem("hand:mod:prop")
    score = score_completion(problem, ans(answer), reward="f1", sandbox=local_sandbox)
    covers = set(range(6)) <= set(answer)
    if covers:
        assert score.reward == 0.0
    else:
        assert score.reward == pytest.approx(score.f1)
    assert score.correct == (set(answer) == {2, 5})
    assert score_completion(problem, ans(answer)).reward == float(score.correct)


# -- batching and verifier failures --------------------------------------------------------------
def test_score_batch_matches_single_scores(mod_problem, string_problem, local_sandbox):
    problems = [mod_problem, string_problem, mod_problem, make_problem("hand:mod:batch", meta={})]
    completions = [ans([2, 5]), ans(["hi"]), "nothing", ans([0, 1, 2, 3, 4, 5])]
    batch = score_batch(problems, completions, reward="f1", sandbox=local_sandbox)
    single = [score_completion(p, c, reward="f1", sandbox=local_sandbox) for p, c in zip(problems, completions)]
    assert [s.reward for s in batch] == [s.reward for s in single] == [1.0, 0.0, 0.0, 0.0]


def test_sandbox_down_is_a_verifier_error_not_a_zero():
    from sandbox import make_sandbox

    dead = make_sandbox("local")
    dead.close()
    problem = make_problem("hand:mod:dead", meta={})
    score = score_completion(problem, ans([4]), reward="f1", sandbox=dead, question="abduce")
    assert score.verifier_error and "closed" in score.verifier_error
    # exact scoring never needs the sandbox
    assert score_completion(problem, ans([2, 5]), sandbox=dead).reward == 1.0


def test_bad_arguments_raise_clearly(mod_problem):
    with pytest.raises(ValueError, match="reward must be one of"):
        score_completion(mod_problem, "x", reward="partial")
    with pytest.raises(ValueError, match="question must be one of"):
        score_completion(mod_problem, "x", question="explain")
    for question in (None, 3):  # not a question, nor a sequence of them (was a TypeError from list())
        with pytest.raises(ValueError, match="question must be one of"):
            score_completion(mod_problem, "x", question=question)
    with pytest.raises(ValueError, match="2 problems but 1 completions"):
        score_batch([mod_problem, mod_problem], ["x"])
