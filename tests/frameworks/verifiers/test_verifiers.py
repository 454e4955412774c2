"""verifiers 0.3.1 for real: the hub package `cfcode-counterfactual` loaded by `vf.load_environment`,
evaluated by `vf-eval` against `cfcode model serve` (tiny model, its own process on 127.0.0.1), rewards
equal to `envs.scoring` (the path of `cfcode eval`), and hacks paying 0 through the rubric."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import verifiers.legacy as vf

from envs.scoring import score_completion
from generators import load_suite
from tests.frameworks.hack_cases import hack_completions, hackable_problems
from tests.frameworks.servers import free_port, running_server

ROOT = Path(__file__).resolve().parents[3]
ENV_ID = "cfcode-counterfactual"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """`cfcode model serve` on the tiny model, as a user starts it."""
    model = tmp_path_factory.mktemp("model") / "tiny"
    subprocess.run([_bin("cfcode"), "model", "build-tiny", str(model)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [_bin("cfcode"), "model", "serve", f"hf:{model}", "--port", str(port), "--name", "tiny"]
    with running_server(cmd, f"{url}/models", "cfcode model serve", cwd=ROOT, timeout_s=180, poll_s=0.5):
        yield url


def test_hub_package_loads_by_id():
    env = vf.load_environment(ENV_ID, families=["if_else"], num_examples=5)
    assert isinstance(env, vf.SingleTurnEnv)
    rows = env.get_eval_dataset()
    suite = {p.id: p for p in load_suite("if_else", "counterfactual")}
    for row in rows:
        p = suite[row["info"]["problem_id"]]
        assert row["prompt"][-1]["content"] == p.prompt


def test_vf_eval_against_cfcode_model_serve(served_model, tmp_path):
    out = tmp_path / "results"
    cmd = [_bin("vf-eval"), ENV_ID, "-a", json.dumps({"families": ["if_else"], "num_examples": 3}),
           "-m", "tiny", "-b", served_model, "-k", "CFCODE_TEST_KEY", "-n", "3", "-r", "2", "-t", "24",
           "-T", "1.0", "-c", "2", "-s", "-o", str(out), "-d"]
    run = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "CFCODE_TEST_KEY": "none"},
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = [json.loads(line) for f in out.rglob("results.jsonl") for line in f.read_text().splitlines() if line]
    assert len(results) == 6
    suite = {p.id: p for p in load_suite("if_else", "counterfactual")}
    for r in results:
        info = r["info"] if isinstance(r["info"], dict) else json.loads(r["info"])
        completion = r["completion"]
        text = completion if isinstance(completion, str) else completion[-1]["content"]
        assert isinstance(text, str)
        want = score_completion(suite[info["problem_id"]], text)
        assert r["reward"] == want.reward and r["error"] is None
        assert (r["exact"], r["f1"], r["format_ok"]) == (float(want.correct), want.f1, float(want.format_ok))
    shutil.rmtree(out)


def _score(env, row, completion_text):
    state = vf.State(prompt=row["prompt"], completion=[{"role": "assistant", "content": completion_text}],
                     answer=row["answer"], info=row["info"], task=row["task"])
    asyncio.run(env.rubric.score_rollout(state))
    return state


@pytest.mark.parametrize("reward", ["exact", "f1"])
def test_rubric_scores_like_the_env_and_hacks_pay_zero(reward):
    problems = hackable_problems(n=3)
    env = vf.load_environment(ENV_ID, families=["if_else"], reward=reward, sandbox_backend="local")
    rows = {row["info"]["problem_id"]: row for row in env.get_eval_dataset()}
    for p in problems:
        row = rows[p.id]
        for text in (p.gold_trace, "no answer", f"<answer>{json.dumps(p.answer + [99])}</answer>"):
            state = _score(env, row, text)
            want = score_completion(p, text, reward=reward, sandbox_backend="local")
            assert state["reward"] == want.reward and state["metrics"]["exact"] == float(want.correct)
        for hack, text in hack_completions(p).items():
            state = _score(env, row, text)
            assert state["reward"] == 0.0 and state["metrics"]["verifier_error"] == 0.0, (p.id, hack, reward)


def test_a_reused_state_is_scored_for_its_own_completion():
    """The rubric caches its verdict in the rollout's state; a state scored again with another completion
    (re-scoring, or one dict shared by rollouts) gets its own verdict, not the cached reward."""
    (p,) = hackable_problems(n=1)
    env = vf.load_environment(ENV_ID, families=["if_else"], sandbox_backend="local")
    row = {r["info"]["problem_id"]: r for r in env.get_eval_dataset()}[p.id]
    state = _score(env, row, p.gold_trace)
    assert state["reward"] == 1.0
    state["completion"] = [{"role": "assistant", "content": "<answer>[]</answer>"}]
    asyncio.run(env.rubric.score_rollout(state))
    assert state["reward"] == 0.0 and state["metrics"]["exact"] == 0.0
    state["completion"] = ["<answer>[]</answer>"]  # not messages: no answer, and no error either
    asyncio.run(env.rubric.score_rollout(state))
    assert state["reward"] == 0.0 and env.rubric.parser.parse_answer(state["completion"]) is None


class _IteratesToGold(list):
    """A completion whose iteration lies: the list holds a user message, its __iter__ yields the gold."""

    gold = ""

    def __iter__(self):
        return iter([{"role": "assistant", "content": self.gold}])


def test_a_completion_whose_iteration_lies_is_read_by_its_items():
    (p,) = hackable_problems(n=1)
    env = vf.load_environment(ENV_ID, families=["if_else"], sandbox_backend="local")
    row = {r["info"]["problem_id"]: r for r in env.get_eval_dataset()}[p.id]
    lying = _IteratesToGold([{"role": "user", "content": "<answer>[]</answer>"}])
    lying.gold = p.gold_trace
    state = vf.State(prompt=row["prompt"], completion=lying, answer=row["answer"], info=row["info"], task=row["task"])
    asyncio.run(env.rubric.score_rollout(state))
    assert state["reward"] == 0.0 and state["metrics"]["exact"] == 0.0


def test_an_exact_rubric_never_reuses_an_f1_verdict_cached_in_the_same_state():
    """Two rubrics (exact and f1, e.g. in a RubricGroup) scoring one state: the verdict cached by the f1
    rubric was returned by the exact one, which then paid 2/3 for an answer missing a value."""
    from envs.adapters.verifiers_env import make_rubric

    p = next(q for q in load_suite("if_else", "counterfactual") if len(q.answer) >= 2)
    partial = f"<answer>{json.dumps(p.answer[:1])}</answer>"
    info = {"problem": p.to_json(), "problem_id": p.id, "question": "predict"}

    def new_state():
        return vf.State(prompt=[{"role": "user", "content": p.prompt}], answer="", info=info, task="t",
                        completion=[{"role": "assistant", "content": partial}])

    f1, exact = make_rubric("f1", sandbox_backend="local"), make_rubric("exact", sandbox_backend="local")
    state = new_state()
    asyncio.run(f1.score_rollout(state))
    assert 0.0 < state["reward"] < 1.0
    asyncio.run(exact.score_rollout(state))
    assert state["reward"] == 0.0
    state = new_state()
    asyncio.run(vf.RubricGroup([f1, exact]).score_rollout(state))
    assert state["reward"] == pytest.approx(2 * len(p.answer[:1]) / (1 + len(p.answer)))


def test_editing_a_cached_verdict_changes_no_later_reward():
    """The verdict kept in a rollout's state held the cached record's own gold list: a reward function or
    logger that edited it edited the gold every later rollout of that problem was scored against."""
    p = next(q for q in load_suite("data", "counterfactual") if any(isinstance(v, list) for v in q.answer))
    env = vf.load_environment(ENV_ID, families=["data"], sandbox_backend="local")
    row = {r["info"]["problem_id"]: r for r in env.get_eval_dataset()}[p.id]
    right = f"<answer>{json.dumps(p.answer)}</answer>"
    state = _score(env, row, right)
    assert state["reward"] == 1.0
    for value in state["cfcode_score"][1].gold:
        if isinstance(value, list):
            value.append("edited")
    assert _score(env, row, right)["reward"] == 1.0
