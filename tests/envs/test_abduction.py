"""The execution-verified question: any latent value consistent with the evidence is right."""
from __future__ import annotations

import pytest
from tests.envs.envs_problems import make_problem

from envs import make_reward_fn, render_prompt, score_batch, score_completion


def test_any_consistent_value_is_accepted(mod_problem, local_sandbox):
    """Observed f(2, r) = 2 -> r in {1, 4}; every other r in 0..5 gives a different output."""
    for r, ok in [(1, True), (4, True), (0, False), (2, False), (3, False), (5, False)]:
        score = score_completion(mod_problem, f"<answer>[{r}]</answer>", question="abduce", sandbox=local_sandbox)
        assert score.correct is ok and score.reward == float(ok) and score.verifier_error is None, r
    bare = score_completion(mod_problem, "r must be <answer>4</answer>", question="abduce", sandbox=local_sandbox)
    assert bare.correct


def test_every_observation_is_checked(two_latent_problem, local_sandbox):
    """(2, 2) fits f(1)=4 but not f(2)=7; only (3, 1) fits both."""
    def verdict(text):
        return score_completion(two_latent_problem, text, question="abduce", sandbox=local_sandbox)

    assert verdict("<answer>[3, 1]</answer>").correct
    assert verdict("<answer>{'b': 1, 'a': 3}</answer>").correct
    assert not verdict("<answer>[2, 2]</answer>").correct
    assert not verdict("<answer>[1, 3]</answer>").correct  # order matters: a=1, b=3 (and b=3 is outside)


def test_hacks_do_not_pay(mod_problem, local_sandbox):
    for text, why in [("<answer>[0, 1, 2, 3, 4, 5]</answer>", "one per latent"),  # the whole domain
                      ("<answer>[1, 4]</answer>", "one per latent"),  # several answers
                      ("<answer>[7]</answer>", "outside its domain"),  # consistent-looking but out of domain
                      ("<answer>['1']</answer>", "outside its domain"),
                      ("```\n<answer>[1]</answer>\n```", "code block")]:
        score = score_completion(mod_problem, text, question="abduce", sandbox=local_sandbox)
        assert score.reward == 0.0 and why in score.error, text


def test_checker_timeout_is_a_verifier_error(local_sandbox):
    """The checker runs the problem's program; if that run times out, the verdict is unknown, not 0."""
    problem = make_problem("hand:loop", program="def f(x, r):\n    while r == 3:\n        pass\n    return x + r\n",
                           latents={"r": [1, 2, 3]}, observations=[{"args": {"x": 1}, "output": 4}], answer=[5])
    score = score_completion(problem, "<answer>[3]</answer>", question="abduce", sandbox=local_sandbox)
    assert score.verifier_error is not None and "timeout" in score.verifier_error
    reward_fn = make_reward_fn(sandbox=local_sandbox)
    rewards = reward_fn(["<answer>[3]</answer>", "<answer>[2]</answer>"], problem=[problem.to_json()] * 2,
                        question=["abduce", "abduce"])
    assert rewards == [None, 0.0]


def test_batch_verification_in_one_go(mod_problem, two_latent_problem, local_sandbox):
    problems = [mod_problem, two_latent_problem] * 8
    texts = ["<answer>[4]</answer>", "<answer>[3, 1]</answer>"] * 4 + ["<answer>[0]</answer>", "<answer>[2, 2]</answer>"] * 4
    scores = score_batch(problems, texts, question="abduce", sandbox=local_sandbox)
    assert [s.correct for s in scores] == [True] * 8 + [False] * 8


def test_abduce_prompt_states_the_question(two_latent_problem):
    text = render_prompt(two_latent_problem, style="plain", question="abduce")
    assert "f(x=1) returned 4" in text and "f(x=2) returned 7" in text
    assert "random.randint(1, 3)" in text and "<answer>[4, 3]</answer>" in text  # outside both domains
    assert "a, b" in text


@pytest.mark.docker
def test_execution_verified_path_through_docker(mod_problem):
    from envs.shared_sandbox import shared_sandbox

    sandbox = shared_sandbox("docker")  # fails (not skips) when no Docker engine answers
    assert sandbox.backend == "docker"
    scores = score_batch([mod_problem] * 4, ["<answer>[1]</answer>", "<answer>[4]</answer>", "<answer>[0]</answer>",
                                             "<answer>[9]</answer>"], question="abduce", sandbox=sandbox)
    assert [s.correct for s in scores] == [True, True, False, False]
    assert all(s.verifier_error is None for s in scores)


@pytest.mark.docker
def test_env_execution_verified_steps_through_docker():
    import gymnasium as gym

    env = gym.make("envs:CounterfactualCode-v0", families=["if_else"], mode="interventional", num_problems=4,
                   question="abduce", sandbox_backend="docker")
    for item in env.unwrapped.pool("if_else"):
        env.reset(options={"problem_id": item.problem.id})
        truth = item.problem.revealed["r"]
        _, reward, _, _, info = env.step(f"<answer>[{truth}]</answer>")
        assert reward == 1.0 and info["verifier_error"] is None


def test_latents_read_back_in_signature_order_and_abduce_calls_by_name(local_sandbox):
    """Records are written with sorted keys: `data` programs `f(..., k, c)` read back as {"c", "k"}.
    Reading restores the signature's order, and the abduce check calls the program by parameter name
    (a consistent assignment found by keyword calls must be accepted, a swapped one judged as such)."""
    import ast
    import itertools

    from generators.suites import load_suite
    from sandbox import ExecRequest

    problem = next(p for p in load_suite("data", "counterfactual") if len(p.latents) == 2)
    fn = next(n for n in ast.parse(problem.program).body if getattr(n, "name", None) == problem.entry)
    assert list(problem.latents) == [a.arg for a in fn.args.args][len(problem.inputs):]
    names = list(problem.latents)
    combos = list(itertools.product(*problem.latents.values()))
    obs = problem.observations[0]
    [results] = local_sandbox.run_batch([ExecRequest(
        problem.program, problem.entry, [()] * len(combos),
        kwargs=[{**obs["args"], **dict(zip(names, c))} for c in combos], timeout_s=2.0)])
    consistent = [c for c, r in zip(combos, results) if r.ok and r.value == obs["output"]]
    assert consistent
    score = score_completion(problem, f"<answer>{list(consistent[0])!r}</answer>", question="abduce",
                             sandbox=local_sandbox)
    assert score.correct, score


def test_echoing_the_abduce_prompt_never_pays(local_sandbox):
    """The format example was the domain's first value, a consistent latent in 44% of the if_else test
    problems: copying the prompt (or always answering the example) paid that often without reading it.
    The example is now a value of the domain's type outside the domain."""
    from generators import load_suite

    problems = [p for fam in ("if_else", "data", "gsm", "multi_r") for p in load_suite(fam, "counterfactual")[:40]]
    texts = [render_prompt(p, style="plain", question="abduce") for p in problems]
    scores = score_batch(problems, texts, question="abduce", sandbox=local_sandbox)
    assert all(s.format_ok and s.verifier_error is None for s in scores)
    assert [p.id for p, s in zip(problems, scores) if s.reward] == []
    assert all("outside its domain" in s.error for s in scores)


@pytest.mark.parametrize(("latents", "example"), [
    ({"r": [0, 1, 2]}, "[3]"), ({"r": [-4, 7, 2]}, "[8]"), ({"s": ["x", "a"]}, "['y']"),
    ({"a": [1, 2, 3], "b": [0, 1, 2]}, "[4, 3]"), ({"f": [0.5, 1.5]}, "[2.5]"), ({"t": [True, False]}, "[None]"),
    # max + 1 is the max again: the search for an outside value looped for ever (a valid record hung the env)
    ({"f": [1.0, float("inf")]}, "[None]"), ({"f": [1e308, 1.7976931348623157e308]}, "[None]"),
])
def test_the_abduce_format_example_lies_outside_the_domain(latents, example):
    problem = make_problem("hand:example", latents=latents, program=f"def f(x, {', '.join(latents)}):\n    return x\n")
    assert f"<answer>{example}</answer>" in render_prompt(problem, style="plain", question="abduce")
