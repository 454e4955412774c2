"""configs/experiments/smollm2_cpu.toml: the real-model experiment parses and plans a conversion stage."""
from __future__ import annotations

from pathlib import Path

import pytest

from rl.experiment import load_experiment, parse_experiment, plan_stages

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "experiments" / "smollm2_cpu.toml"


def test_smollm2_config_plans_conversion_training_and_paper_suites():
    cfg = load_experiment(CONFIG)
    stages = [s.name for s in plan_stages(cfg)]
    assert stages[:4] == ["data", "model", "sft", "grpo"]
    assert {"eval:base", "eval:sft", "eval:rl"} <= set(stages)
    assert cfg.model.base == "smollm2" and cfg.grpo["init"] == "sft"
    # Both modes reach training (the train file holds both; the trainers filter by their own `modes`).
    assert cfg.sft["modes"] == cfg.grpo["modes"] == cfg.data.modes == ["counterfactual", "interventional"]
    assert cfg.eval.suites == ["if_else", "if_else_long", "while", "multi_r", "gsm"]
    assert cfg.eval.limit >= 50 and cfg.eval.modes == ["counterfactual", "interventional"]


def test_model_base_accepts_gguf_specs_and_rejects_other_names(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    plan = [s.name for s in plan_stages(parse_experiment({"model": {"base": f"gguf:{tmp_path}/m.gguf"}}))]
    assert "model" in plan
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')  # a Hugging Face folder
    plan = [s.name for s in plan_stages(parse_experiment({"model": {"base": str(tmp_path)}}))]
    assert "model" not in plan  # an existing HF folder is used as it is
    with pytest.raises(ValueError, match="smollm2"):
        parse_experiment({"model": {"base": "smolm2"}})
