"""Run configurations for SFT and GRPO (TRL-config style dataclasses, loaded from a TOML table).

They hold what differs between runs (model, data, budget, hardware) and translate into TRL's
`SFTConfig` / `GRPOConfig`, fixing what must follow from the hardware: bf16 off on CPU, `use_cpu`,
no pinned memory, a small vLLM KV cache.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from rl.train_data import ProblemSource

T = TypeVar("T", bound="TomlConfig")


class TomlConfig:
    """`from_dict` / `from_toml` for config dataclasses: unknown or missing keys are clear errors."""

    _required: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown keys {unknown}; known keys: {sorted(known)}")
        for name in cls._required:
            if not data.get(name):
                raise ValueError(f"{cls.__name__}: '{name}' is required")
        return cls(**data)

    @classmethod
    def from_toml(cls: type[T], path: str | Path, table: str | None = None) -> T:
        """Load from a TOML file: the `[table]` section if given, else the whole file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no config file at {path}")
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if table is not None:
            if table not in data:
                raise ValueError(f"{path}: no [{table}] table (tables: {sorted(data)})")
            data = data[table]
        return cls.from_dict(data)


@dataclass
class _RunConfig(ProblemSource, TomlConfig):
    _required = ("model",)

    model: str = ""  # local checkpoint directory (or hub id on a machine that has the hub)
    output_dir: str = "runs/train"
    seed: int = 0

    # Optimisation.
    learning_rate: float = 1e-6
    max_steps: int = 100
    num_train_epochs: float = 1.0
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    warmup_steps: int = 0
    warmup_ratio: float = 0.0  # fraction of the run; mutually exclusive with warmup_steps
    lr_scheduler_type: str = "constant"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False

    # Checkpoints and logs (resume picks the latest checkpoint-* in output_dir).
    save_steps: int = 50
    save_total_limit: int | None = 2
    logging_steps: int = 1
    resume: bool = True
    report_to: str = "none"

    # Hardware: device "auto" -> CUDA if available else CPU; bf16 None -> on for CUDA with bf16 support only.
    device: str = "auto"
    bf16: bool | None = None

    # LoRA through peft (off by default).
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

    # Anything else, passed verbatim to the TRL config (escape hatch; wins over derived values).
    trl_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.warmup_ratio and self.warmup_steps:
            raise ValueError("set warmup_steps or warmup_ratio, not both")

    # ---- hardware ------------------------------------------------------------------------------
    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def resolved_bf16(self) -> bool:
        """bf16 only where it works: TRL defaults it to True, which fails on CPU."""
        if self.resolved_device() == "cpu":
            return False
        if self.bf16 is not None:
            return self.bf16
        import torch

        return torch.cuda.is_bf16_supported()

    def common_trl_kwargs(self) -> dict[str, Any]:
        cpu = self.resolved_device() == "cpu"
        return dict(
            output_dir=self.output_dir,
            seed=self.seed,
            data_seed=self.data_seed,
            learning_rate=self.learning_rate,
            max_steps=self.max_steps,
            num_train_epochs=self.num_train_epochs,
            per_device_train_batch_size=self.per_device_train_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            warmup_steps=self.warmup_ratio or self.warmup_steps,
            lr_scheduler_type=self.lr_scheduler_type,
            weight_decay=self.weight_decay,
            max_grad_norm=self.max_grad_norm,
            gradient_checkpointing=self.gradient_checkpointing,
            save_strategy="steps",
            save_steps=self.save_steps,
            save_total_limit=self.save_total_limit,
            logging_steps=self.logging_steps,
            report_to=self.report_to,
            bf16=self.resolved_bf16(),
            fp16=False,
            use_cpu=cpu,
            dataloader_pin_memory=not cpu,
            disable_tqdm=True,
        )

    def peft_config(self):
        if not self.lora:
            return None
        from peft import LoraConfig

        return LoraConfig(
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=list(self.lora_target_modules),
            task_type="CAUSAL_LM",
        )


@dataclass
class SFTRunConfig(_RunConfig):
    """Supervised fine-tuning on reasoning traces.

    `traces` = "gold": the generators' `Problem.gold_trace`; otherwise a JSONL of teacher traces written
    by `cfcode distill` (one {"prompt": [...], "completion": [...]} record per line).
    """

    output_dir: str = "runs/sft"
    traces: str = "gold"
    learning_rate: float = 1e-5
    max_length: int = 2048
    completion_only_loss: bool = True

    def to_trl(self):
        from trl import SFTConfig

        kwargs = self.common_trl_kwargs()
        kwargs.update(max_length=self.max_length, completion_only_loss=self.completion_only_loss)
        kwargs.update(self.trl_overrides)
        return SFTConfig(**kwargs)


@dataclass
class GRPORunConfig(_RunConfig):
    """GRPO on generated problems with the env's verifier as reward and vLLM rollouts.

    One optimizer step sees `prompts_per_step` x `num_generations` completions (paper: 16 x 24);
    gradient accumulation is derived from `per_device_train_batch_size` and the number of processes.
    """

    output_dir: str = "runs/grpo"
    prompts_per_step: int = 16
    num_generations: int = 24
    per_device_train_batch_size: int = 24
    max_completion_length: int = 1024
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.0
    loss_type: str = "dapo"
    lora_dropout: float = 0.0  # dropout would make the trainer's logprobs differ from the sampler's
    reward: str = "exact"  # envs.make_reward_fn(reward): "exact" | "f1" | ...

    use_vllm: bool = True
    vllm_mode: str = "colocate"  # "server": a separate `trl vllm-serve` (several GPUs)
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3
    vllm_max_model_length: int | None = None
    vllm_kv_cache_gib: int = 1  # CPU only (VLLM_CPU_KVCACHE_SPACE)

    rollout_timeout_s: float = 1800.0  # one generation call
    sync_timeout_s: float = 600.0  # one weight sync to vLLM

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be colocate or server, got {self.vllm_mode!r}")
        if self.num_generations < 2:
            raise ValueError("GRPO needs num_generations >= 2 (advantages are relative within a group)")

    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations

    def derived_grad_accum(self, world_size: int = 1) -> int:
        per_pass = self.per_device_train_batch_size * world_size
        total = self.completions_per_step()
        if total % per_pass:
            raise ValueError(
                f"prompts_per_step x num_generations = {total} is not a multiple of "
                f"per_device_train_batch_size x processes = {per_pass}"
            )
        return total // per_pass

    def to_trl(self, world_size: int = 1):
        from trl import GRPOConfig

        kwargs = self.common_trl_kwargs()
        accum = self.derived_grad_accum(world_size)
        kwargs.update(
            gradient_accumulation_steps=accum,
            steps_per_generation=accum,
            num_iterations=1,
            num_generations=self.num_generations,
            max_completion_length=self.max_completion_length,
            temperature=self.temperature,
            top_p=self.top_p,
            beta=self.beta,
            loss_type=self.loss_type,
            use_vllm=self.use_vllm,
            vllm_mode=self.vllm_mode,
            vllm_server_base_url=self.vllm_server_base_url,
            vllm_gpu_memory_utilization=self.vllm_gpu_memory_utilization,
            vllm_max_model_length=self.vllm_max_model_length,
        )
        kwargs.update(self.trl_overrides)
        return GRPOConfig(**kwargs)
