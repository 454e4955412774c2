"""The gymnasium contract of CounterfactualCode-v0 / CounterfactualMath-v0 on generated problems."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs import CounterfactualCodeEnv

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"families": ["if_else"], "num_problems": 12, "sandbox_backend": "local"}


def make(**kwargs):
    return gym.make("CounterfactualCode-v0", **{**SMALL, **kwargs})


@pytest.mark.parametrize("kwargs", [
    {},
    {"reward": "f1", "prompt_style": "chat"},
    {"mode": "interventional"},
    {"question": "abduce"},
])
def test_check_env_passes(kwargs):
    env = make(**kwargs)
    check_env(env.unwrapped)
    env.close()


def test_spaces_accept_any_completion():
    env = make()
    for text in ["", "plain", "tabs\tand\nnewlines", "unicode: é 中文 😀 \u2028", "<answer>[1]</answer>" * 100]:
        assert env.action_space.contains(text)
    assert not env.action_space.contains(b"bytes") and not env.action_space.contains(None)
    assert not env.action_space.contains("x" * (env.action_space.max_length + 1))
    assert env.observation_space.max_length == 32_768 and env.action_space.max_length == 131_072


def test_episode_contract_and_determinism():
    env = make()
    prompt, info = env.reset(seed=7)
    assert prompt in env.observation_space and "<answer>" in prompt
    assert set(info) == {"problem_id", "family", "mode", "level", "question"}
    problem = env.unwrapped.pool("if_else")[0].problem
    assert env.reset(seed=7) == (prompt, info)  # same seed, same problem
    ids = {env.reset(seed=s)[1]["problem_id"] for s in range(30)}
    assert len(ids) > 3
    prompt, info = env.reset(options={"problem_id": problem.id})
    assert info["problem_id"] == problem.id
    gold = "<answer>" + repr(problem.answer) + "</answer>"
    _, reward, terminated, truncated, info = env.step("Reasoning.\n" + gold)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["correct"] and info["format_ok"] and info["gold"] == problem.answer
    assert info["parsed_answer"] == problem.answer and info["verifier_error"] is None
    assert {"f1", "family", "mode", "problem_id"} <= set(info)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(gold)  # one step per episode


def test_reset_options_pin_family_and_index():
    env = make()
    a = env.reset(options={"family": "if_else", "index": 3})[1]["problem_id"]
    b = env.reset(seed=99, options={"family": "if_else", "index": 3})[1]["problem_id"]
    assert a == b == env.unwrapped.pool("if_else")[3].problem.id
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"difficulty": 2})
    with pytest.raises(ValueError, match="not in this env's pool"):
        env.reset(options={"problem_id": "if_else:counterfactual:train:0:999999"})


def test_step_before_reset_raises():
    env = CounterfactualCodeEnv(**SMALL)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("<answer>[1]</answer>")


def test_chat_prompt_style_is_json_messages():
    env = make(prompt_style="chat")
    obs, _ = env.reset(seed=0)
    messages = json.loads(obs)
    assert messages[0]["role"] == "user" and "<answer>" in messages[0]["content"]


@pytest.mark.parametrize("kwargs, message", [
    ({"reward": "partial"}, "reward must be one of"),
    ({"mode": "abductive"}, "mode must be one of"),
    ({"split": "dev"}, "split must be"),
    ({"prompt_style": "html"}, "prompt_style"),
    ({"question": "why"}, "question must be one of"),
    ({"sandbox_backend": "cloud"}, "sandbox_backend"),
    ({"level": 9}, "level must be"),
    ({"families": ["no_such_family"]}, "unknown family"),
    ({"num_problems": 0}, "num_problems"),
    ({"num_problems": True}, "num_problems"),
    ({"generation_seed": None}, "generation_seed must be an integer"),  # were accepted: ids like "train:None:3"
    ({"generation_seed": "x"}, "generation_seed must be an integer"),
    ({"generation_seed": 1.5}, "generation_seed must be an integer"),
    ({"families": 5}, "families must be a family name or a list of names"),  # TypeError: not iterable
    ({"families": [["if_else"]]}, "families must be a family name or a list of names"),
    # a set's order follows PYTHONHASHSEED: the same reset seed drew another family in another process
    ({"families": {"if_else", "while"}}, "families must be a family name or a list of names"),
    ({"level": True}, "level must be"),
    ({"max_prompt_chars": "x"}, "max_prompt_chars must be a positive integer"),  # TypeError from gymnasium
    ({"max_completion_chars": -1}, "max_completion_chars must be a positive integer"),
])
def test_bad_kwargs_raise_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CounterfactualCodeEnv(**{**SMALL, **kwargs})


def test_prompts_longer_than_the_declared_space_are_refused():
    env = CounterfactualCodeEnv(**SMALL, max_prompt_chars=50)
    with pytest.raises(ValueError, match="exceed max_prompt_chars=50"):
        env.reset(seed=0)


@pytest.mark.parametrize("vectorization_mode", ["sync", "async"])
def test_make_vec(vectorization_mode):
    venv = gym.make_vec("CounterfactualCode-v0", num_envs=3, vectorization_mode=vectorization_mode, **SMALL)
    obs, info = venv.reset(seed=0)
    assert len(obs) == 3 and len(info["problem_id"]) == 3
    pool = {it.problem.id: it.problem for it in CounterfactualCodeEnv(**SMALL).pool("if_else")}
    actions = ["<answer>" + repr(pool[pid].answer) + "</answer>" for pid in info["problem_id"]]
    actions[1] = "no idea"
    obs, reward, terminated, truncated, info = venv.step(actions)
    assert list(reward) == [1.0, 0.0, 1.0] and terminated.all() and not truncated.any()
    assert list(info["format_ok"]) == [True, False, True]
    venv.close()


def test_suite_file_as_source(tmp_path):
    from generators import write_problems

    pool = make().unwrapped.pool("if_else")
    path = write_problems(tmp_path / "mini.jsonl", [it.problem for it in pool[:5]])
    env = gym.make("CounterfactualCode-v0", suite=str(path), sandbox_backend="local")
    assert env.unwrapped.families == ["if_else"]
    seen = {env.reset(seed=s)[1]["problem_id"] for s in range(40)}
    assert seen == {it.problem.id for it in pool[:5]}


def test_math_env_serves_the_gsm_family():
    env = gym.make("CounterfactualMath-v0", num_problems=4, sandbox_backend="local")
    assert env.unwrapped.families == ["gsm"]
    prompt, info = env.reset(seed=0)
    assert info["family"] == "gsm" and "<answer>" in prompt
    problem = env.unwrapped.pool("gsm")[0].problem
    env.reset(options={"problem_id": problem.id})
    assert env.step(problem.gold_trace)[1] == 1.0
    check_env(env.unwrapped)


def test_generated_gold_traces_earn_full_reward():
    """Every generated problem's own gold trace parses to exactly its answer (prompt format == parser)."""
    env = make(num_problems=24).unwrapped
    for mode in ("counterfactual", "interventional"):
        e = make(num_problems=24, mode=mode).unwrapped
        for item in e.pool("if_else"):
            e.reset(options={"problem_id": item.problem.id})
            assert e.step(item.problem.gold_trace)[1] == 1.0, item.problem.id
    assert env.pool("if_else")


def test_make_with_module_prefix_needs_no_import():
    code = ("import gymnasium as gym; env = gym.make('envs:CounterfactualCode-v0', families=['if_else'], "
            "num_problems=4, sandbox_backend='local'); print(env.reset(seed=0)[1]['family'])")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("if_else")


def test_render_ansi():
    env = make(render_mode="ansi")
    env.reset(seed=0)
    env.step("<answer>[1]</answer>")
    text = env.render()
    assert "<answer>[1]</answer>" in text and "Here is a Python function" in text


@pytest.mark.parametrize("env_id", ["CounterfactualCode-v0", "CounterfactualCodeInteractive-v0"])
def test_async_vector_env_returns_the_observations_the_envs_produced(tmp_path, env_id):
    """gym.make_vec(..., vectorization_mode="async") with gymnasium's default shared memory: every
    observation was 32,768 zeros (a Text batch was read from shared memory once, at construction), and
    a prompt with a character outside the sampling charset raised KeyError in the worker."""
    from dataclasses import replace

    from generators import write_problems
    from tests.envs.envs_problems import make_problem

    problem = make_problem("hand:mod:cf")
    problem = replace(problem, prompt="Ω ≥ ñ 😀 \x00 " + problem.prompt)
    path = write_problems(tmp_path / "unicode.jsonl", [problem])
    kwargs = {"families": ["if_else"], "suite": str(path), "sandbox_backend": "local"}
    single = gym.make(env_id, **kwargs)
    expected = [single.reset(seed=0)[0]]
    expected.append(single.step("<run>f(x=1)</run>" if "Interactive" in env_id else "<answer>[2, 5]</answer>")[0])
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="async", **kwargs)
    try:
        obs, _ = venv.reset(seed=0)
        assert tuple(obs) == (expected[0], expected[0])
        action = "<run>f(x=1)</run>" if "Interactive" in env_id else "<answer>[2, 5]</answer>"
        first = tuple(venv.step([action, action])[0])
        assert first[0] == expected[1] and first[0] in venv.single_observation_space
    finally:
        venv.close()


@pytest.mark.parametrize("options, message", [
    ({"family": "while"}, "family 'while' is not one of this env's families"),  # served another family's problems
    ({"family": "gsm", "index": 0}, "family 'gsm' is not one of this env's families"),
    ({"index": "abc"}, "index must be an integer"),
    ({"index": [1]}, "index must be an integer"),
    ({"index": 2.7}, "index must be an integer"),
    ({"index": True}, "index must be an integer"),
    ({"problem_id": "while:counterfactual:train:0:0"}, "not in this env's pool"),
    (["index"], "options must be a dict"),
])
def test_reset_options_cannot_leave_the_envs_problems(options, message):
    """reset(options=...) pins a problem of the env's own families only; a bad option is one ValueError
    (a family outside `families` was generated and served; a bad index or options type was a TypeError
    or AttributeError from inside the env)."""
    env = CounterfactualCodeEnv(**SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("<answer>[1]</answer>")  # a failed reset leaves no episode (not the previous one) to step


def test_a_problem_id_is_found_whatever_its_prefix(tmp_path):
    """reset(options={"problem_id": ...}) looked only in the family its prefix names when that is one of the
    env's families: an if_else record with id "while:7" (ids are free text in suite files) was "not in
    this env's pool"."""
    from dataclasses import replace

    from generators import write_problems
    from tests.envs.envs_problems import make_problem

    odd = make_problem("while:7")
    other = replace(make_problem("while:8"), family="while")
    path = write_problems(tmp_path / "ids.jsonl", [odd, other])
    env = CounterfactualCodeEnv(suite=str(path), sandbox_backend="local")
    assert env.families == ["if_else", "while"]
    assert env.reset(options={"problem_id": "while:7"})[1]["family"] == "if_else"
    assert env.reset(options={"problem_id": "while:8"})[1]["family"] == "while"
