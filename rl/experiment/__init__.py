"""Experiments (`cfcode experiment CONFIG.toml`, rl/experiment/cli.py): the config (config.py), the
stages and their fingerprints (stages.py), and the resumable runner that runs heavy stages in child
processes (runner.py).

    from rl.experiment import load_experiment, run_experiment
    run_experiment(load_experiment("configs/experiments/quickstart.toml"))
"""
from rl.experiment.config import (
           EvalSection,
           ExperimentConfig,
           ExperimentError,
           load_experiment,
           parse_experiment,
)
from rl.experiment.runner import StageEvent, run_experiment, run_stages
from rl.experiment.stages import Stage, plan_stages

__all__ = ["EvalSection", "ExperimentConfig", "ExperimentError", "Stage", "StageEvent", "load_experiment",
           "parse_experiment", "plan_stages", "run_experiment", "run_stages"]
