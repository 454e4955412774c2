"""Child process for the vLLM-backed GRPO tests (each run gets a fresh process and vLLM engine).

    python tests/rl/training/grpo_worker.py sync  MODEL TRAIN_FILE OUT   # 2 GRPO steps + weight-sync checks
    python tests/rl/training/grpo_worker.py stall MODEL TRAIN_FILE OUT   # rollout stalls after checkpoint-1

Prints one JSON line with what the test asserts on.
"""
from __future__ import annotations

import json
import sys
import threading


def length_reward(completions, **kwargs):
    """Test-only shaping reward next to the env's reward: a random tiny model never answers correctly,
    so the env reward alone gives zero advantages and no update; this one makes every step move the
    weights."""
    return [len(c[-1]["content"] if isinstance(c, list) else c) / 100.0 for c in completions]


def grpo_config(model: str, train_file: str, out: str, **kw):
    from rl.training.config import GRPORunConfig

    base = dict(
        model=model,
        train_file=train_file,
        output_dir=out,
        prompts_per_step=4,
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=24,
        learning_rate=1e-2,
        max_steps=2,
        save_steps=1,
        seed=0,
        sync_timeout_s=120,
        rollout_timeout_s=300,
    )
    base.update(kw)
    return GRPORunConfig(**base)


def sync_check(model: str, train_file: str, out: str) -> dict:
    from envs import make_reward_fn
    from rl.training.grpo import run_grpo
    from rl.training.weight_sync import compare_sampled_logprobs

    cfg = grpo_config(model, train_file, out)
    result = run_grpo(cfg, reward_funcs=[make_reward_fn("exact"), length_reward], keep_trainer=True)
    trainer = result.trainer
    llm = trainer.vllm_generation.llm
    tok = trainer.processing_class
    prompts = [
        tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        for row in trainer.train_dataset.select(range(4))
    ]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    # vLLM still holds the weights synced before step 2's rollout; the trainer has taken step 2 since.
    stale = compare_sampled_logprobs(llm, trainer.model, ids, max_tokens=16)
    syncs_before = result.guard.syncs
    trainer.vllm_generation.sync_weights()
    synced = compare_sampled_logprobs(llm, trainer.model, ids, max_tokens=16)
    logs = [h for h in trainer.state.log_history if "loss" in h]
    return {
        "global_step": trainer.state.global_step,
        "syncs_during_training": syncs_before,
        "rollouts": result.guard.rollouts,
        "stale_max_abs_diff": stale.max_abs_diff,
        "synced_max_abs_diff": synced.max_abs_diff,
        "synced_mean_abs_diff": synced.mean_abs_diff,
        "n_tokens": synced.n_tokens,
        "trl_sampling_logp_diff_max": [h["sampling/sampling_logp_difference/max"] for h in logs],
        "env_reward_logged": all("rewards/counterfactual_reward/mean" in h for h in logs),
        "grad_norms": [h["grad_norm"] for h in logs],
        "timings": [t.to_dict() for t in result.timings],
        "final_exists": (result.final_dir / "config.json").is_file(),
    }


def stall_after_first_checkpoint(model: str, train_file: str, out: str) -> None:
    """Step 1 runs and is checkpointed; then vLLM 'hangs' (an injected never-returning generate) and the
    rollout deadline must end the run with StallTimeout instead of hanging."""
    from transformers import TrainerCallback

    from rl.training.grpo import build_grpo_trainer

    cfg = grpo_config(model, train_file, out, max_steps=3)
    trainer, _, result = build_grpo_trainer(cfg)

    class HangAfterFirstSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 1:
                result.guard.rollout_timeout_s = 3.0
                trainer.vllm_generation.llm.generate = lambda *a, **k: threading.Event().wait()

    trainer.add_callback(HangAfterFirstSave())
    trainer.train()
    print(json.dumps({"finished": True}))  # must not be reached


if __name__ == "__main__":
    mode, model, train_file, out = sys.argv[1:5]
    if mode == "sync":
        print(json.dumps(sync_check(model, train_file, out)), flush=True)
    elif mode == "stall":
        stall_after_first_checkpoint(model, train_file, out)
    else:
        raise SystemExit(f"unknown mode {mode}")
