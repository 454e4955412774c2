"""Models without a chat template (e.g. base models) take the raw-prompt path in engines and SFT."""
from __future__ import annotations

import json
import shutil

import pytest

from rl.inference.engines import HFEngine, SamplingConfig, plain_prompt, render_prompts
from rl.training.data import gold_sft_rows, rows_for_tokenizer

CHAT = [{"role": "user", "content": "We called f(x=2) and it returned 4."}]


@pytest.fixture(scope="module")
def plain_model(tiny_model, tmp_path_factory):
    """The tiny model with its chat template removed."""
    out = tmp_path_factory.mktemp("models") / "plain"
    shutil.copytree(tiny_model, out)
    (out / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    return out


def test_engines_and_rows_use_the_raw_prompt_without_a_template(plain_model, train_problems):
    engine = HFEngine(plain_model, batch_size=2)
    try:
        assert not engine.tokenizer.chat_template
        assert render_prompts(engine.tokenizer, [CHAT, "text"]) == [CHAT[0]["content"], "text"]
        out = engine.generate([CHAT], SamplingConfig(max_tokens=8))
        assert len(out) == 1 and 1 <= out[0][0].n_tokens <= 8
        rows = rows_for_tokenizer(gold_sft_rows(train_problems[:2]), engine.tokenizer)
    finally:
        engine.close()
    assert rows[0]["prompt"] == plain_prompt([{"role": "user", "content": train_problems[0].prompt}]) + "\n\n"
    assert rows[0]["completion"] == train_problems[0].gold_trace


def test_chat_rows_stay_conversational_with_a_template(tiny_model, train_problems):
    from transformers import AutoTokenizer

    rows = gold_sft_rows(train_problems[:2])
    assert rows_for_tokenizer(rows, AutoTokenizer.from_pretrained(tiny_model)) is rows


def test_sft_trains_a_model_without_a_chat_template(plain_model, train_file, tmp_path):
    from rl.training.config import SFTRunConfig
    from rl.training.sft import run_sft

    cfg = SFTRunConfig(model=str(plain_model), train_file=str(train_file), output_dir=str(tmp_path / "sft"),
                       max_steps=2, per_device_train_batch_size=4, learning_rate=3e-3, max_length=1024,
                       save_steps=2, seed=0)
    final = run_sft(cfg)
    history = json.loads((tmp_path / "sft" / "log_history.json").read_text())
    assert [h["step"] for h in history if "loss" in h] == [1, 2]
    assert (final / "model.safetensors").is_file()
