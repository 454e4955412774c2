"""OpenRLHF's custom reward-function contract, on tensors (OpenRLHF itself needs CUDA builds to install).

The contract, from OpenRLHF 0.11's source (openrlhf/utils/agent.py, SingleTurnAgentExecutor and
samples_generator.py): the file given as `--remote_rm_url` is loaded with importlib and its
`reward_func(queries, prompts, labels)` is called with lists of strings, `queries[i]` being
`tokenizer.decode(prompt_ids + response_ids, skip_special_tokens=False)`; the result must be a dict
with `rewards` and `scores` tensors and `extra_logs` whose values are tensors (OpenRLHF logs
`value.flatten()[0]`). This test loads the adapter the same way and checks that shape.
"""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import torch

import envs.adapters.openrlhf as adapter
from envs.scoring import score_completion


def _load_like_openrlhf():
    spec = importlib.util.spec_from_file_location("reward_func", adapter.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def _openrlhf_rows(tmp_path, problems):
    """The export read back the way OpenRLHF's blending_datasets reads a local .parquet."""
    from datasets import load_dataset

    from generators.export import export_problems

    export_problems({"train": problems}, tmp_path, formats=["openrlhf"])
    data = load_dataset("parquet", data_files=str(tmp_path / "openrlhf" / "train.parquet"),
                        cache_dir=str(tmp_path / "cache"))["train"]
    return list(data)


def test_contract_and_hacks(tmp_path, frozen_problems, cases, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    reward_func = _load_like_openrlhf()
    queries, prompts, labels, want = [], [], [], []
    for row, problem in zip(_openrlhf_rows(tmp_path, frozen_problems), frozen_problems):
        # preprocess_data(data, input_key="prompt", label_key="label", apply_chat_template=...)
        prompt = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        label = row["label"]
        assert "e.g. <answer>[" in prompt  # the format example the parser must never see
        for case in cases(problem) + [type(cases(problem)[0])("no_answer_example_in_prompt", "Hmm.", 0.0)]:
            ids = tok(prompt, add_special_tokens=False)["input_ids"] + \
                tok(case.completion + "<|im_end|>", add_special_tokens=False)["input_ids"]
            queries.append(tok.decode(ids, skip_special_tokens=False))  # exactly what OpenRLHF passes
            prompts.append(prompt)
            labels.append(label)
            want.append((case.name, case.reward, score_completion(problem, case.completion).reward))
    out = reward_func(queries, prompts, labels)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    for key in ("rewards", "scores"):
        assert isinstance(out[key], torch.Tensor) and out[key].shape == (len(queries),)
        assert out[key].dtype == torch.float32
    for name, value in out["extra_logs"].items():
        assert isinstance(value, torch.Tensor) and value.shape == (len(queries),), name
        value.flatten()[0].item()  # what OpenRLHF logs
    for got, (name, reward, env_reward) in zip(out["rewards"].tolist(), want):
        assert got == reward == env_reward, name
    assert out["rewards"].sum().item() == len(frozen_problems)  # only the right answers pay


def test_one_sample_per_call_as_openrlhf_batches(frozen_problems):
    """OpenRLHF calls with batches of one; the response must still be cut out of the query."""
    problem = dataclasses.replace(frozen_problems[0], answer=[3, 7])  # gold == the prompt's example
    assert problem.prompt.rstrip().endswith("e.g. <answer>[3, 7]</answer>.")
    naive = score_completion(problem, problem.prompt + "no idea")
    assert naive.reward == 1.0  # what scoring the whole query would pay
    out = adapter.reward_func([problem.prompt + "no idea"], [problem.prompt], [problem.to_json()])
    assert out["rewards"].tolist() == [0.0]  # the response alone has no answer
    out = adapter.reward_func([problem.prompt + "<answer>[7, 3]</answer>"], [problem.prompt], [problem.to_json()])
    assert out["rewards"].tolist() == [1.0]


def test_prompt_not_in_query_pays_nothing(frozen_problems):
    """If the prompt cannot be located (truncated prompt), the text is not scored: it may hold the example."""
    problem = frozen_problems[0]
    query = "...truncated... " + problem.gold_trace
    out = adapter.reward_func([query], ["a prompt that is not in the query"], [problem.to_json()])
    assert out["rewards"].tolist() == [0.0]
    assert out["extra_logs"]["cf_prompt_not_found"].tolist() == [1.0]


def test_bad_label_is_one_clear_error(frozen_problems):
    with pytest.raises(ValueError, match="problem record"):
        adapter.reward_func(["q"], ["p"], ["[3, 7]"])
