"""Learning curves from a trainer's log history: plotted per logged quantity, summarised in markdown."""
from __future__ import annotations

import json

from rl.training.curves import curve_series, learning_curves_markdown, read_log_history

GRPO_HISTORY = [{"step": s, "reward": 0.1 * s, "envs/format_ok": min(1.0, 0.2 * s),
                 "completions/mean_length": 300 - 10 * s, "loss": 0.0} for s in range(1, 11)] + [
    {"step": 10, "train_runtime": 99.0, "train_loss": 0.0}]
SFT_HISTORY = [{"step": s, "loss": 2.0 / s, "mean_token_accuracy": 0.5 + 0.04 * s} for s in range(5, 55, 5)]


def test_curve_series_skips_the_summary_entry_and_missing_keys():
    steps, values = curve_series(GRPO_HISTORY, "reward")
    assert steps == list(range(1, 11)) and values[-1] == 1.0
    assert curve_series(GRPO_HISTORY, "kl") == ([], [])


def test_learning_curves_plot_each_run_and_table_first_and_last(tmp_path):
    sft, rl = tmp_path / "models" / "sft", tmp_path / "models" / "rl"
    sft.mkdir(parents=True)
    (sft / "log_history.json").write_text(json.dumps(SFT_HISTORY))
    # An interrupted GRPO run: no log_history.json yet, the newest checkpoint's trainer state is used.
    for step, hist in ((5, GRPO_HISTORY[:5]), (10, GRPO_HISTORY)):
        (rl / f"checkpoint-{step}").mkdir(parents=True)
        (rl / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"log_history": hist}))
    assert read_log_history(rl) == GRPO_HISTORY
    md = learning_curves_markdown({"sft": sft, "grpo": rl}, tmp_path / "curves", tmp_path)
    assert (tmp_path / "curves" / "sft_curves.png").stat().st_size > 0
    assert (tmp_path / "curves" / "grpo_curves.png").stat().st_size > 0
    assert "![grpo curves](curves/grpo_curves.png)" in md
    assert "| format rate | 10 | 0.2 | 1 | 0.2 | 1 |" in md
    assert "| training loss | 10 | 0.4 | 0.04 |" in md
    assert "KL" not in md  # not logged (beta = 0): no empty panel, no row
    assert learning_curves_markdown({"grpo": tmp_path / "missing"}, tmp_path / "c2", tmp_path) == ""
