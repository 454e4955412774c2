"""Run configs: TOML loading, clear errors, the CPU path (bf16 off), the paper's step shape."""
from __future__ import annotations

from pathlib import Path

import pytest

from rl.training.config import GRPORunConfig, SFTRunConfig
from rl.training.distill import DistillConfig

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "train"


def test_trl_default_bf16_fails_on_cpu_and_our_configs_turn_it_off(tmp_path):
    from trl import GRPOConfig

    with pytest.raises(ValueError, match="bf16"):
        GRPOConfig(output_dir=str(tmp_path))  # TRL's default: bf16=True, which a CPU-only machine rejects
    for cfg in (GRPORunConfig(model="m", output_dir=str(tmp_path)), SFTRunConfig(model="m", bf16=True,
                                                                                 output_dir=str(tmp_path))):
        trl_cfg = cfg.to_trl()
        assert trl_cfg.bf16 is False and trl_cfg.use_cpu is True and trl_cfg.fp16 is False


def test_grpo_step_shape_and_accumulation():
    cfg = GRPORunConfig(model="m", prompts_per_step=16, num_generations=24, per_device_train_batch_size=24)
    trl_cfg = cfg.to_trl()
    assert trl_cfg.gradient_accumulation_steps == trl_cfg.steps_per_generation == 16
    assert trl_cfg.num_generations == 24 and trl_cfg.num_iterations == 1
    with pytest.raises(ValueError, match="not a multiple"):
        cfg.derived_grad_accum(world_size=5)  # 384 completions do not split over 5 x 24
    with pytest.raises(ValueError, match="not a multiple"):
        GRPORunConfig(
            model="m", prompts_per_step=3, num_generations=5, per_device_train_batch_size=4
        ).to_trl()


@pytest.mark.parametrize("size,processes", [("1.5b", 1), ("3b", 1), ("7b", 3)])
def test_paper_grpo_configs(size, processes):
    cfg = GRPORunConfig.from_toml(CONFIGS / f"grpo_paper_qwen2.5-{size}.toml", "grpo")
    assert cfg.prompts_per_step == 16 and cfg.num_generations == 24
    assert cfg.train_file == "suites/train/if_else.counterfactual.jsonl" and cfg.family == "if_else"
    assert f"Qwen2.5-{size.upper()}-Instruct" in cfg.model
    assert cfg.use_vllm and cfg.vllm_mode == ("server" if size == "7b" else "colocate")
    assert cfg.derived_grad_accum(processes) * cfg.per_device_train_batch_size * processes == 16 * 24


def test_smoke_and_sft_configs_load():
    grpo = GRPORunConfig.from_toml(CONFIGS / "grpo_cpu_smoke.toml", "grpo")
    assert grpo.device == "cpu" and grpo.use_vllm and grpo.vllm_mode == "colocate"
    assert grpo.to_trl().bf16 is False
    for name in ("sft_cpu_smoke", "sft_gold_qwen2.5-1.5b", "sft_distill_qwen2.5-1.5b"):
        assert SFTRunConfig.from_toml(CONFIGS / f"{name}.toml", "sft").model
    distill = DistillConfig.from_toml(CONFIGS / "sft_distill_qwen2.5-1.5b.toml", "distill")
    assert distill.endpoint.startswith("openai:") and distill.min_reward == 1.0


def test_bad_configs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown keys.*'max_step'"):
        GRPORunConfig.from_dict({"model": "m", "max_step": 3})
    with pytest.raises(ValueError, match="'model' is required"):
        SFTRunConfig.from_dict({"max_steps": 3})
    with pytest.raises(ValueError, match="num_generations"):
        GRPORunConfig(model="m", num_generations=1)
    with pytest.raises(ValueError, match="vllm_mode"):
        GRPORunConfig(model="m", vllm_mode="remote")
    with pytest.raises(ValueError, match="modes"):
        SFTRunConfig(model="m", modes=["counterfactal"])
    with pytest.raises(ValueError, match="warmup"):
        SFTRunConfig(model="m", warmup_ratio=0.1, warmup_steps=5)
    path = tmp_path / "c.toml"
    path.write_text("[sft]\nmodel = 'm'\n")
    with pytest.raises(ValueError, match=r"no \[grpo\] table"):
        GRPORunConfig.from_toml(path, "grpo")
    with pytest.raises(FileNotFoundError):
        SFTRunConfig.from_toml(tmp_path / "missing.toml")


def test_lora_config():
    cfg = SFTRunConfig(model="m", lora=True, lora_r=4)
    peft = cfg.peft_config()
    assert peft.r == 4 and "q_proj" in peft.target_modules
    assert SFTRunConfig(model="m").peft_config() is None


def test_a_hub_id_is_accepted_unless_the_hub_is_offline(monkeypatch, tmp_path):
    """Paper configs name hub ids (Qwen/Qwen2.5-7B-Instruct): on a machine with the hub they download on
    first use; only with HF_HUB_OFFLINE set must the id already be in the local cache."""
    import pytest

    from rl.training.config import check_model

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    check_model("Qwen/Qwen2.5-7B-Instruct")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE"):
        check_model("Qwen/Qwen2.5-7B-Instruct")
    (tmp_path / "models--Qwen--Qwen2.5-7B-Instruct").mkdir()
    check_model("Qwen/Qwen2.5-7B-Instruct")
