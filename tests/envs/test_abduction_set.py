"""Question "abduce_predict": the consistent latent set is checked exactly, scored beside the
prediction, and cannot be gamed (whole domain, impossible values) under either reward."""
from __future__ import annotations

import itertools

import gymnasium as gym
import pytest

import envs  # noqa: F401
from envs.abduction_set import abduce_predict_prompt, latents_text, parse_latents, score_abduce_predict
from envs.scoring import score_batch
from generators.io import write_problems
from generators.render import ANSWER_INSTRUCTIONS

HONEST = "<latents>[1, 4]</latents> so <answer>[2, 5]</answer>"  # mod problem: r in {1, 4}, answer {2, 5}


def _score(problem, text, sb, reward="exact", w=0.5):
    return score_abduce_predict([problem], [text], reward, sb, abduction_weight=w)[0]


def test_prompt_states_the_two_blocks(mod_problem, two_latent_problem):
    mod_problem.prompt = "Here is ...\n\n" + ANSWER_INSTRUCTIONS["counterfactual"]
    text = abduce_predict_prompt(mod_problem)
    assert "every value of r that is consistent" in text and "<latents>[6, 7]</latents>" in text
    assert text.endswith(ANSWER_INSTRUCTIONS["counterfactual"]) and text.count("<answer>") == 2
    text = abduce_predict_prompt(two_latent_problem)
    assert "every combination of (a, b)" in text and "list of tuples" in text and "[(4, 3), (5, 4)]" in text


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_honest_answer_scores_both_parts(mod_problem, local_sandbox, reward):
    s = _score(mod_problem, HONEST, local_sandbox, reward, w=0.3)
    info = s.info()
    assert s.reward == 1.0 and info["abduction_correct"] and info["correct"] and info["abduction_f1"] == 1.0
    assert info["gold_latents"] == [[1], [4]] and info["parsed_latents"] == [1, 4]
    s = _score(mod_problem, "<latents>[1]</latents><answer>[2, 5]</answer>", local_sandbox, reward, w=0.3)
    assert not s.abduction_correct and s.f1 == 1.0 and s.prediction_reward == 1.0
    assert s.reward == pytest.approx(0.7 + 0.3 * (0.0 if reward == "exact" else 2 / 3))


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_no_latents_subset_with_an_impossible_value_beats_any_possible_only_subset(mod_problem, local_sandbox,
                                                                                  reward):
    domain = mod_problem.latents["r"]
    subsets = [list(c) for k in range(1, len(domain) + 1) for c in itertools.combinations(domain, k)]
    subsets.append([1, 4, 99])  # out of the domain: impossible too
    texts = [f"<latents>{s}</latents><answer>[2, 5]</answer>" for s in subsets]
    scores = score_abduce_predict([mod_problem] * len(texts), texts, reward, local_sandbox)
    possible = [sc.abduction_reward for s, sc in zip(subsets, scores) if set(s) <= {1, 4}]
    impossible = [sc.abduction_reward for s, sc in zip(subsets, scores) if not set(s) <= {1, 4}]
    assert len(possible) == 3 and max(impossible) <= min(possible)
    whole = next(sc for s, sc in zip(subsets, scores) if s == domain)
    assert whole.reward < _score(mod_problem, HONEST, local_sandbox, reward).reward and whole.abduction_reward == 0


def test_several_latents_as_tuples_or_mappings(two_latent_problem, local_sandbox):
    p = two_latent_problem  # observations pin (a, b) = (3, 1); answer [10]
    assert _score(p, "<latents>[(3, 1)]</latents><answer>[10]</answer>", local_sandbox).reward == 1.0
    assert _score(p, "<latents>[{'a': 3, 'b': 1}]</latents><answer>[10]</answer>", local_sandbox).reward == 1.0
    s = _score(p, "<latents>[(3, 1), (2, 2)]</latents><answer>[10]</answer>", local_sandbox, "f1")
    assert s.abduction_reward == 0.0 and "impossible" in s.abduction_error
    s = _score(p, "<latents>[3, 1]</latents><answer>[10]</answer>", local_sandbox)
    assert not s.format_ok and "tuple of 2 values" in s.abduction_error and s.reward == 0.5
    keys, _, err = parse_latents(p, "```\n<latents>[(3, 1)]</latents>\n```")
    assert keys is None and err == "no <latents> tag"  # a block hidden in a code fence does not count


def test_interventional_records_have_the_revealed_assignment_as_gold(mod_interventional, local_sandbox):
    s = _score(mod_interventional, "<latents>[4]</latents><answer>[2]</answer>", local_sandbox)
    assert s.reward == 1.0 and s.gold_latents == [[4]]
    assert latents_text(mod_interventional, [{"r": 4}]) == "<latents>[4]</latents>"


def test_env_and_score_batch_carry_both_parts(tmp_path, mod_problem, local_sandbox):
    path = tmp_path / "mod.jsonl"
    write_problems(path, [mod_problem])
    env = gym.make("CounterfactualCode-v0", suite=str(path), question="abduce_predict", abduction_weight=0.25,
                   sandbox_backend="local")
    prompt, _ = env.reset(seed=0)
    assert "<latents>" in prompt
    _, reward, terminated, _, info = env.step("<latents>[1]</latents><answer>[2, 5]</answer>")
    assert terminated and reward == 0.75 and info["correct"] is True and info["abduction_correct"] is False
    assert info["abduction_weight"] == 0.25 and info["question"] == "abduce_predict"
    with pytest.raises(ValueError, match="abduction_weight"):
        gym.make("CounterfactualCode-v0", suite=str(path), question="abduce_predict", abduction_weight=2)
    mixed = score_batch([mod_problem, mod_problem], [HONEST, "<answer>[2, 5]</answer>"], "exact", local_sandbox,
                        ["abduce_predict", "predict"])
    assert mixed[0].info()["abduction_correct"] and mixed[1].reward == 1.0 and "abduction_correct" not in mixed[1].info()


def test_latents_in_another_order_than_the_signature(local_sandbox):
    """Records are stored with sorted keys: latents {"a", "b"} for f(x, b, a). Calls go by name."""
    from tests.envs.envs_problems import make_problem

    p = make_problem("hand:order:cf", program="def f(x, b, a):\n    return x * a + b\n",
                     latents={"a": [1, 2, 3], "b": [0, 1, 2]},
                     observations=[{"args": {"x": 1}, "output": 4}, {"args": {"x": 2}, "output": 7}],
                     intervention={"args": {"x": 3}}, answer=[10], meta={})
    s = _score(p, "<latents>[(3, 1)]</latents><answer>[10]</answer>", local_sandbox)
    assert s.verifier_error is None and s.gold_latents == [[3, 1]] and s.reward == 1.0


def test_many_fences_and_latents_blocks_are_read_in_linear_time(mod_problem, local_sandbox):
    """An adversarial completion (40k fenced blocks, each beside a <latents> tag) must not stall the
    reward: the fence check is a bisection, as for <answer> (it was a scan per tag: minutes at 1 MB)."""
    import time

    text = "```\n```\n<latents>[1]</latents>\n" * 40_000 + "<latents>[1, 4]</latents><answer>[2, 5]</answer>"
    start = time.perf_counter()
    assert parse_latents(mod_problem, text)[0] == {(("n", 1),), (("n", 4),)}
    (score,) = score_abduce_predict([mod_problem], [text], "exact", local_sandbox)
    assert time.perf_counter() - start < 5.0
    assert score.reward == 1.0 and score.abduction_correct


def test_the_consistent_set_cache_keeps_each_problems_latent_order(local_sandbox):
    """The cache key sorted the latents: a problem declaring (b, a) got the consistent set cached for the same
    program declared (a, b), so its right answer was refused and a swapped one (b=3, outside b's domain) paid."""
    from envs.abduction_set import _GOLD
    from tests.envs.envs_problems import make_problem

    kw = {"program": "def f(x, a, b):\n    return x * a + b\n", "observations": [{"args": {"x": 1}, "output": 4}],
          "intervention": {"args": {"x": 3}}, "answer": [8, 10], "meta": {}}  # f(1) = 4: (a, b) in {(2, 2), (3, 1)}
    ab = make_problem("hand:cache:ab", latents={"a": [1, 2, 3], "b": [0, 1, 2]}, **kw)
    ba = make_problem("hand:cache:ba", latents={"b": [0, 1, 2], "a": [1, 2, 3]}, **kw)
    _GOLD.clear()
    assert _score(ab, "<latents>[(2, 2), (3, 1)]</latents><answer>[8, 10]</answer>", local_sandbox).reward == 1.0
    right = _score(ba, "<latents>[(2, 2), (1, 3)]</latents><answer>[8, 10]</answer>", local_sandbox)
    swapped = _score(ba, "<latents>[(2, 2), (3, 1)]</latents><answer>[8, 10]</answer>", local_sandbox)
    assert right.reward == 1.0 and right.abduction_correct
    assert swapped.reward == 0.5 and not swapped.abduction_correct


def test_echoing_the_abduce_predict_prompt_earns_nothing_for_the_latents(local_sandbox):
    """The <latents> example listed the domain's first two values: an echo was paid whenever they were
    the consistent set (exact) or both consistent (f1). Now the example lies outside the domain."""
    from envs import render_prompt
    from generators import load_suite

    problems = [p for fam in ("if_else", "gsm", "multi_r") for p in load_suite(fam, "counterfactual")[:40]]
    texts = [render_prompt(p, style="plain", question="abduce_predict") for p in problems]
    for reward in ("exact", "f1"):
        scores = score_abduce_predict(problems, texts, reward, local_sandbox)
        assert [p.id for p, s in zip(problems, scores) if s.abduction_reward] == []


def test_a_latent_that_makes_the_program_fail_is_inconsistent_not_a_verifier_failure(local_sandbox):
    """The consistent set ran every latent in one job: a program raising for one latent (r = 0 divides by
    zero) or crashing for another failed the whole job, so every completion on that problem was a verifier
    failure (masked) and the right latents never paid. A latent whose run fails cannot explain the observation."""
    from tests.envs.envs_problems import make_problem

    program = ("def f(x, r):\n"
               "    if r == 5:\n        import os\n        os._exit(3)\n"
               "    return (x * 6 // r + r) % 4\n")  # f(2, r) = (12 // r + r) % 4: r=1 -> 1, 2 -> 0, 3 -> 3, 4 -> 3
    p = make_problem("hand:raises", program=program, observations=[{"args": {"x": 2}, "output": 3}],
                     intervention={"args": {"x": 4}}, answer=[2, 3])  # f(4, 3) = 11 % 4 = 3, f(4, 4) = 10 % 4 = 2
    s = _score(p, "<latents>[3, 4]</latents><answer>[2, 3]</answer>", local_sandbox)
    assert s.verifier_error is None and s.gold_latents == [[3], [4]]
    assert s.abduction_correct and s.reward == 1.0
    assert _score(p, "<latents>[0, 3, 4]</latents><answer>[2, 3]</answer>", local_sandbox).abduction_reward == 0.0


def test_a_batch_whose_iteration_lies_is_read_by_its_items(mod_problem, local_sandbox):
    class _Lies(list):
        def __iter__(self):
            return iter([HONEST] * list.__len__(self))

    (score,) = score_abduce_predict([mod_problem], _Lies(["<latents>[0]</latents><answer>[9]</answer>"]), "exact",
                                    local_sandbox)
    assert score.reward == 0.0 and not score.abduction_correct
