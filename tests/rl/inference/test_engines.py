"""Rollout engines: HF generate in-process, vLLM in a child process, OpenAI-compatible over HTTP."""
from __future__ import annotations

import pytest

from rl.inference.engines import Completion, HFEngine, SamplingConfig, make_engine, render_prompts
from tests.rl.conftest import last_json_line, run_python

CHATS = [[{"role": "user", "content": "We called f(x=2) and it returned 4."}],
         [{"role": "user", "content": "What would f(x=5) have returned?"}]]


@pytest.fixture(scope="module")
def hf_engine(tiny_model):
    engine = HFEngine(tiny_model, batch_size=4)
    yield engine
    engine.close()


def test_sampling_config_rejects_bad_values():
    # NaN / inf temperatures and a NaN top_p passed (`nan < 0` is False) and reached the engine
    for bad in ({"max_tokens": 0}, {"n": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"temperature": float("nan")},
                {"temperature": float("inf")}, {"top_p": float("nan")}):
        with pytest.raises(ValueError):
            SamplingConfig(**bad)


def test_chat_prompts_get_the_chat_template(hf_engine):
    texts = render_prompts(hf_engine.tokenizer, [CHATS[0], "plain text"])
    assert (
        texts[0] == "<|im_start|>user\nWe called f(x=2) and it returned 4.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert texts[1] == "plain text"
    with pytest.raises(TypeError):
        render_prompts(hf_engine.tokenizer, "a single string is not a list of prompts")
    with pytest.raises(TypeError):
        render_prompts(hf_engine.tokenizer, [[{"content": "no role"}]])


def test_hf_engine_samples_n_per_prompt_deterministically(hf_engine):
    sampling = SamplingConfig(max_tokens=10, temperature=1.0, n=3, seed=4)
    first = hf_engine.generate(CHATS, sampling)
    assert [len(g) for g in first] == [3, 3]
    assert all(isinstance(c, Completion) and 1 <= c.n_tokens <= 10 for g in first for c in g)
    assert all(c.finish_reason == ("length" if c.n_tokens == 10 else "stop") for g in first for c in g)
    assert hf_engine.generate(CHATS, sampling) == first
    assert hf_engine.generate(CHATS, SamplingConfig(max_tokens=10, temperature=1.0, n=3, seed=5)) != first


def test_hf_engine_stop_strings(hf_engine):
    out = hf_engine.generate(
        ["def f(x):"] * 2, SamplingConfig(max_tokens=30, temperature=1.0, n=4, seed=0, stop=["e", "a"])
    )
    texts = [c.text for g in out for c in g]
    assert not any("e" in t or "a" in t for t in texts)
    assert any(c.finish_reason == "stop" for g in out for c in g)


def test_make_engine_specs(tmp_path):
    with pytest.raises(ValueError, match="openai:BASE_URL#MODEL"):
        make_engine("openai:http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="openai:"):
        make_engine("http://127.0.0.1:8000/v1")
    with pytest.raises(FileNotFoundError):
        make_engine(str(tmp_path / "missing"))
    assert make_engine("openai:http://127.0.0.1:1/v1#m").model == "m"


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_engine_matches_hf_and_is_seeded(tiny_model):
    proc = run_python(["tests/rl/inference/engine_worker.py", str(tiny_model)], timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = last_json_line(proc.stdout)
    # Greedy decoding of the same fp32 model: vLLM and transformers pick the same tokens.
    assert [[c["text"] for c in g] for g in r["greedy"]] == [[c["text"] for c in g] for g in r["hf_greedy"]]
    assert [len(g) for g in r["sampled"]] == [3] * 6
    # n > 1 when greedy: n copies of the greedy completion (vLLM's SamplingParams refuses n > 1 at temperature 0)
    assert r["greedy_n"] == [g * 3 for g in r["greedy"][:2]]
    assert r["sampled"] == r["sampled_again"]  # same seed, same samples
    assert r["sampled"] != r["other_seed"]
    assert all(
        c["n_tokens"] <= 20 and c["finish_reason"] in ("stop", "length") for g in r["sampled"] for c in g
    )
    stopped = [c for g in r["stopped"] for c in g]
    assert not any("e" in c["text"] or "a" in c["text"] for c in stopped)
    assert any(c["finish_reason"] == "stop" and c["n_tokens"] < 40 for c in stopped)
