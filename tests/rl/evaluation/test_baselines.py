"""The no-model baselines: the oracle must score 100% through the env's own scorer (a CI gate on the
suites, the generators and the scorer at once); skip-abduction and prior show the expected gaps."""
from __future__ import annotations

import pytest

from generators import FAMILIES, load_problems
from rl.evaluation.baselines import BASELINES, BaselinePolicy
from tests.rl.conftest import eval_config


def _problems(mini_suites, family=None):
    files = sorted((mini_suites / "test").glob(f"{family or '*'}.*.jsonl"))
    return [p for f in files for p in load_problems(f)]


@pytest.mark.docker
def test_oracle_scores_100_percent_through_the_env_scorer_on_every_family_and_mode(mini_suites):
    from envs import score_batch
    from sandbox import make_sandbox

    problems = _problems(mini_suites)
    assert {(p.family, p.mode) for p in problems} == {(f, m) for f in FAMILIES for m in FAMILIES[f].modes}
    with make_sandbox("docker") as sandbox:
        completions = BaselinePolicy("oracle", sandbox).complete(problems)
        scores = score_batch(problems, [c.text for c in completions], reward="exact", sandbox=sandbox)
    wrong = [(p.id, s.error, p.answer, s.parsed_answer) for p, s in zip(problems, scores) if not s.correct]
    assert not wrong, wrong[:5]
    assert all(s.format_ok and s.verifier_error is None for s in scores)


def test_oracle_answers_equal_the_recorded_answers(mini_suites, local_sandbox):
    problems = _problems(mini_suites)
    answers = BaselinePolicy("oracle", local_sandbox).answers(problems)
    assert [a for a in answers] == [p.answer for p in problems]


def test_skip_abduction_is_exact_when_the_latent_is_revealed_and_loses_when_it_must_be_inferred(
        mini_suites, local_sandbox):
    from rl.evaluation import evaluate

    result, _ = evaluate(eval_config(mini_suites, "skip-abduction"), sandbox=local_sandbox)
    iv = [g.exact_match.mean for g in result.groups if g.mode == "interventional"]
    cf = [g.exact_match.mean for g in result.groups if g.mode == "counterfactual"]
    assert iv and all(m == 1.0 for m in iv)
    assert sum(cf) / len(cf) < 0.8  # abduction matters by construction (the generators' filter)


def test_prior_answers_every_reachable_output_and_never_solves_a_counterfactual(mini_suites, local_sandbox):
    problems = [p for p in _problems(mini_suites, "if_else") if p.mode == "counterfactual"]
    prior = BaselinePolicy("prior", local_sandbox).answers(problems)
    oracle = BaselinePolicy("oracle", local_sandbox).answers(problems)
    for p, pa, oa in zip(problems, prior, oracle):
        assert set(map(repr, oa)) < set(map(repr, pa)), p.id  # strictly larger: abduction must matter
        assert len(pa) == p.meta.get("unconditioned_answer_size", len(pa))


def test_baseline_completions_look_like_model_output(mini_suites, local_sandbox):
    from envs import parse_answer

    problems = _problems(mini_suites, "multi_r")
    for name in BASELINES:
        for p, c in zip(problems, BaselinePolicy(name, local_sandbox).complete(problems)):
            parsed = parse_answer(c.text)
            assert parsed.format_ok, (name, c.text)
            assert c.text.rstrip().endswith("</answer>") and c.finish_reason == "stop"
            assert c.n_tokens == len(c.text.split())


def test_skip_abduction_guess_is_deterministic_per_problem(mini_suites, local_sandbox):
    problems = _problems(mini_suites, "if_else")
    a = BaselinePolicy("skip-abduction", local_sandbox, seed=1).complete(problems)
    b = BaselinePolicy("skip-abduction", local_sandbox, seed=1).complete(list(reversed(problems)))
    assert [c.text for c in a] == [c.text for c in reversed(b)]


def test_unknown_baseline_is_a_clear_error(local_sandbox):
    with pytest.raises(ValueError, match="unknown baseline 'guru'"):
        BaselinePolicy("guru", local_sandbox)
