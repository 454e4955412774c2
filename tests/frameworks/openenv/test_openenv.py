"""OpenEnv 0.10.0 for real: the adapter's server in its own process on 127.0.0.1, episodes over the
WebSocket session, verdicts equal to `envs.scoring` (the path of `cfcode eval`), hacks paying 0, and
one TRL GRPO step whose rewards come through `environment_factory` and that server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from envs.adapters.openenv_env import (
    CounterfactualAction,
    CounterfactualEnvClient,
    openenv_reward,
    trl_environment_factory,
)
from envs.scoring import score_completion
from tests.frameworks.hack_cases import answer_block, hack_completions, hackable_problems
from tests.frameworks.servers import free_port, running_server

ROOT = Path(__file__).resolve().parents[3]
MAX_SESSIONS = 6


@pytest.fixture(scope="module")
def server():
    """`python -m envs.adapters.openenv_env` as users start it (F1 reward: its hack rule uses the sandbox)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "envs.adapters.openenv_env", "--port", str(port), "--families", "if_else",
           "--suite", "frozen:test", "--reward", "f1", "--sandbox-backend", "local",
           "--max-concurrent-envs", str(MAX_SESSIONS)]
    with running_server(cmd, f"{url}/health", "OpenEnv server", cwd=ROOT, timeout_s=120):
        yield url


@pytest.fixture(scope="module")
def problems():
    return hackable_problems(n=3)


def _client(url: str):
    return CounterfactualEnvClient(base_url=url).sync()


def test_episode_scores_like_the_env(server, problems):
    p = problems[0]
    completions = [p.gold_trace, answer_block(p.answer), "no answer at all", answer_block(p.answer + ["x"]),
                   f"```\n{answer_block(p.answer)}\n```"]
    with _client(server) as env:
        for completion in completions:
            first = env.reset(problem_id=p.id)
            assert first.observation.prompt == p.prompt and not first.done and first.observation.gold is None
            result = env.step(CounterfactualAction(completion=completion))
            want = score_completion(p, completion, reward="f1", sandbox_backend="local")
            assert result.done and result.reward == want.reward
            assert (result.observation.correct, result.observation.f1, result.observation.format_ok) == \
                (want.correct, want.f1, want.format_ok)
            assert result.observation.gold == p.answer
            assert env.state().answered and env.state().problem_id == p.id
    assert want.reward == 0.0 and completions[0] != completions[-1]


def test_seeded_reset_is_reproducible(server):
    with _client(server) as a, _client(server) as b:
        assert a.reset(seed=7).observation.problem_id == b.reset(seed=7).observation.problem_id


@pytest.mark.parametrize("hack", ["domain_dump", "prompt_copy", "several_answers"])
def test_hacks_pay_zero_through_the_server(server, problems, hack):
    with _client(server) as env:
        for p in problems:
            env.reset(problem_id=p.id)
            result = env.step(CounterfactualAction(completion=hack_completions(p)[hack]))
            assert result.reward == 0.0 and result.observation.verifier_error is None, (p.id, hack)


def test_second_answer_in_an_episode_is_refused(server, problems):
    p = problems[0]
    with _client(server) as env:
        env.reset(problem_id=p.id)
        assert env.step(CounterfactualAction(completion=answer_block([999]))).reward == 0.0
        with pytest.raises(RuntimeError, match="exactly one completion"):
            env.step(CounterfactualAction(completion=answer_block(p.answer)))


def test_sessions_are_isolated_and_capped(server, problems):
    clients = [_client(server) for _ in range(MAX_SESSIONS)]
    try:
        for c in clients:
            c.connect()
        for c, p in zip(clients, problems):  # interleaved episodes do not see each other
            c.reset(problem_id=p.id)
        for c, p in zip(clients, problems):
            assert c.step(CounterfactualAction(completion=answer_block(p.answer))).reward == 1.0
        with pytest.raises(Exception, match="CAPACITY_REACHED|capacity"), _client(server) as extra:
            extra.reset()
    finally:
        for c in clients:
            c.close()


def test_http_reset_and_step_do_not_share_an_episode(server):
    """Why the client speaks WebSocket: OpenEnv's HTTP endpoints build a fresh env per request."""
    httpx.post(f"{server}/reset", json={"seed": 0}, timeout=30).raise_for_status()
    step = httpx.post(f"{server}/step", json={"action": {"completion": "<answer>[1]</answer>"}}, timeout=30)
    assert step.status_code >= 400 or step.json().get("reward") is None


def test_trl_factory_rewards_and_hacks(server, problems):
    Env = trl_environment_factory(server)
    envs = [Env() for _ in problems]
    try:
        for env, p in zip(envs, problems):
            assert env.reset(prompt=[{"role": "user", "content": p.prompt}], problem_id=p.id) is None
        assert openenv_reward([[{"role": "assistant", "content": p.gold_trace}] for p in problems], envs) == \
            [1.0] * len(problems)
        for hack in ("domain_dump", "prompt_copy", "several_answers"):
            for env, p in zip(envs, problems):
                assert env.reset(problem_id=p.id, prompt=[{"role": "user", "content": ""}]) == p.prompt
            assert openenv_reward([hack_completions(p)[hack] for p in problems], envs) == [0.0] * len(problems)
        with pytest.raises(ValueError, match="problem_id"):
            envs[0].reset(prompt=[{"role": "user", "content": "some problem"}])
    finally:
        for env in envs:
            env._close()


@pytest.mark.slow
def test_one_grpo_step_through_environment_factory(server, tmp_path):
    """TRL GRPOTrainer with no dataset: the env owns the problems, the server scores the completions."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import trl
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from rl.training.tiny_model import build_tiny_model, default_corpus

    model_dir = build_tiny_model(tmp_path / "tiny", corpus=default_corpus(n_problems=20), seed=0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # environment_factory needs a template that renders tool calls; TRL ships Qwen2.5's (ChatML, like ours)
    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    calls: list[list[float | None]] = []

    def reward(completions, environments, **kw):
        out = openenv_reward(completions, environments, **kw)
        calls.append(out)
        return out

    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2,
                      num_generations=2, max_completion_length=8, use_cpu=True, bf16=False, report_to="none",
                      logging_steps=1, save_strategy="no", seed=0)
    trainer = GRPOTrainer(model=str(model_dir), processing_class=tokenizer, reward_funcs=[reward], args=args,
                          environment_factory=trl_environment_factory(server))
    trainer.train()
    assert trainer.state.global_step == 1
    assert calls and all(r in (0.0, 1.0) for r in calls[0]) and len(calls[0]) == 2
    problem_ids = [e.problem_id for e in trainer.environments]
    assert all(pid and pid.startswith("if_else:") for pid in problem_ids)
    assert all(e._result is not None and e._result.done for e in trainer.environments)  # scored by the server


def test_in_process_async_paths_score_like_the_env(problems):
    """The exact path runs inline on the server's event loop (no thread hop); F1 keeps a worker thread."""
    import asyncio

    from envs.adapters.openenv_env import CounterfactualEnvironment

    for reward, inline in (("exact", True), ("f1", False)):
        env = CounterfactualEnvironment(families=["if_else"], suite="frozen:test", reward=reward,
                                        sandbox_backend="local")
        assert env.inline is inline
        for p in problems:
            for completion in (p.gold_trace, *hack_completions(p).values()):
                first = asyncio.run(env.reset_async(problem_id=p.id))
                assert first.prompt == p.prompt and env.state.answered is False
                obs = asyncio.run(env.step_async(CounterfactualAction(completion=completion)))
                assert obs.reward == score_completion(p, completion, reward=reward, sandbox_backend="local").reward
                assert env.state.answered and env.state.step_count == 1


def test_bench_reports_the_openenv_adapter_and_server():
    from envs.bench import BenchConfig, run_bench

    out = run_bench(BenchConfig(num_problems=4, exact_steps=300, generation_sandbox_backend="local"), exact=False,
                    execution=False, adapters=True)["openenv"]
    assert out["completions"] == 300 and out["server_completions"] == 300
    assert out["openenv_adapter_completions_per_cpu_s"] > 0 and out["openenv_server_completions_per_wall_s"] > 0
    assert set(out) >= {"env_steps_per_cpu_s", "adapter_cost_vs_env", "server_cost_vs_env", "meets_target"}


@pytest.mark.parametrize("args, says", [(["--families", "nope"], "unknown family 'nope'"),
                                        (["--reward", "bogus"], "reward must be one of"),
                                        (["--suite", "/nonexistent.jsonl"], "/nonexistent.jsonl")])
def test_server_bad_arguments_fail_in_one_line(args, says):
    run = subprocess.run([sys.executable, "-m", "envs.adapters.openenv_env", "--port", "1", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2 and says in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_an_answered_environment_never_hands_its_reward_to_another_completion(server, problems):
    """The environment kept the verdict of the first completion it scored: a second call with another
    completion (a wrong one) got the first one's reward without being scored."""
    (env,) = [trl_environment_factory(server)()]
    p = problems[0]
    try:
        env.reset(prompt=[{"role": "user", "content": p.prompt}], problem_id=p.id)
        assert openenv_reward([p.gold_trace], [env]) == [1.0]
        assert openenv_reward([p.gold_trace], [env]) == [1.0]  # the same completion: the same verdict
        with pytest.raises(RuntimeError, match="one completion"):
            openenv_reward([answer_block(["not-an-output"])], [env])
        env.reset(prompt=[{"role": "user", "content": p.prompt}], problem_id=p.id)
        assert openenv_reward([answer_block(["not-an-output"])], [env]) == [0.0]
    finally:
        env._close()


def test_two_records_sharing_an_id_each_show_their_own_prompt(tmp_path):
    """The first observation was cached by problem_id: a suite holding two records with one id showed the
    first record's prompt for the second, which was then scored against its own gold."""
    from envs.adapters.openenv_env import CounterfactualEnvironment
    from tests.envs.envs_problems import make_problem

    first = make_problem("dup:1")
    second = make_problem("dup:1", answer=[0], program="def f(x, r):\n    return 0\n",
                          observations=[{"args": {"x": 2}, "output": 0}])
    second.prompt = "Another problem under the same id. Give your final answer inside <answer></answer> tags."
    path = tmp_path / "dup.jsonl"
    path.write_text(first.to_json() + "\n" + second.to_json() + "\n")
    env = CounterfactualEnvironment(families=["if_else"], suite=str(path))
    for index, p in ((0, first), (1, second), (0, first)):
        obs = env.reset(index=index)
        assert obs.prompt == p.prompt
        assert env.step(CounterfactualAction(completion=p.gold_trace.replace("[2, 5]", str(p.answer)))).reward == 1.0


class _BatchLies(list):
    gold = ""

    def __iter__(self):
        return iter([self.gold] * list.__len__(self))

    def __getitem__(self, index):
        return self.gold


def test_a_completion_batch_whose_iteration_lies_is_read_by_its_items(server, problems):
    (env,) = [trl_environment_factory(server)()]
    p = problems[0]
    try:
        env.reset(prompt=[{"role": "user", "content": p.prompt}], problem_id=p.id)
        batch = _BatchLies([answer_block(["not-an-output"])])
        batch.gold = p.gold_trace
        assert openenv_reward(batch, [env]) == [0.0]
    finally:
        env._close()
