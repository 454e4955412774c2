"""`InteractiveExperimentTools` driven by a real TRL 1.16 `GRPOTrainer(environment_factory=...)`.

Two GRPO steps on the tiny model: one where the random model generates freely (it may or may not
emit a tool call), and one where its first and later turns are scripted token ids fed through TRL's
own tool-call loop (parse_response, tool dispatch, tool-result suffix, regeneration, rewards), so
the round trip is exercised for sure: an honest experiment then the right answer, the whole output
domain, the question's own input, a malformed call. Rewards come only from `get_reward()`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envs.interactive_tools import InteractiveExperimentTools
from tests.frameworks.hack_cases import hackable_problems, reachable_outputs

ENV_KWARGS = {"families": ["if_else"], "suite": "frozen:test", "sandbox_backend": "local"}
REWARD_KEY = "rewards/InteractiveExperimentTools/mean"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model and its tokenizer with TRL's Qwen2.5 template (ChatML with tool calls, like ours)."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import trl
    from transformers import AutoTokenizer

    from rl.training.tiny_model import build_tiny_model, default_corpus

    corpus = default_corpus(n_problems=20)
    model_dir = build_tiny_model(tmp_path_factory.mktemp("tiny"), corpus=corpus, seed=0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    return str(model_dir), tokenizer


@pytest.fixture(scope="module")
def problem():
    """A frozen if_else problem whose output domain is a strict superset of its gold."""
    return hackable_problems(n=1)[0]


def _config(tmp_path, batch: int, max_completion_length: int, num_generations: int | None = None):
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=batch,
                      num_generations=num_generations or batch, max_completion_length=max_completion_length, use_cpu=True,
                      bf16=False, report_to="none", logging_steps=1, save_strategy="no", seed=0)


def _logged_reward(trainer) -> float:
    (row,) = [r for r in trainer.state.log_history if REWARD_KEY in r]
    return row[REWARD_KEY]


@pytest.mark.slow
def test_one_grpo_step_with_the_tools_env(tiny, tmp_path):
    """The random model generates; the env supplies the problem and the reward, TRL exposes the two tools."""
    from trl import GRPOTrainer

    model_dir, tokenizer = tiny
    trainer = GRPOTrainer(model=model_dir, processing_class=tokenizer, args=_config(tmp_path, 4, 16, 2),
                          environment_factory=InteractiveExperimentTools.factory(group_size=2, **ENV_KWARGS))
    assert {t.__name__ for t in trainer.tools} == {"run_experiment", "submit_answer"}
    assert trainer.reward_func_names == ["InteractiveExperimentTools"]
    trainer.train()
    assert trainer.state.global_step == 1
    envs = trainer.environments
    assert len(envs) == 4 and all(e._episodes == 1 for e in envs)  # TRL called reset once per rollout
    # no dataset: the two rollouts of a group played the same problem, as GRPO's group needs, and the
    # two groups got different problems
    ids = [e.info["problem_id"] for e in envs]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2], ids
    for env in envs:  # whatever the model did, the env's books balance
        info = env.info
        assert info["experiments_used"] == len(info["experiments"]) + len(info["refused"])
        assert env.get_reward() == pytest.approx(info.get("correctness", 0.0) - info["cost"])
    assert _logged_reward(trainer) == pytest.approx(sum(e.get_reward() for e in envs) / len(envs))


def _call(name: str, arguments: dict) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


@pytest.mark.slow
def test_scripted_tool_calls_round_trip_through_trls_loop(tiny, problem, tmp_path):
    """Scripted turns replace sampling; everything else (parsing, dispatch, rewards, the update) is TRL's."""
    from datasets import Dataset
    from trl import GRPOTrainer

    model_dir, tokenizer = tiny
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    domain = reachable_outputs(problem)
    question = problem.intervention["args"]

    def done() -> str:
        return "Done."

    def scripts(env: InteractiveExperimentTools) -> list[list[str]]:
        """Per rollout, its assistant turns; a turn may read the env (the script is an oracle agent).
        TRL regenerates after every tool result (submit_answer cannot end the rollout), hence `done`."""
        return [
            # an honest experiment, then the gold given what it showed
            [lambda: _call("run_experiment", {"arguments": problem.observations[0]["args"]}),
             lambda: _call("submit_answer", {"values": env._env.gold()}), done],
            # hack: every output the program can produce under the intervention
            [lambda: _call("submit_answer", {"values": domain}), done],
            # hack: run the question's own call, then stop without answering
            [lambda: _call("run_experiment", {"arguments": question}), done],
            # a call TRL cannot bind (flattened arguments), the gold, then a second answer after the end
            [lambda: _call("run_experiment", problem.observations[0]["args"]),
             lambda: _call("submit_answer", {"values": problem.answer}),
             lambda: _call("submit_answer", {"values": domain}), done],
        ]

    class ScriptedTrainer(GRPOTrainer):
        """Generation replaced by the scripts; TRL's tool loop decides which rollouts get another turn."""

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                                  has_tool_images=False):
            if num_generations > 1:  # the first turn of every rollout
                self._turns = [list(s) for s in (scripts(e)[i] for i, e in enumerate(self.environments))]
                self._active = list(range(len(prompt_ids)))
            assert len(prompt_ids) == len(self._active)
            texts = [self._turns[i].pop(0)() for i in self._active]
            self._active = [i for i, t in zip(self._active, texts) if t.startswith("<tool_call>")]
            return [tokenizer.encode(t, add_special_tokens=False) + [eos] for t in texts], None

    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": ""}]], "problem_id": [problem.id]})
    trainer = ScriptedTrainer(model=model_dir, processing_class=tokenizer, args=_config(tmp_path, 4, 1024),
                              train_dataset=data,
                              environment_factory=lambda: InteractiveExperimentTools(**ENV_KWARGS))
    trainer.train()
    assert trainer.state.global_step == 1
    assert all(not t for t in trainer._turns)  # every scripted turn was used
    honest, dump, question_run, malformed = trainer.environments
    # the dataset's problem_id column reached reset(problem_id=...)
    assert all(e.info["problem_id"] == problem.id for e in trainer.environments)

    assert honest.info["correct"] and len(honest.info["experiments"]) == 1
    assert honest.get_reward() == pytest.approx(1.0 - honest.info["cost"]) and honest.info["cost"] == 0.05
    assert dump.info["parsed_answer"] is not None and len(dump.info["parsed_answer"]) > len(dump.info["gold"])
    assert dump.get_reward() == 0.0 and not dump.info["correct"]
    assert question_run.info["refused"][0]["reason"].startswith("the intervention's own input")
    assert question_run.get_reward() == 0.0 and question_run.info["experiments"] == []
    assert malformed.info["correct"] and malformed.get_reward() == 1.0  # the later dump was refused
    assert malformed.info["experiments_used"] == 0  # TRL refused the unbindable call before the env saw it

    rewards = [e.get_reward() for e in trainer.environments]
    assert _logged_reward(trainer) == pytest.approx(sum(rewards) / 4)
    (row,) = [r for r in trainer.state.log_history if "tools/call_frequency" in r]
    assert row["tools/call_frequency"] == pytest.approx(7 / 4)  # 2 + 1 + 1 + 3 calls over 4 rollouts
    assert row["tools/failure_frequency"] == pytest.approx(1 / 7)  # the flattened call


def test_hacks_pay_zero_through_the_tools(problem):
    """Driven directly: the whole domain, the question's input, a second answer, junk arguments."""
    tools = InteractiveExperimentTools(**ENV_KWARGS)
    tools.reset(problem_id=problem.id, prompt=[{"role": "user", "content": ""}])
    tools.submit_answer(reachable_outputs(problem))
    assert tools.get_reward() == 0.0 and tools.submit_answer(problem.answer) == "The episode is over."
    assert tools.get_reward() == 0.0
    tools.reset(problem_id=problem.id)
    reply = tools.run_experiment(problem.intervention["args"])
    assert reply.startswith("Not run: the intervention's own input")
    tools.submit_answer(reachable_outputs(problem))
    assert tools.get_reward() == 0.0
    tools.reset(problem_id=problem.id)
    assert tools.run_experiment({"x": {"__class__": 1}}).startswith("Not run")
    assert tools.submit_answer(problem.answer) == "Answer received." and tools.get_reward() == 1.0
