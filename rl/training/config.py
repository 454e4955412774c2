"""Run configurations for SFT and GRPO (TRL-config style dataclasses, loaded from a TOML table).

They hold what differs between runs (model, data, budget, hardware) and translate into TRL's
`SFTConfig` / `GRPOConfig`, fixing what must follow from the hardware: bf16 off on CPU, `use_cpu`,
no pinned memory, a small vLLM KV cache.
"""
from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import envs
from generators import (
    TRACE_STYLES,
    InputError,
    MissingInputError,
    check_fields,
    check_input_file,
    check_output_dir,
    check_ranges,
    describe,
    iter_problems,
    read_toml,
    toml_locator,
)
from rl.inference.models import check_model
from rl.training.data import ProblemSource, load_trace_rows

T = TypeVar("T", bound="TomlConfig")
Locate = Callable[[str], str]


def load_table(path: str | Path, table: str | None, overrides: Sequence[str] = (), *,
               whole_file_ok: bool = False, _seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Locate]:
    """The `[table]` of a TOML file (the whole file if `whole_file_ok` and it has no such table), on top
    of the table it `extends`, with `--set KEY=VALUE` overrides (TOML literals; bare words are strings)
    applied. Returns (table, locate)."""
    data, text = read_toml(path)
    if table is not None and table not in data and not whole_file_ok:
        raise InputError(f"no [{table}] table (tables: {sorted(data)})", where=str(path))
    inside = table is not None and table in data
    section = data[table] if inside else data
    if not isinstance(section, dict):
        raise InputError(f"expected a table, got {describe(section)}", where=str(path), field=str(table))
    section = dict(section)
    file_locate = toml_locator(path, text, table if inside else None)
    section, file_locate = resolve_extends(section, table, Path(path).parent, file_locate,
                                           (*_seen, Path(path).resolve()), whole_file_ok=whole_file_ok)
    from_set: set[str] = set()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}", field="--set")
        if key.strip() in from_set:  # the last one silently won
            raise InputError(f"{key.strip()} given twice; expected each key once", field="--set")
        section[key.strip()] = parse_value(value.strip())
        from_set.add(key.strip())
    return section, (lambda key: "--set" if key in from_set else file_locate(key))


def resolve_extends(section: dict[str, Any], table: str | None, base_dir: Path, locate: Locate,
                    seen: tuple[Path, ...] = (), *, whole_file_ok: bool = False) -> tuple[dict[str, Any], Locate]:
    """`extends = "FILE.toml"` (relative to the file that says it): the same table of FILE, with this
    table's own keys on top. Why: a setting that several configs share (the paper's GRPO preset of a
    model size) is written once, in configs/train/, and the experiments that run it refer to it
    instead of restating it, so the two cannot drift."""
    if "extends" not in section:
        return section, locate
    ref = section["extends"]
    if not isinstance(ref, str) or not ref.endswith(".toml"):
        raise InputError(f"expected the path of a TOML file, got {describe(ref)}", where=locate("extends"),
                         field="extends")
    path = base_dir / ref
    if not path.is_file():
        raise MissingInputError(f"expected an existing TOML file, got {ref!r} (no such file: {path})",
                                where=locate("extends"), field="extends")
    if path.resolve() in seen:
        raise InputError(f"expected a chain of presets, got a cycle back to {path}", where=locate("extends"),
                         field="extends")
    base, base_locate = load_table(path, table, whole_file_ok=whole_file_ok, _seen=seen)
    own = {k: v for k, v in section.items() if k != "extends"}
    return {**base, **own}, (lambda key: locate(key) if key in own else base_locate(key))


def parse_value(text: str) -> Any:
    """`--set` values are TOML literals (numbers, booleans, strings, arrays); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class TomlConfig:
    """`from_dict` / `from_toml` for config dataclasses: unknown keys, wrong types and missing keys are
    InputErrors, checked by the one dataclass-driven validator (`generators.typecheck`)."""

    _required: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "", locate: Locate | None = None) -> T:
        where = where or cls.__name__
        check_fields(cls, data, where=where, locate=locate)
        for name in cls._required:
            if not data.get(name):
                raise InputError(f"{cls.__name__}: '{name}' is required", where=where if locate else "")
        try:
            return cls(**data)
        except InputError:
            raise
        except (ValueError, TypeError) as exc:
            key = str(exc).split(" ", 1)[0]  # range messages start with the field's name: point at its line
            raise InputError(str(exc), where=locate(key) if locate and key in data else where) from exc

    @classmethod
    def from_toml(cls: type[T], path: str | Path, table: str | None = None, overrides: Sequence[str] = (),
                  *, whole_file_ok: bool = False) -> T:
        """Load from a TOML file: the `[table]` section if given, else the whole file."""
        data, locate = load_table(path, table, overrides, whole_file_ok=whole_file_ok)
        return cls.from_dict(data, where=locate(""), locate=locate)


def check_problem_file(path: str | Path, field: str) -> None:
    """The file exists and every record in it is valid (the one record validator), before heavy work."""
    check_input_file(path, field, "JSONL file of problems")
    for _ in iter_problems(path):
        pass


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
        # Ranges a type cannot say, before torch is imported (TRL took NaN rates and zero batch sizes;
        # a negative seed or batch size failed inside the trainer with a traceback).
        check_ranges(self, at_least_1=("per_device_train_batch_size", "gradient_accumulation_steps", "save_steps",
                                        "logging_steps", "lora_r", "lora_alpha", "n_problems"),
                      seeds=("seed", "data_seed"), positive=("learning_rate", "num_train_epochs"),
                      non_negative=("warmup_steps", "weight_decay", "max_grad_norm"))
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be >= 1, or -1 (num_train_epochs decides), got {self.max_steps}")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError(f"save_total_limit must be >= 1 (or absent), got {self.save_total_limit}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")

    def check_paths(self, where: str = "", model: bool = True) -> None:
        """Every file the run reads exists (checked before torch / vLLM are imported)."""
        if model:
            check_model(self.model, "model", where)
        check_output_dir(self.output_dir, "output_dir")  # a file there was a traceback after the model loaded
        if self.train_file:
            check_problem_file(self.train_file, "train_file")
        self.check_trl_overrides(where)

    trl_config_name = ""  # the TRL config class `to_trl` builds, named so TRL is imported only when needed

    def check_trl_overrides(self, where: str = "") -> None:
        """Each trl_overrides key is a field of the TRL config: a misspelt key failed only when the
        stage started, after an experiment's earlier stages had run for minutes or hours."""
        if not self.trl_overrides or not self.trl_config_name:
            return
        import dataclasses
        import difflib

        import trl

        known = {f.name for f in dataclasses.fields(getattr(trl, self.trl_config_name)) if f.init}
        for key in sorted(self.trl_overrides, key=str):
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InputError(f"expected an option of TRL's {self.trl_config_name}, got {key!r}{hint}",
                                 where=where, field=f"trl_overrides.{key}")

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

    trl_config_name = "SFTConfig"
    output_dir: str = "runs/sft"
    traces: str = "gold"
    trace_style: str = "full"  # gold traces: "full" | "compact" (generators.render.compact_trace)
    learning_rate: float = 1e-5
    max_length: int = 2048
    completion_only_loss: bool = True

    def check_paths(self, where: str = "", model: bool = True) -> None:
        super().check_paths(where, model)
        if self.traces != "gold":
            check_input_file(self.traces, "traces", "JSONL file of traces (or 'gold')")
            try:
                load_trace_rows(self.traces)
            except ValueError as exc:
                raise InputError(str(exc)) from None

    def __post_init__(self) -> None:
        super().__post_init__()

        check_ranges(self, at_least_1=("max_length",))
        if self.trace_style not in TRACE_STYLES:
            raise ValueError(f"trace_style must be one of {list(TRACE_STYLES)}, got {self.trace_style!r}")

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

    trl_config_name = "GRPOConfig"
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
        check_ranges(self, at_least_1=("prompts_per_step", "max_completion_length"),
                     positive=("rollout_timeout_s", "sync_timeout_s"), non_negative=("temperature", "beta"),
                     probabilities=("top_p",))
        self.derived_grad_accum()  # one process; a batch that does not divide the step fails here, not in TRL
        if self.reward not in envs.REWARDS:
            raise ValueError(f"reward must be one of {envs.REWARDS}, got {self.reward!r}")

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
