"""GRPO with vLLM rollouts on CPU, for real: a training step, the weight sync, a stall, a resumed run."""
from __future__ import annotations

import json
import math

import pytest

from tests.rl.conftest import last_json_line, run_python

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

WORKER = "tests/rl/training/grpo_worker.py"
SYNC_TOLERANCE = 0.05  # max |logprob diff| per token; float rounding between vLLM's and torch's kernels


def test_grpo_steps_sync_weights_into_vllm(tiny_model, train_file, tmp_path):
    proc = run_python([WORKER, "sync", str(tiny_model), str(train_file), str(tmp_path / "grpo")])
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = last_json_line(proc.stdout)
    print(json.dumps(r, indent=1))  # numbers for `pytest -s`

    # Two real GRPO steps: vLLM generated both rollouts, the env's reward was computed and logged.
    assert r["global_step"] == 2 and r["rollouts"] == 2
    assert r["env_reward_logged"]
    assert all(math.isfinite(g) and g > 0 for g in r["grad_norms"])
    assert r["final_exists"]
    # One sync before every rollout, i.e. after every optimizer step.
    assert r["syncs_during_training"] == 2
    # Step 2 sampled after step 1's update: TRL's own check of vLLM's logprobs against the trainer's.
    assert r["trl_sampling_logp_diff_max"][1] < SYNC_TOLERANCE, r
    # Negative control: before syncing step 2's update, vLLM and the trainer disagree clearly...
    assert r["stale_max_abs_diff"] > 10 * SYNC_TOLERANCE, r
    # ...and after the sync, vLLM's logprobs of its sampled tokens match the trainer's.
    assert r["synced_max_abs_diff"] < SYNC_TOLERANCE, r
    assert r["n_tokens"] == 4 * 16
    # The step timer split every step; the reward is a negligible part of it.
    assert len(r["timings"]) == 2
    for t in r["timings"]:
        assert t["generation_s"] > 0 and t["sync_s"] > 0 and t["step_s"] >= t["generation_s"] + t["reward_s"]


def test_stalled_rollout_fails_loudly_then_run_resumes_from_checkpoint(tiny_model, train_file, tmp_path):
    out = tmp_path / "grpo"
    proc = run_python([WORKER, "stall", str(tiny_model), str(train_file), str(out)])
    assert proc.returncode != 0, "a stalled rollout must end the run"
    assert "StallTimeout" in proc.stderr and "vLLM rollout stalled" in proc.stderr, proc.stderr[-3000:]
    assert '"finished"' not in proc.stdout
    assert (out / "checkpoint-1" / "trainer_state.json").is_file()
    assert not (out / "checkpoint-2").exists()

    # Resume through the CLI with the same config: it must continue from checkpoint-1, not restart.
    config = tmp_path / "grpo.toml"
    config.write_text(
        "[grpo]\n"
        f'model = "{tiny_model}"\ntrain_file = "{train_file}"\noutput_dir = "{out}"\n'
        "prompts_per_step = 4\nnum_generations = 4\nper_device_train_batch_size = 8\n"
        "max_completion_length = 24\nlearning_rate = 1e-2\nmax_steps = 2\nsave_steps = 1\nseed = 0\n")
    proc = run_python(["-m", "cfcode_cli", "train", "grpo", str(config)])
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-1")
    assert summary["global_step"] == 2 and summary["steps_this_run"] == 1
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [
        1,
        2,
    ]  # step 1 kept from the first run
    assert (out / "final" / "model.safetensors").is_file()
