"""The tiny model: loadable by transformers, vLLM-compatible shape, deterministic build."""
from __future__ import annotations

import hashlib
import json

from rl.training.tiny_model import TinyModelSpec, build_tiny_model


def _digest(directory) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()
    }


def test_tiny_model_shape_and_chat_template(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((tiny_model / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["hidden_size"] // config["num_attention_heads"] == 64  # vLLM CPU attention head size
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.vocab_size == len(tok)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "f(x=3) = 5?"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nf(x=3) = 5?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>" and model.generation_config.eos_token_id == tok.eos_token_id
    # Byte-level BPE: any text round-trips, even characters the corpus never had.
    sample = "def f(x, r):\n    return x ** r  # ünïcode ✓ <answer>[3, 'a']</answer>"
    assert tok.decode(tok(sample)["input_ids"]) == sample


def test_tiny_model_build_is_deterministic(tmp_path):
    corpus = ["def f(x, r):\n    if x > r:\n        return x\n    return r", "<answer>[1, 2]</answer>"] * 20
    spec = TinyModelSpec(num_hidden_layers=1, vocab_size=300)
    a = build_tiny_model(tmp_path / "a", corpus=corpus, seed=5, spec=spec)
    b = build_tiny_model(tmp_path / "b", corpus=corpus, seed=5, spec=spec)
    c = build_tiny_model(tmp_path / "c", corpus=corpus, seed=6, spec=spec)
    assert _digest(a) == _digest(b)
    assert _digest(a)["model.safetensors"] != _digest(c)["model.safetensors"]


def test_empty_corpus_is_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="corpus is empty"):
        build_tiny_model(tmp_path / "x", corpus=["  "])
