"""Benchmarks of the training stack, each measured within one run (the machine is shared and noisy).

- rollout: generated tokens/s of vLLM against HF `generate`, same model, prompts and sampling;
- grpo-step: where one GRPO step's time goes (generation, reward, weight sync, optimisation).
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generators import generate
from rl.inference.engines import HFEngine, SamplingConfig, VLLMEngine
from rl.training.config import GRPORunConfig
from rl.training.data import problem_messages
from rl.training.grpo import run_grpo
from rl.training.tiny_model import build_tiny_model


def bench_prompts(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    """Chat prompts of generated training problems (the prompts rollouts really see)."""
    return [problem_messages(p) for p in generate("if_else", "counterfactual", n, seed)]


def ensure_model(model: str | None, workdir: Path) -> str:
    if model:
        return model

    return str(build_tiny_model(workdir / "tiny-model"))


@dataclass
class RolloutBench:
    model: str
    prompts: int
    max_tokens: int
    hf_tokens: int
    hf_s: float
    vllm_tokens: int
    vllm_s: float
    vllm_start_s: float

    @property
    def hf_tokens_per_s(self) -> float:
        return self.hf_tokens / self.hf_s

    @property
    def vllm_tokens_per_s(self) -> float:
        return self.vllm_tokens / self.vllm_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hf_tokens_per_s": round(self.hf_tokens_per_s, 1),
                "vllm_tokens_per_s": round(self.vllm_tokens_per_s, 1),
                "speedup_vllm_over_hf": round(self.vllm_tokens_per_s / self.hf_tokens_per_s, 2)}


def bench_rollout(model: str | None = None, n_prompts: int = 32, max_tokens: int = 128, seed: int = 0,
                  hf_batch_size: int = 32) -> RolloutBench:
    """Same prompts and sampling (T=1) through HF generate, then through vLLM; warm-up calls excluded."""
    with tempfile.TemporaryDirectory(prefix="cfcode-bench-") as tmp:
        model = ensure_model(model, Path(tmp))
        prompts = bench_prompts(n_prompts, seed)
        sampling = SamplingConfig(max_tokens=max_tokens, temperature=1.0, seed=seed)
        warm = SamplingConfig(max_tokens=8, temperature=1.0, seed=seed)

        hf = HFEngine(model, batch_size=hf_batch_size)
        hf.generate(prompts[:2], warm)
        t = time.perf_counter()
        hf_out = hf.generate(prompts, sampling)
        hf_s = time.perf_counter() - t
        hf.close()

        t = time.perf_counter()
        vllm = VLLMEngine(model, dtype="float32", seed=seed)
        start_s = time.perf_counter() - t
        try:
            vllm.generate(prompts[:2], warm)
            t = time.perf_counter()
            vllm_out = vllm.generate(prompts, sampling)
            vllm_s = time.perf_counter() - t
        finally:
            vllm.close()
        return RolloutBench(model=model, prompts=len(prompts), max_tokens=max_tokens,
                            hf_tokens=sum(c.n_tokens for g in hf_out for c in g), hf_s=hf_s,
                            vllm_tokens=sum(c.n_tokens for g in vllm_out for c in g), vllm_s=vllm_s,
                            vllm_start_s=start_s)


def bench_grpo_step(
    model: str | None = None,
    steps: int = 3,
    prompts_per_step: int = 4,
    num_generations: int = 8,
    max_completion_length: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """A short real GRPO run (vLLM colocate, env reward); per-step breakdown, first step reported apart."""
    with tempfile.TemporaryDirectory(prefix="cfcode-bench-") as tmp:
        model = ensure_model(model, Path(tmp))
        cfg = GRPORunConfig(
            model=model,
            output_dir=str(Path(tmp) / "grpo"),
            max_steps=steps,
            prompts_per_step=prompts_per_step,
            num_generations=num_generations,
            per_device_train_batch_size=num_generations,
            max_completion_length=max_completion_length,
            n_problems=prompts_per_step * steps,
            learning_rate=1e-5,
            save_steps=10_000,
            seed=seed,
            resume=False,
        )
        t = time.perf_counter()
        result = run_grpo(cfg)
        wall = time.perf_counter() - t
    timings = [x.to_dict() for x in result.timings]
    steady = timings[1:] or timings
    keys = ("step_s", "generation_s", "reward_s", "sync_s", "optimisation_s")
    mean = {k: sum(t[k] for t in steady) / len(steady) for k in keys}
    return {
        "model": model,
        "steps": steps,
        "completions_per_step": prompts_per_step * num_generations,
        "max_completion_length": max_completion_length,
        "run_wall_s": round(wall, 2),
        "per_step": timings,
        "steady_state_mean": {k: round(v, 4) for k, v in mean.items()},
        "steady_state_fraction": {k.removesuffix("_s"): round(mean[k] / mean["step_s"], 4) for k in keys[1:]},
        "reward_under_2pct": mean["reward_s"] / mean["step_s"] < 0.02,
    }
