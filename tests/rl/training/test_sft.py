"""SFT with TRL's SFTTrainer on gold traces: real steps on CPU, resume after an interruption, LoRA."""
from __future__ import annotations

import json

import pytest
from transformers import TrainerCallback

from rl.training.checkpoints import read_summary
from rl.training.config import SFTRunConfig
from rl.training.sft import run_sft


class Interrupted(RuntimeError):
    pass


class CrashAfterSave(TrainerCallback):
    """Simulates a crash right after checkpoint `step` is written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupted(f"simulated crash after checkpoint-{self.step}")


def _cfg(tiny_model, train_file, out, **kw) -> SFTRunConfig:
    base = dict(model=str(tiny_model), train_file=str(train_file), output_dir=str(out), max_steps=4,
                per_device_train_batch_size=4, learning_rate=3e-3, max_length=1024, save_steps=2, seed=0)
    base.update(kw)
    return SFTRunConfig(**base)


def test_sft_on_gold_traces_learns_and_resumes_after_interruption(tiny_model, train_file, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path / "sft"
    cfg = _cfg(tiny_model, train_file, out)
    with pytest.raises(Interrupted):
        run_sft(cfg, callbacks=[CrashAfterSave(2)])
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (out / "final").exists()

    final = run_sft(cfg)  # same command again
    summary = read_summary(out)
    assert summary.resumed_from.endswith("checkpoint-2")
    assert summary.global_step == 4 and summary.steps_this_run == 2
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]  # gold traces are being learned

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    tuned = AutoModelForCausalLM.from_pretrained(final)
    assert not torch.equal(base.model.embed_tokens.weight, tuned.model.embed_tokens.weight)


def test_sft_with_lora_saves_a_merged_model(tiny_model, train_file, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = _cfg(tiny_model, train_file, tmp_path / "lora", max_steps=1, lora=True, lora_r=4, lora_alpha=8,
               learning_rate=1e-2)
    final = run_sft(cfg)
    merged = AutoModelForCausalLM.from_pretrained(final)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert set(merged.state_dict()) == set(base.state_dict())  # no adapter tensors left: vLLM can load it
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not (merged.state_dict()[q] == base.state_dict()[q]).all()


def test_sft_on_distilled_trace_file(tiny_model, tmp_path):
    rows = [{"prompt": [{"role": "user", "content": f"f(x={i}) = ?"}],
             "completion": [{"role": "assistant", "content": f"Step 1 ... <answer>[{i}]</answer>"}]}
            for i in range(8)]
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(json.dumps(r) + "\n" for r in rows))
    final = run_sft(SFTRunConfig(model=str(tiny_model), output_dir=str(tmp_path / "sft"), traces=str(traces),
                                 max_steps=1, per_device_train_batch_size=4, save_steps=10))
    assert (final / "model.safetensors").is_file()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "not messages"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        run_sft(SFTRunConfig(model=str(tiny_model), output_dir=str(tmp_path / "sft2"), traces=str(bad)))
