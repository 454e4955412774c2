"""`cfcode experiment`: config validation, and a real end-to-end run on a tiny model that is killed in
the middle of SFT and resumed (finished stages skipped, training continued from its checkpoint)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rl.experiment import load_experiment, parse_experiment, plan_stages

ROOT = Path(__file__).resolve().parents[3]

TINY_EXPERIMENT = """
[experiment]
name = "resume-test"
out_dir = "{out}"
seed = 0
sandbox = "local"

[data]
n_train = 16
level = 1

[model]
base = "tiny"

[sft]
max_steps = 6
save_steps = 2
per_device_train_batch_size = 2
learning_rate = 1e-3
max_length = 384

[grpo]
init = "sft"
use_vllm = false
max_steps = 1
prompts_per_step = 2
num_generations = 2
per_device_train_batch_size = 4
max_completion_length = 16
save_steps = 1

[eval]
engine = "hf"
suites = ["if_else", "while"]
limit = 2
max_tokens = 16
suites_dir = "{suites}"
baselines = ["oracle"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("extra, message", [
    ("[nonsense]\nx = 1\n", "unknown tables"),
    ("[eval]\nengine = 'tpu'\n", "engine must be 'vllm' or 'hf'"),
    ("[eval]\nbaselines = ['oracle', 'genie']\n", "unknown baselines"),
    ("[sft]\nmax_stepz = 3\n", "unknown keys"),
    ("[sft]\noutput_dir = 'x'\n", "set by the experiment runner"),
    ("[grpo]\ninit = 'sft'\n", "needs an enabled \\[sft\\]"),
    ("[model]\nbase = '/no/such/model'\n", "neither 'tiny' nor a directory"),
    ("[data]\nn_trian = 3\n", "unknown keys"),
])
def test_bad_configs_fail_before_any_work(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        load_experiment(_write(tmp_path, extra))


def test_invalid_toml_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="invalid TOML"):
        load_experiment(_write(tmp_path, "[data\n"))
    with pytest.raises(FileNotFoundError):
        load_experiment(tmp_path / "missing.toml")


def test_shipped_configs_parse_and_plan_the_full_pipeline():
    quick = load_experiment(ROOT / "configs" / "experiments" / "quickstart.toml")
    names = [s.name for s in plan_stages(quick)]
    assert names[:4] == ["data", "model", "sft", "grpo"]
    assert {"eval:base", "eval:sft", "eval:rl", "eval:oracle", "compare", "traces", "report"} <= set(names)
    for path in sorted((ROOT / "configs" / "experiments").glob("paper_*.toml")):
        data = __import__("tomllib").loads(path.read_text())
        cfg = parse_experiment(data | {"model": {}}, str(path))  # the user's model path need not exist here
        assert cfg.grpo is not None and cfg.grpo["num_generations"] == 24 and cfg.grpo["prompts_per_step"] == 16
        assert data["model"]["base"].endswith("Instruct")


def _state(out: Path) -> dict:
    return json.loads((out / "state.json").read_text())


def _started(out: Path, stage: str) -> int:
    log = out / "logs" / f"{stage.replace(':', '_')}.log"
    return log.read_text().count(f"===== {stage} started") if log.is_file() else 0


@pytest.mark.slow
def test_experiment_runs_end_to_end_and_resumes_after_a_kill(tmp_path, mini_suites):
    out = tmp_path / "run"
    config = _write(tmp_path, TINY_EXPERIMENT.format(out=out, suites=mini_suites))
    cmd = [sys.executable, "-m", "cfcode_cli", "experiment", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    # 1. Start, and kill the runner hard once SFT has written its first checkpoint.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "models" / "sft" / "checkpoint-2"
    deadline = time.monotonic() + 300
    while not (ckpt / "trainer_state.json").is_file():
        assert proc.poll() is None, f"runner exited early ({proc.returncode}); see {out / 'logs'}"
        assert time.monotonic() < deadline, "SFT never wrote checkpoint-2"
        # checkpoint-2 lives only until checkpoint-6 rotates it out (save_total_limit=2), a few tiny
        # SFT steps: poll often enough not to miss it
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)  # the stage child dies with its parent (PDEATHSIG)
    state = _state(out)
    assert set(state["stages"]) == {"data", "model"} and "sft" in state["started"]
    finished = {k: v["seconds"] for k, v in state["stages"].items()}
    assert not any("rl.experiment" in line and str(out) in line
                   for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout.splitlines())

    # 2. Re-run: data and model are skipped, SFT continues from its checkpoint, the rest completes.
    res = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    state = _state(out)
    assert {k: state["stages"][k]["seconds"] for k in finished} == finished
    assert _started(out, "model") == 1 and _started(out, "sft") == 2
    sft = state["stages"]["sft"]["outputs"]
    assert sft["resumed_from"].endswith(("checkpoint-2", "checkpoint-4")) and sft["global_step"] == 6
    assert sft["steps_this_run"] < 6
    assert state["stages"]["grpo"]["outputs"]["global_step"] == 1
    report = (out / "REPORT.md").read_text()
    assert "| suite | base | sft | rl | oracle |" in report and "Reasoning-trace analysis" in report
    for rel in ("compare/compare.png", "compare/compare.json", "traces/traces.md", "eval/rl/eval.json",
                "eval/oracle/samples.jsonl", "config.toml"):
        assert (out / rel).is_file(), rel
    oracle = json.loads((out / "eval" / "oracle" / "eval.json").read_text())
    assert all(g["exact_match"]["mean"] == 1.0 for g in oracle["groups"])

    # 3. Nothing left to do: a third run starts no stage at all.
    logs_before = {p.name: p.read_text() for p in (out / "logs").glob("*.log")}
    res = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert {p.name: p.read_text() for p in (out / "logs").glob("*.log")} == logs_before

    # 4. A changed evaluation setting re-runs evaluation and later stages only (no retraining).
    config.write_text(config.read_text().replace("limit = 2", "limit = 1"))
    res = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _started(out, "sft") == 2 and _started(out, "grpo") == 1 and _started(out, "eval:rl") == 2
    rl_eval = json.loads((out / "eval" / "rl" / "eval.json").read_text())
    assert all(g["n_problems"] == 1 for g in rl_eval["groups"])


def test_fingerprints_follow_the_sections_each_stage_depends_on(tmp_path):
    from rl.experiment.stages import fingerprints as _fingerprints

    def fps(text):
        cfg = load_experiment(_write(tmp_path, text))
        return _fingerprints(cfg, plan_stages(cfg))

    base = fps("[sft]\nmax_steps = 2\n[eval]\nlimit = 3\n")
    more_eval = fps("[sft]\nmax_steps = 2\n[eval]\nlimit = 4\n")
    more_sft = fps("[sft]\nmax_steps = 3\n[eval]\nlimit = 3\n")
    renamed = fps("[experiment]\nname = 'x'\nout_dir = 'elsewhere'\nsandbox = 'local'\n[sft]\nmax_steps = 2\n"
                  "[eval]\nlimit = 3\n")
    assert renamed == base
    changed = [k for k in base if base[k] != more_eval[k]]
    assert changed[0] == "eval:base" and "sft" not in changed and "report" in changed
    assert [k for k in base if base[k] != more_sft[k]][0] == "sft"
    assert base["data"] == more_sft["data"] and base["model"] == more_sft["model"]


@pytest.mark.parametrize("size", ["1.5b", "3b", "7b"])
def test_paper_experiments_run_the_train_presets_unchanged(size):
    """The experiment's GRPO (and the 1.5B SFT) stage is the single-stage preset itself, less the keys
    the runner sets (model, output_dir, train_file): the two cannot drift."""
    from rl.training.config import load_table

    path = ROOT / "configs" / "experiments" / f"paper_{size}.toml"
    cfg = parse_experiment(__import__("tomllib").loads(path.read_text()) | {"model": {}}, str(path))
    runner_sets = ("model", "output_dir", "train_file")
    grpo, _ = load_table(ROOT / "configs" / "train" / f"grpo_paper_qwen2.5-{size}.toml", "grpo")
    assert {k: v for k, v in cfg.grpo.items() if k != "init"} == {k: v for k, v in grpo.items()
                                                                  if k not in runner_sets}
    if size == "1.5b":
        sft, _ = load_table(ROOT / "configs" / "train" / "sft_gold_qwen2.5-1.5b.toml", "sft")
        assert cfg.sft == {k: v for k, v in sft.items() if k not in runner_sets}


def test_extends_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "a.toml").write_text('[grpo]\nextends = "b.toml"\nmax_steps = 2\n')
    (tmp_path / "b.toml").write_text('[grpo]\nextends = "a.toml"\n')
    with pytest.raises(ValueError, match=r"b.toml:2: \[grpo\]: extends: .*cycle"):
        parse_experiment({"grpo": {"extends": "a.toml"}}, str(tmp_path / "x.toml"))
    with pytest.raises(FileNotFoundError, match=r"x.toml: \[grpo\]: extends: .*'missing.toml'"):
        parse_experiment({"grpo": {"extends": "missing.toml"}}, str(tmp_path / "x.toml"))
    (tmp_path / "c.toml").write_text('[grpo]\nmax_step = 2\n')  # a typo in the preset is the preset's error
    with pytest.raises(ValueError, match=r"c.toml:2: \[grpo\].*max_step"):
        parse_experiment({"grpo": {"extends": "c.toml"}}, str(tmp_path / "x.toml"))
