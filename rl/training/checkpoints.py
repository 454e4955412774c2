"""What SFT and GRPO runs share: loading the policy, resuming, and writing the final checkpoint.

A run directory holds TRL's `checkpoint-N/` folders (for resuming after an interruption), a `final/`
model that every engine can load (LoRA adapters merged in), and `run_summary.json`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FINAL_DIR = "final"
SUMMARY_FILE = "run_summary.json"


def latest_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete `checkpoint-N` in `output_dir` (None if there is none)."""
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(output_dir)
    if not out.is_dir():
        return None
    last = get_last_checkpoint(str(out))
    if last is None or not (Path(last) / "trainer_state.json").is_file():  # half-written: fall back
        done = sorted((p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()),
                      key=lambda p: int(p.name.split("-")[-1]))
        return str(done[-1]) if done else None
    return last


def load_policy(model_path: str, device: str, bf16: bool):
    """Model + tokenizer; fp32 on CPU (bf16 autocast is off there), bf16 weights on GPUs that support it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not Path(model_path).exists() and "/" not in model_path:
        raise FileNotFoundError(f"no model at {model_path!r} (a local directory or a hub id is expected)")
    dtype = torch.bfloat16 if (device != "cpu" and bf16) else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def save_final(trainer: Any, tokenizer: Any, output_dir: str | Path) -> Path:
    """Save a standalone model to `output_dir/final` (LoRA merged, so vLLM/HF load it directly)."""
    final = Path(output_dir) / FINAL_DIR
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):  # peft
        model = model.merge_and_unload()
    model.save_pretrained(final, safe_serialization=True)
    tokenizer.save_pretrained(final)
    return final


@dataclass
class RunSummary:
    kind: str  # "sft" | "grpo"
    model: str
    final_dir: str
    resumed_from: str | None
    global_step: int
    steps_this_run: int
    wall_s: float
    config: dict[str, Any]
    last_log: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, output_dir: str | Path) -> Path:
        path = Path(output_dir) / SUMMARY_FILE
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n")
        return path


def write_run_summary(kind: str, cfg: Any, trainer: Any, final: Path, resumed_from: str | None,
                      steps_this_run: int, started: float, extra: dict[str, Any]) -> Path:
    """Record what a finished run did (read by the experiment runner and the resume tests)."""
    history = trainer.state.log_history
    return RunSummary(kind=kind, model=cfg.model, final_dir=str(final), resumed_from=resumed_from,
                      global_step=trainer.state.global_step, steps_this_run=steps_this_run,
                      wall_s=time.perf_counter() - started, config=asdict(cfg),
                      last_log=history[-1] if history else {}, extra=extra).write(cfg.output_dir)


def read_summary(output_dir: str | Path) -> RunSummary:
    data = json.loads((Path(output_dir) / SUMMARY_FILE).read_text())
    return RunSummary(**data)


class StepCounter:
    """Counts optimizer steps done in this process (a resumed run should only do the remaining ones)."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        counter = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):  # noqa: D401
                counter.steps += 1

        self.steps = 0
        self.callback = _Callback()
        self.start = time.perf_counter()
