"""GRPO with TRL's `GRPOTrainer`: env verifier rewards, vLLM rollouts, weights synced every step.

TRL syncs the policy into vLLM before each generation, i.e. after every optimizer step (we set
`steps_per_generation = gradient_accumulation_steps`, `num_iterations = 1`). On CPU the sync goes
through TRL's own `load_weights` on plain (non-oneDNN) vLLM layers (see `rl.training.weight_sync`); the sync
and the rollouts run under deadlines. A per-step timer splits each step into generation, reward,
weight sync and optimisation.
"""
from __future__ import annotations

import functools
import gc
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from envs import make_reward_fn
from rl.inference.engines import cpu_vllm_env
from rl.inference.models import resolve_model
from rl.inference.timeouts import deadline
from rl.training.checkpoints import StepCounter, latest_checkpoint, load_policy, save_final, write_run_summary
from rl.training.config import GRPORunConfig
from rl.training.curves import write_log_history
from rl.training.data import grpo_rows, rows_for_tokenizer, to_dataset
from rl.training.weight_sync import VLLMGuard, guard_vllm_generation, prepare_cpu_colocate


@dataclass
class StepTiming:
    step: int
    step_s: float
    generation_s: float
    reward_s: float
    sync_s: float

    @property
    def optimisation_s(self) -> float:
        return max(0.0, self.step_s - self.generation_s - self.reward_s - self.sync_s)

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "optimisation_s": self.optimisation_s,
                "reward_fraction": self.reward_s / self.step_s if self.step_s else 0.0}


@dataclass
class GRPORunResult:
    final_dir: Path
    timings: list[StepTiming] = field(default_factory=list)
    guard: VLLMGuard | None = None  # None when rollouts do not use vLLM
    trainer: Any = None  # kept only when run_grpo(keep_trainer=True)


def timed_reward(fn: Callable[..., list], sink: list[float]) -> Callable[..., list]:
    """Same reward function (same name for TRL's logs), recording its wall time per call."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> list:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - start)

    return wrapper


def _step_timer(timings: list[StepTiming], reward_s: list[float], sync: VLLMGuard | None):
    from transformers import TrainerCallback

    rollout_s = sync.rollout_s if sync else []
    sync_s = sync.sync_s if sync else []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.mark = (time.perf_counter(), len(reward_s), len(rollout_s), len(sync_s))

        def on_step_end(self, args, state, control, **kwargs):
            start, n_reward, n_rollout, n_sync = self.mark
            timings.append(StepTiming(step=state.global_step, step_s=time.perf_counter() - start,
                                      generation_s=sum(rollout_s[n_rollout:]),
                                      reward_s=sum(reward_s[n_reward:]), sync_s=sum(sync_s[n_sync:])))

    return StepTimer()


def build_grpo_trainer(cfg: GRPORunConfig, *, problems: Sequence[Any] | None = None,
                       reward_funcs: Sequence[Callable[..., list]] | None = None,
                       callbacks: Sequence[Any] = ()) -> tuple[Any, Any, GRPORunResult]:
    """A ready GRPOTrainer (vLLM engine started and guarded), its tokenizer and the result to fill."""
    from accelerate import PartialState
    from trl import GRPOTrainer


    device = cfg.resolved_device()
    if device == "cpu" and cfg.use_vllm:
        cpu_vllm_env(cfg.vllm_kv_cache_gib)
        prepare_cpu_colocate()
    if problems is None:
        problems = cfg.load_problems()
    if reward_funcs is None:
        reward_funcs = [make_reward_fn(cfg.reward)]
    reward_s: list[float] = []
    rewards = [timed_reward(f, reward_s) for f in reward_funcs]
    model, tokenizer = load_policy(cfg.model, device, cfg.resolved_bf16())
    dataset = to_dataset(rows_for_tokenizer(grpo_rows(problems), tokenizer))
    args = cfg.to_trl(world_size=PartialState().num_processes)
    result = GRPORunResult(final_dir=Path(cfg.output_dir) / "final")
    with deadline(cfg.rollout_timeout_s, "GRPO trainer set-up (vLLM engine start)"):
        trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=cfg.peft_config(),
                              callbacks=list(callbacks))
    if args.use_vllm:
        result.guard = guard_vllm_generation(
            trainer.vllm_generation,
            sync_timeout_s=cfg.sync_timeout_s,
            rollout_timeout_s=cfg.rollout_timeout_s,
        )
    trainer.add_callback(_step_timer(result.timings, reward_s, result.guard))
    return trainer, tokenizer, result


def run_grpo(
    cfg: GRPORunConfig,
    *,
    problems: Sequence[Any] | None = None,
    reward_funcs: Sequence[Callable[..., list]] | None = None,
    callbacks: Sequence[Any] = (),
    keep_trainer: bool = False,
) -> GRPORunResult:
    """Train; resume from the latest checkpoint in `cfg.output_dir` if there is one. Writes `final/`."""
    from dataclasses import replace


    start = time.perf_counter()
    cfg = replace(cfg, model=resolve_model(cfg.model))  # smollm2 / gguf:FILE -> converted folder
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    resume = latest_checkpoint(cfg.output_dir) if cfg.resume else None
    counter = StepCounter()
    trainer, tokenizer, result = build_grpo_trainer(
        cfg, problems=problems, reward_funcs=reward_funcs, callbacks=[*callbacks, counter.callback]
    )
    trainer.train(resume_from_checkpoint=resume)
    result.final_dir = save_final(trainer, tokenizer, cfg.output_dir)
    write_log_history(trainer, cfg.output_dir)
    extra = {"step_timings": [t.to_dict() for t in result.timings],
             "weight_syncs": result.guard.syncs if result.guard else 0}
    write_run_summary("grpo", cfg, trainer, result.final_dir, resume, counter.steps, start, extra)
    if keep_trainer:
        result.trainer = trainer
    else:
        release_trainer(trainer)
    return result


def release_trainer(trainer: Any) -> None:
    """Free the colocated vLLM engine and the model (a later run in this process needs the memory)."""
    vg = getattr(trainer, "vllm_generation", None)
    llm = getattr(vg, "llm", None)
    if llm is not None:
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # best effort
            pass
        vg.llm = None
    del trainer
    gc.collect()
