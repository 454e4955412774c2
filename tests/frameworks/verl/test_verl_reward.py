"""verl 0.9.1's own reward managers score exported rows exactly as `cfcode eval` does.

Runs in the `verl` nox session. The data go the way verl sees them: `cfcode export --format verl`
parquet -> rows (data_source, prompt, reward_model.ground_truth, extra_info) -> a hand-built
`DataProto` of token ids (left-padded prompts, right-padded responses) -> the legacy
`NaiveRewardManager` and the current reward loop (`RewardLoopWorker` with the `naive` manager),
both loading `compute_score` through the documented config keys
`reward.custom_reward_function.path/name`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

import envs.adapters.verl as adapter
from envs.scoring import score_completion
from generators.export import export_problems

VERL_CONFIG = Path(__import__("verl").__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"


@pytest.fixture(scope="module")
def rows(tmp_path_factory, frozen_problems):
    out = tmp_path_factory.mktemp("verl_export")
    export_problems({"test": frozen_problems}, out, formats=["verl"])
    return pd.read_parquet(out / "verl" / "test.parquet").to_dict("records")


def _config(tokenizer_dir: Path, reward_kwargs: dict | None = None):
    """verl's full generated PPO config, with only the keys a user sets changed."""
    cfg = OmegaConf.load(VERL_CONFIG)
    OmegaConf.update(cfg, "reward.custom_reward_function.path", adapter.__file__)
    OmegaConf.update(cfg, "reward.custom_reward_function.name", "compute_score")
    if reward_kwargs:
        OmegaConf.update(cfg, "reward.custom_reward_function.reward_kwargs", reward_kwargs, force_add=True)
    OmegaConf.update(cfg, "actor_rollout_ref.model.path", str(tokenizer_dir))
    OmegaConf.update(cfg, "actor_rollout_ref.model.tokenizer_path", str(tokenizer_dir))
    return cfg


def _data_proto(tokenizer, samples: list[tuple[dict, str, str]]):
    """(row, prompt text, response text) -> DataProto like verl's rollout produces."""
    from verl import DataProto

    prompts = [tokenizer(p, add_special_tokens=False)["input_ids"] for _, p, _ in samples]
    responses = [tokenizer(r, add_special_tokens=False)["input_ids"] for _, _, r in samples]
    plen, rlen = max(map(len, prompts)), max(max(map(len, responses)), 1)
    pad = tokenizer.pad_token_id
    prompt_t = torch.full((len(samples), plen), pad, dtype=torch.long)
    resp_t = torch.full((len(samples), rlen), pad, dtype=torch.long)
    mask = torch.zeros((len(samples), plen + rlen), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        prompt_t[i, plen - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, plen - len(p):plen] = 1
        if r:
            resp_t[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, plen:plen + len(r)] = 1
    non_tensors = {
        "data_source": np.array([row["data_source"] for row, _, _ in samples], dtype=object),
        "reward_model": np.array([dict(row["reward_model"]) for row, _, _ in samples], dtype=object),
        "extra_info": np.array([dict(row["extra_info"]) for row, _, _ in samples], dtype=object),
    }
    return DataProto.from_dict(
        tensors={"prompts": prompt_t, "responses": resp_t, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_t, resp_t], dim=1)},
        non_tensors=non_tensors)


def _samples(rows, problems, tokenizer, completion_cases):
    """Every case of every problem; plus one whose *prompt* holds the gold answer and whose response has none."""
    out, expected = [], []
    for row, problem in zip(rows, problems):
        prompt = tokenizer.apply_chat_template(list(row["prompt"]), tokenize=False, add_generation_prompt=True)
        for case in completion_cases(problem):
            out.append((row, prompt, case.completion))
            expected.append((case.name, case.reward, score_completion(problem, case.completion)))
        leaky = prompt + "(the answer is <answer>" + repr(list(problem.answer)) + "</answer>)"
        out.append((row, leaky, "I will not answer."))
        expected.append(("hack_answer_in_prompt", 0.0, score_completion(problem, "I will not answer.")))
    return out, expected


def _tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


def test_rows_are_what_compute_score_needs(rows, frozen_problems):
    for row, problem in zip(rows, frozen_problems):
        assert row["data_source"] == f"counterfactual_code/{problem.family}/{problem.mode}"
        assert row["reward_model"]["style"] == "rule"
        assert list(row["prompt"]) == [{"role": "user", "content": problem.prompt}]
        assert adapter.compute_score(row["data_source"], problem.gold_trace, row["reward_model"]["ground_truth"],
                                     row["extra_info"]) == {"score": 1.0, "exact": 1.0, "f1": 1.0,
                                                            "format_ok": 1.0, "verifier_error": 0.0}


def test_legacy_naive_reward_manager(rows, frozen_problems, tiny_tokenizer_dir, cases):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.naive import NaiveRewardManager

    tok = _tokenizer(tiny_tokenizer_dir)
    samples, expected = _samples(rows, frozen_problems, tok, cases)
    data = _data_proto(tok, samples)
    manager = NaiveRewardManager(tokenizer=tok, num_examine=0,
                                 compute_score=get_custom_reward_fn(_config(tiny_tokenizer_dir)))
    out = manager(data, return_dict=True)
    per_sample = out["reward_tensor"].sum(dim=-1).tolist()
    info = out["reward_extra_info"]
    for i, (name, reward, score) in enumerate(expected):
        assert per_sample[i] == reward == score.reward, (name, per_sample[i])
        assert info["exact"][i] == float(score.correct) and info["f1"][i] == pytest.approx(score.f1)
        assert info["format_ok"][i] == float(score.format_ok), name
    assert sum(per_sample) == len(frozen_problems)  # only the right answers pay


def test_reward_loop_worker(rows, frozen_problems, tiny_tokenizer_dir, cases):
    """The current path: RewardLoopWorker (what verl's RewardLoopManager runs as Ray actors)."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    tok = _tokenizer(tiny_tokenizer_dir)
    samples, expected = _samples(rows, frozen_problems, tok, cases)
    data = _data_proto(tok, samples)
    worker = RewardLoopWorker(_config(tiny_tokenizer_dir))
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert len(outputs) == len(expected)
    for out, (name, reward, score) in zip(outputs, expected):
        assert out["reward_score"] == reward == score.reward, (name, out)
        assert out["reward_extra_info"]["exact"] == float(score.correct)
        assert out["reward_extra_info"]["format_ok"] == float(score.format_ok), name


def test_reward_kwargs_select_f1(rows, frozen_problems, tiny_tokenizer_dir):
    """`reward.custom_reward_function.reward_kwargs.reward=f1` reaches the scorer (partial credit)."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(_config(tiny_tokenizer_dir, {"reward": "f1"}))
    row, problem = next((r, p) for r, p in zip(rows, frozen_problems)
                        if p.mode == "counterfactual" and len(p.answer) >= 2)
    partial = "<answer>" + repr(list(problem.answer)[:1]) + "</answer>"  # a strict subset: no sandbox needed
    got = fn(data_source=row["data_source"], solution_str=partial,
             ground_truth=row["reward_model"]["ground_truth"], extra_info={})
    want = score_completion(problem, partial, reward="f1")
    assert got["score"] == pytest.approx(want.reward) and 0.0 < want.reward < 1.0
    assert got["exact"] == 0.0


def test_batch_reward_manager_with_compute_score_batch(rows, frozen_problems, tiny_tokenizer_dir, cases):
    """`reward_manager=batch` + `custom_reward_function.name=compute_score_batch`: one call per batch."""
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.batch import BatchRewardManager

    tok = _tokenizer(tiny_tokenizer_dir)
    samples, expected = _samples(rows, frozen_problems, tok, cases)
    cfg = _config(tiny_tokenizer_dir)
    OmegaConf.update(cfg, "reward.custom_reward_function.name", "compute_score_batch")
    manager = BatchRewardManager(tokenizer=tok, num_examine=0, compute_score=get_custom_reward_fn(cfg))
    out = manager(_data_proto(tok, samples), return_dict=True)
    per_sample = out["reward_tensor"].sum(dim=-1).tolist()
    for i, (name, reward, score) in enumerate(expected):
        assert per_sample[i] == reward == score.reward, (name, per_sample[i])
        assert out["reward_extra_info"]["format_ok"][i] == float(score.format_ok), name
