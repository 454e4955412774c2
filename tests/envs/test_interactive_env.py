"""CounterfactualCodeInteractive-v0: experiments shrink the gold set, the reward cannot be gamed, the
tool form matches TRL's environment_factory shape, and the baselines order as they should."""
from __future__ import annotations

import inspect
import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.interactive_baselines import InteractiveBenchConfig, play_episode, run_interactive_bench
from envs.interactive_env import CounterfactualCodeInteractiveEnv
from envs.interactive_tools import InteractiveExperimentTools
from generators.io import write_problems
from tests.envs.envs_problems import make_problem

# f(x, r) = (x*r) % 6, r in 0..5. f(2) = 2 -> r in {1, 4}; question f(5): {5, 2}. Experiment f(1)
# returns r itself, so it pins r; f(3) = 3 for both (useless).


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("interactive") / "mod.jsonl"
    write_problems(path, [make_problem("hand:mod:cf")])
    return str(path)


def _env(suite, **kw):
    return CounterfactualCodeInteractiveEnv(families=["if_else"], suite=suite, sandbox_backend="local",
                                            **{"max_experiments": 3, "experiment_cost": 0.05, **kw})


def test_registered_and_passes_gymnasium_check_env(suite):
    env = gym.make("CounterfactualCodeInteractive-v0", families=["if_else"], suite=suite, sandbox_backend="local")
    assert isinstance(env.unwrapped, CounterfactualCodeInteractiveEnv)
    check_env(env.unwrapped, skip_render_check=True)


def test_a_good_experiment_pins_the_answer_and_costs_what_it_says(suite):
    env = _env(suite, reward="precise")
    prompt, info = env.reset(seed=1)
    assert "<run>f(x=2)</run>" in prompt and "You may not run f(x=5) itself" in prompt
    assert info["consistent"] == 2 and env.gold() == [2, 5]
    reply, reward, terminated, _, info = env.step("Let me test r. <run>f(x=1)</run>")
    true_r = 1 if reply.startswith("f(x=1) returned 1.") else 4
    assert reply == f"f(x=1) returned {true_r}. 2 experiments left." and not terminated and reward == -0.05
    assert info["experiments"] == [{"call": "f(x=1)", "args": {"x": 1}, "outcome": f"returned {true_r}",
                                    "ruled_out": 1, "remaining": 1}]
    gold = [5 * true_r % 6]
    assert env.gold() == gold
    _, reward, terminated, _, info = env.step(f"<answer>{gold}</answer>")
    assert terminated and reward == 1.0 and info["correct"] and info["true_latents"] == {"r": true_r}
    assert info["episode_reward"] == pytest.approx(0.95)


def test_same_seed_same_episode_and_seeds_cover_the_consistent_latents(suite):
    env = _env(suite)
    seen = set()
    for seed in range(8):
        runs = []
        for _ in range(2):
            env.reset(seed=seed)
            env.step("<run>f(x=1)</run>")
            _, _, _, _, info = env.step("<answer>[0]</answer>")
            runs.append(info["true_latents"]["r"])
        assert runs[0] == runs[1]
        seen.add(runs[0])
    assert seen == {1, 4}  # only latents consistent with the factual observation, both drawn


@pytest.mark.parametrize("reward", ["exact", "f1", "precise"])
def test_listing_every_value_never_pays(suite, reward):
    env = _env(suite, reward=reward)
    env.reset(seed=0)
    _, r, *_ = env.step("<answer>[0, 1, 2, 3, 4, 5]</answer>")
    assert r == 0.0
    env.reset(seed=0)
    env.step("<run>f(x=1)</run>")
    _, r, *_ , info = env.step("<answer>[2, 5]</answer>")  # the pre-experiment set: one value is now ruled out
    assert len(info["gold"]) == 1 and r == 0.0


HOSTILE_RUNS = [
    ("<run>f(x=5)</run>", "intervention's own input"),
    ("<run>f(5)</run>", "intervention's own input"),
    ("<run>f(x=5.0)</run>", "must be a int"),
    ("<run><answer>[2]</answer></run>", "one call"),
    ("<run>__import__('os').system('touch /tmp/pwned')</run>", "only calls of f"),
    ("<run>f(x=__import__('os').getpid())</run>", "literal value"),
    ("<run>f(x=10**100)</run>", "literal value"),
    ("<run>f(x=1000000)</run>", "-100..100"),
    ("<run>f(x=1e999)</run>", "must be a number"),
    ("<run>f(x=[1]*10**9)</run>", "literal value"),
    ("<run>f(x=" + "1" * 5000 + ")</run>", "longer than"),
    ("<run>f(x=1)</run><run>f(x=4)</run>", "exactly one <run>"),
    ("<run>f(x=1)", "exactly one <run>"),
    ("<run>f(x=1, r=4)</run>", "unknown or repeated argument 'r'"),
    ("<run>f(**{'x': 1})</run>", "takes the arguments x"),
    ("<run>g(x=1)</run>", "only calls of f"),
]


@pytest.mark.parametrize(("message", "why"), HOSTILE_RUNS)
def test_hostile_experiment_requests_are_refused_without_cost_or_information(suite, message, why):
    env = _env(suite)
    env.reset(seed=0)
    reply, reward, terminated, truncated, info = env.step(message)
    assert reply.startswith("Not run:") and why in reply, reply
    assert reward == 0.0 and not terminated and not truncated
    assert info["experiments"] == [] and info["consistent"] == 2 and info["experiments_left"] == 2
    assert info["refused"][0]["reason"] in reply


def test_an_answer_inside_or_beside_a_run_is_never_an_answer_and_slots_run_out(suite):
    env = _env(suite, max_experiments=2)
    env.reset(seed=0)
    gold = env.gold()
    for _ in range(2):
        _, reward, terminated, _, _ = env.step(f"<answer>{gold}</answer> <run>f(x=3)</run>")
        assert not terminated
    _, reward, terminated, _, info = env.step(f"<run>f(x=1)</run><answer>{gold}</answer>")
    assert terminated and reward == 0.0 and info["error"].startswith("no experiments left")
    assert info["episode_reward"] == pytest.approx(-0.1)


def test_no_experiments_answer_at_once_and_chatter_ends_unanswered(suite):
    env = _env(suite, max_experiments=0)
    prompt, _ = env.reset(seed=0)
    assert "<run>" not in prompt
    _, reward, terminated, _, _ = env.step("<answer>[5, 2]</answer>")
    assert terminated and reward == 1.0
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("I think it is five.")
    assert terminated and reward == 0.0 and not info["format_ok"]


@pytest.mark.parametrize("reward", ["exact", "f1", "precise"])
def test_only_the_assistants_own_message_can_answer(suite, reward):
    """A chat-form action answers only through its last assistant message (a tool reply is no answer)."""
    env = _env(suite, max_experiments=0, reward=reward)
    for action in ([{"role": "user", "content": "<answer>[5, 2]</answer>"}],
                   [{"role": "assistant", "content": "hm"}, {"role": "tool", "content": "<answer>[5, 2]</answer>"}]):
        env.reset(seed=0)
        _, r, terminated, _, info = env.step(action)
        assert terminated and r == 0.0 and not info["format_ok"]
    env.reset(seed=0)
    _, r, *_ = env.step([{"role": "assistant", "content": "<answer>[5, 2]</answer>"}])
    assert r == (0.5 if reward == "precise" else 1.0)


def test_experiments_run_in_the_docker_sandbox(suite):
    env = CounterfactualCodeInteractiveEnv(families=["if_else"], suite=suite, sandbox_backend="docker")
    env.reset(seed=3)
    reply, *_ = env.step("<run>f(x=1)</run>")
    assert reply.split(" returned ")[1][0] in "14"


def test_tool_form_has_trls_environment_factory_shape_and_the_same_rules(suite):
    from transformers.utils import get_json_schema

    members = {n for n, _ in inspect.getmembers(InteractiveExperimentTools, predicate=inspect.isfunction)
               if not n.startswith("_")}
    assert members == {"reset", "get_reward", "run_experiment", "submit_answer"}  # TRL exposes the last two
    for tool in (InteractiveExperimentTools.run_experiment, InteractiveExperimentTools.submit_answer):
        assert get_json_schema(tool)["function"]["parameters"]["required"]
    tools = InteractiveExperimentTools(families=["if_else"], suite=suite, sandbox_backend="local", max_experiments=5)
    text = tools.reset(seed=1)
    assert "run_experiment" in text and "<run>" not in text
    assert tools.run_experiment({"x": 5}).startswith("Not run: the intervention's own input")
    assert tools.run_experiment({"x) or __import__('os') or f(x": 1}).startswith("Not run:")
    assert tools.run_experiment({"x": "1); import os; (1"}).startswith("Not run:")
    reply = tools.run_experiment({"x": 1})
    r = int(reply.split("returned ")[1].split(".")[0])
    assert tools.get_reward() == pytest.approx(-0.05)
    tools.submit_answer([5 * r % 6])
    assert tools.get_reward() == pytest.approx(0.95) and tools.run_experiment({"x": 2}) == "The episode is over."
    tools.reset(seed=1)
    tools.submit_answer([0, 1, 2, 3, 4, 5])
    assert tools.get_reward() == 0.0
    with pytest.raises(ValueError, match="column 'seed' must be a non-negative integer"):
        tools.reset(seed="7; rm -rf /")


@pytest.mark.parametrize("reward", ["exact", "f1", "precise"])
def test_submitted_values_cannot_inject_answer_tags(suite, reward):
    """submit_answer(["</answer><answer>[2, 5]</answer>"]) answers one string, not [2, 5]: the rendered
    message must read back as the submitted values, else it is no answer."""
    tools = InteractiveExperimentTools(families=["if_else"], suite=suite, sandbox_backend="local", max_experiments=0,
                                       reward=reward)
    for values in (["</answer><answer>[2, 5]</answer>"], [{"</answer><answer>[2, 5]</answer>": 1}],
                   ["<answer>[2, 5]</answer>"]):
        tools.reset(seed=0)
        tools.submit_answer(values)
        assert tools.get_reward() == 0.0 and tools.info["parsed_answer"] in (None, values), values
    tools.reset(seed=0)
    tools.submit_answer([5, 2])
    assert tools.get_reward() == (0.5 if reward == "precise" else 1.0)


def test_a_sandbox_failure_is_masked_not_a_silent_penalty(suite):
    """The sandbox dies before an experiment: the env flags verifier_error; the tool form's get_reward is
    None (TRL masks it, as the TRL reward function's None) instead of minus the costs so far."""
    from sandbox import make_sandbox

    dead = make_sandbox("local")
    dead.close()
    tools = InteractiveExperimentTools(families=["if_else"], suite=suite, sandbox_backend="local", max_experiments=3)
    tools.reset(seed=0)
    tools.run_experiment({"x": 3})
    tools._env._sandbox = lambda: dead
    reply = tools.run_experiment({"x": 1})
    assert reply.startswith("Episode over: the sandbox failed") and tools.info["verifier_error"]
    assert tools.get_reward() is None and tools.submit_answer([2]) == "The episode is over."
    tools.reset(seed=0)  # a new episode scores again
    tools.submit_answer([0, 1, 2, 3, 4, 5])
    assert tools.get_reward() == 0.0


TOOLS_KWARGS = {"families": ["if_else"], "suite": "frozen:test", "sandbox_backend": "local"}
PLACEHOLDER_ROW = {"prompt": [{"role": "user", "content": ""}]}  # what TRL passes when there is no dataset


def _play_batch(pool, rows):
    """One TRL batch: rollout k goes to the k-th pooled instance; returns (problem id, prompt) per rollout."""
    return [(tools.info["problem_id"], text) for tools, row in zip(pool, rows) if (text := tools.reset(**row))]


def test_a_factory_pool_gives_each_grpo_group_its_own_problem_without_a_dataset():
    make = InteractiveExperimentTools.factory(group_size=2, **TOOLS_KWARGS)
    pool = [make() for _ in range(6)]  # TRL: 3 prompts x num_generations 2
    batches = [_play_batch(pool, [PLACEHOLDER_ROW] * 6) for _ in range(2)]
    for played in batches:
        groups = [played[k:k + 2] for k in range(0, 6, 2)]
        assert all(a == b for a, b in groups), "the rollouts of one group must play the same episode"
        assert len({a[0] for a, _ in groups}) == 3, "the groups of a batch must get distinct problems"
    assert {p for p, _ in batches[0]}.isdisjoint({p for p, _ in batches[1]}), "each batch draws new problems"
    again = [InteractiveExperimentTools.factory(group_size=2, **TOOLS_KWARGS)() for _ in range(1)]
    assert _play_batch(again, [PLACEHOLDER_ROW]) == batches[0][:1]  # reproducible
    with pytest.raises(ValueError, match="group_size must be an integer >= 1"):
        InteractiveExperimentTools.factory(group_size=0, **TOOLS_KWARGS)


def test_unpinned_rows_get_problems_from_their_content_and_a_lone_placeholder_warns(caplog, monkeypatch):
    import envs.interactive_tools as module

    monkeypatch.setattr(module, "_warned_same_problem", False)
    pool = [InteractiveExperimentTools(**TOOLS_KWARGS) for _ in range(4)]
    rows = [{"prompt": [{"role": "user", "content": f"task {k // 2}"}]} for k in range(4)]
    played = _play_batch(pool, rows)
    assert played[0] == played[1] and played[2] == played[3] and played[0][0] != played[2][0]
    with caplog.at_level("WARNING", logger="envs.interactive_tools"):
        _play_batch(pool, [PLACEHOLDER_ROW] * 4)
    assert "every group of a batch gets the same problem" in caplog.text
    assert "factory(group_size=num_generations" in caplog.text


def test_baselines_order_none_random_greedy(suite, local_sandbox):
    env = _env(suite, reward="precise")
    none = play_episode(env, "none", local_sandbox, seed=0)
    greedy = play_episode(env, "greedy", local_sandbox, seed=0)
    assert none["total_reward"] == 0.5 and len(none["experiments"]) == 0
    assert greedy["total_reward"] == pytest.approx(0.95) and greedy["experiments"][0]["remaining"] == 1
    result = run_interactive_bench(InteractiveBenchConfig(families=("if_else",), episodes=6, suite=suite,
                                                         sandbox_backend="local"), sandbox=local_sandbox)
    rows = result["policies"]
    assert rows["none"]["mean_reward"] == 0.5 and rows["greedy"]["mean_reward"] == pytest.approx(0.95)
    assert rows["none"]["mean_reward"] <= rows["random"]["mean_reward"] <= rows["greedy"]["mean_reward"]
    assert all(row["correct_rate"] == 1.0 for row in rows.values())
    assert json.dumps(result)  # JSON-safe for the CLI


def test_latents_in_another_order_than_the_signature(tmp_path):
    """f(x, b, a) with latents stored as {"a", "b"}: experiments and tables call by parameter name."""
    path = tmp_path / "order.jsonl"
    write_problems(path, [make_problem("hand:order:cf", program="def f(x, b, a):\n    return x * a + b\n",
                                       latents={"a": [1, 2, 3], "b": [0, 1, 2]},
                                       observations=[{"args": {"x": 1}, "output": 4}],
                                       intervention={"args": {"x": 3}}, answer=[8, 10], meta={})])
    env = _env(str(path))
    env.reset(seed=0)
    assert env.gold() == [8, 10]  # (a, b) in {(2, 2), (3, 1)}
    reply, *_ , info = env.step("<run>f(x=2)</run>")
    assert info["experiments"][0]["remaining"] == 1 and reply.startswith(("f(x=2) returned 6", "f(x=2) returned 7"))


def test_huge_messages_are_refused_quickly(suite):
    import time

    env = _env(suite)
    env.reset(seed=0)
    start = time.perf_counter()
    reply, reward, terminated, *_ = env.step("<run>f(x=1)</run>" * 60_000)  # ~1 MB, many runs
    assert reply.startswith("Not run: write exactly one") and reward == 0.0 and not terminated
    reply, *_ = env.step("<run>f(x=" + "9" * 1_000_000 + ")</run>")
    assert "longer than" in reply
    _, reward, terminated, *_ = env.step("<answer>[" + "1, " * 300_000 + "]</answer>")
    assert terminated and reward == 0.0 and time.perf_counter() - start < 5


def test_unclosed_run_tags_are_refused_in_linear_time(suite):
    """40k unclosed <run> tags (200 kB): counted first, so the block search never rescans the text per tag
    (it took ~30 s; a megabyte, ten minutes of one reward)."""
    import time

    env = _env(suite)
    env.reset(seed=0)
    start = time.perf_counter()
    reply, reward, terminated, *_ = env.step("<run>" * 40_000)
    assert reply.startswith("Not run: write exactly one") and reward == 0.0 and not terminated
    assert time.perf_counter() - start < 3


def _messages():
    from hypothesis import strategies as st

    call = st.integers(-120, 120).map(lambda x: f"<run>f(x={x})</run>")
    answer = st.lists(st.integers(0, 6), max_size=7).map(lambda v: f"<answer>{v}</answer>")
    noise = st.sampled_from(["<run>f(x=5)</run>", "<run>g(1)</run>", "hello", "<run>f(x=1)</run><answer>[1]</answer>"])
    return st.lists(st.one_of(call, answer, noise), min_size=1, max_size=6)


def test_no_message_sequence_beats_honest_play(suite):
    """Whatever the agent writes: total reward <= 1 - cost x executed experiments, and an answer with
    a value the evidence rules out pays nothing."""
    from hypothesis import given, settings

    env = _env(suite, reward="f1")

    @settings(max_examples=40, deadline=None)
    @given(_messages())
    def check(messages):
        env.reset(seed=0)
        total, info = 0.0, {}
        for message in messages:
            _, reward, terminated, truncated, info = env.step(message)
            total += reward
            if terminated or truncated:
                break
        executed = len(info["experiments"])
        assert total <= 1.0 - 0.05 * executed + 1e-9
        if info.get("parsed_answer") is not None and not set(info["parsed_answer"]) <= set(info["gold"]):
            assert info["correctness"] == 0.0

    check()


def test_a_failed_reset_leaves_no_episode_to_step(suite):
    """reset(options=...) with a family outside the env's families served that family's problems; any
    failed reset must leave the env needing a reset, not the previous episode running."""
    env = _env(suite)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not one of this env's families"):
        env.reset(seed=0, options={"family": "while"})
    with pytest.raises(gym.error.ResetNeeded):
        env.step("<answer>[2, 5]</answer>")


def test_every_reply_lies_in_the_observation_space(tmp_path):
    """The reply quoted the call's whole return value: an input the agent chose made f return 60 kB and the
    observation left the declared space (and the context); a refusal naming a 1,900-character argument
    did too under a small max_prompt_chars. A cut reply rules out only what its text tells apart."""
    path = tmp_path / "big.jsonl"
    write_problems(path, [make_problem("hand:big:cf", program='def f(x, r):\n    return "ab" * (x * 1000) + str(r) if x else "0"\n',
                                       latents={"r": [0, 1]}, observations=[{"args": {"x": 0}, "output": "0"}],
                                       intervention={"args": {"x": 2}}, answer=["ab" * 2000 + "0", "ab" * 2000 + "1"],
                                       meta={})])
    env = CounterfactualCodeInteractiveEnv(families=["if_else"], suite=str(path), sandbox_backend="local",
                                           max_prompt_chars=1_500, max_experiments=3)
    env.reset(seed=0)
    reply, reward, terminated, _, info = env.step("<run>f(x=30)</run>")
    assert reply in env.observation_space and not terminated and reward == -0.05, len(reply)
    assert reply.startswith("f(x=30) returned 'abab") and "60003 characters" in reply
    assert len(info["experiments"][0]["outcome"]) < 1_500
    assert info["consistent"] == 2  # the cut text cannot tell r = 0 from r = 1: it rules nothing out
    reply, *_ = env.step("<run>f(" + "a" * 1_900 + "=1)</run>")
    assert reply in env.observation_space and reply.startswith("Not run: unknown or repeated argument"), len(reply)
    assert reply.endswith("1 experiment left.")


def test_the_groups_of_a_batch_never_share_a_problem():
    """factory(group_size): "the groups of a batch get different ones" held only by chance (each group drew
    its problem at random: 16 groups over the 300 frozen if_else problems shared one in the third batch)."""
    make = InteractiveExperimentTools.factory(group_size=2, **TOOLS_KWARGS)
    pool = [make() for _ in range(32)]  # TRL: 16 prompts x num_generations 2
    for _ in range(6):
        played = _play_batch(pool, [PLACEHOLDER_ROW] * 32)
        groups = [played[k:k + 2] for k in range(0, 32, 2)]
        assert all(a == b for a, b in groups)
        assert len({a[0] for a, _ in groups}) == 16


def test_problems_sharing_an_id_keep_their_own_prompts(tmp_path):
    """The protocol prompt was cached by problem id: in a suite whose families reuse an id, the if_else
    problem was served with the while problem's prompt (the agent scored on a problem it never saw)."""
    from dataclasses import replace

    first = make_problem("dup:1")
    second = replace(make_problem("dup:1", program="def f(x, r):\n    return (x + r) % 6\n", answer=[1, 4]),
                     prompt="SECOND PROBLEM <answer></answer>", family="while")
    path = tmp_path / "dup.jsonl"
    write_problems(path, [first, second])
    env = CounterfactualCodeInteractiveEnv(suite=str(path), sandbox_backend="local")
    seen = {}
    for seed in range(12):
        prompt, info = env.reset(seed=seed)
        seen[info["family"]] = prompt
    assert set(seen) == {"if_else", "while"}
    assert seen["if_else"].startswith(first.prompt) and seen["while"].startswith(second.prompt)


def test_values_that_cannot_be_rendered_are_no_answer_not_an_exception(suite):
    """submit_answer with a list nested 5,000 deep (or whose iteration raises) raised RecursionError out of
    the tool; like any value that is no list of values it is now an answer that earns 0 and ends the episode."""
    class Hostile(list):
        def __iter__(self):
            raise RuntimeError("boom")

    deep: list = [1]
    for _ in range(5_000):
        deep = [deep]
    tools = InteractiveExperimentTools(families=["if_else"], suite=suite, sandbox_backend="local", max_experiments=1)
    for values in (deep, Hostile([2, 5]), [Hostile([2])]):
        tools.reset(seed=0)
        assert tools.submit_answer(values) == "Answer received."
        assert tools.get_reward() == 0.0 and tools.info["format_ok"] is False
        assert tools.submit_answer([2, 5]) == "The episode is over." and tools.get_reward() == 0.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"experiment_cost": True}, "experiment_cost must be a finite number >= 0"),  # was a cost of 1.0
    ({"experiment_cost": 10 ** 400}, "experiment_cost must be a finite number >= 0"),  # OverflowError
    ({"experiment_cost": "0.1"}, "experiment_cost must be a finite number >= 0"),
    ({"max_experiments": True}, "max_experiments must be an integer in 0..64"),
    ({"reward": None}, "reward must be one of"),
    ({"min_answer_size": 0}, "min_answer_size must be a positive integer"),
    ({"max_input_abs": 0}, "max_input_abs must be a positive integer"),
])
def test_bad_interactive_kwargs_raise_clearly(suite, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _env(suite, **kwargs)


def test_concurrent_tool_calls_keep_one_consistent_episode(tmp_path):
    """A driver calling run_experiment and submit_answer at once (threads): the answer was scored while the
    experiment ran, the experiment then reopened the finished episode (its step said "not terminated"), so
    get_reward() disagreed with the episode's own books and the next call raised ResetNeeded out of the
    tool. Calls on one instance are serialised: either order is a valid sequential episode."""
    import threading
    import time

    path = tmp_path / "slow.jsonl"
    program = "import time\n\ndef f(x, r):\n    time.sleep(1.0 if x == 1 else 0)\n    return (x * r) % 6\n"
    write_problems(path, [make_problem("hand:slow:cf", program=program)])
    tools = InteractiveExperimentTools(families=["if_else"], suite=str(path), sandbox_backend="local")
    tools.reset(seed=0)
    replies = {}
    slow = threading.Thread(target=lambda: replies.setdefault("run", tools.run_experiment({"x": 1})))
    slow.start()
    time.sleep(0.3)  # widen the window: the experiment is running in the sandbox
    replies["answer"] = tools.submit_answer([2, 5])
    slow.join()
    assert tools.submit_answer([2]) == "The episode is over."
    assert tools.run_experiment({"x": 3}) == "The episode is over."
    assert tools.get_reward() == pytest.approx(tools.info["episode_reward"])


def test_tools_after_a_failed_reset_answer_that_the_episode_is_over(suite):
    """A reset that raised (a problem_id not in the pool) left the tools thinking the previous episode
    still ran while the env had none: run_experiment raised ResetNeeded out of the tool."""
    tools = InteractiveExperimentTools(families=["if_else"], suite=suite, sandbox_backend="local")
    tools.reset(seed=0)
    tools.run_experiment({"x": 3})
    with pytest.raises(ValueError, match="not in this env's pool"):
        tools.reset(problem_id="if_else:nope")
    assert tools.run_experiment({"x": 1}) == "The episode is over."
    assert tools.submit_answer([2, 5]) == "The episode is over."
    assert tools.get_reward() == 0.0


def test_an_intervention_inside_the_function_leaves_every_input_free():
    """do_internal: the question changes the function, not its input (its args are the observation's), yet
    the prompt's own example call f(x=9) was refused as "the intervention's own input" (the prompt also
    said it may not be run); running the unchanged function there only repeats the observation."""
    env = CounterfactualCodeInteractiveEnv(families=["do_internal"], suite="frozen:test", sandbox_backend="local")
    prompt, _ = env.reset(seed=0)
    problem = env.episode_problem()
    assert problem.intervention.get("program") and problem.intervention["args"] == problem.observations[0]["args"]
    example = prompt.split("e.g. <run>")[1].split("</run>")[0]
    assert "may not run" not in prompt
    reply, *_, info = env.step(f"<run>{example}</run>")
    assert reply.startswith(f"{example} returned") and info["experiments"][0]["ruled_out"] == 0, reply
    tools = InteractiveExperimentTools(families=["do_internal"], suite="frozen:test", sandbox_backend="local")
    assert "cannot be run" not in tools.reset(seed=0)
    assert " returned " in tools.run_experiment(dict(problem.intervention["args"]))
