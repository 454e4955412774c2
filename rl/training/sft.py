"""SFT with TRL's `SFTTrainer` on reasoning traces: the generators' gold traces or distilled teacher traces.

Rows are conversational prompt/completion pairs, so the loss covers the trace only (the prompt is
context), and the chat template's end-of-turn token is learned as the stop signal.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from rl.inference.models import resolve_model
from rl.training.checkpoints import StepCounter, latest_checkpoint, load_policy, save_final, write_run_summary
from rl.training.config import SFTRunConfig
from rl.training.curves import write_log_history
from rl.training.data import gold_sft_rows, load_trace_rows, rows_for_tokenizer, to_dataset


def sft_rows(cfg: SFTRunConfig, problems: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    if cfg.traces != "gold":
        return load_trace_rows(cfg.traces)
    if problems is None:
        problems = cfg.load_problems()
    return gold_sft_rows(problems, cfg.trace_style)


def run_sft(
    cfg: SFTRunConfig, *, problems: Sequence[Any] | None = None, callbacks: Sequence[Any] = ()
) -> Path:
    """Train; resume from the latest checkpoint in `cfg.output_dir` if there is one. Returns `final/`."""
    from dataclasses import replace

    from trl import SFTTrainer


    start = time.perf_counter()
    cfg = replace(cfg, model=resolve_model(cfg.model))  # smollm2 / gguf:FILE -> converted folder
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    resume = latest_checkpoint(cfg.output_dir) if cfg.resume else None
    model, tokenizer = load_policy(cfg.model, cfg.resolved_device(), cfg.resolved_bf16())
    counter = StepCounter()
    trainer = SFTTrainer(
        model=model,
        args=cfg.to_trl(),
        train_dataset=to_dataset(rows_for_tokenizer(sft_rows(cfg, problems), tokenizer)),
        processing_class=tokenizer,
        peft_config=cfg.peft_config(),
        callbacks=[*callbacks, counter.callback],
    )
    trainer.train(resume_from_checkpoint=resume)
    final = save_final(trainer, tokenizer, cfg.output_dir)
    write_log_history(trainer, cfg.output_dir)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    write_run_summary("sft", cfg, trainer, final, resume, counter.steps, start, {"losses": losses})
    return final
