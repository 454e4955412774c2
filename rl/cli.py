"""`cfcode` commands of the rl package: each subpackage owns its own (rl.training.cli,
rl.evaluation.cli, rl.experiment.cli)."""
from __future__ import annotations

import typer

from rl.evaluation.cli import register as register_evaluation
from rl.experiment.cli import register as register_experiment
from rl.training.cli import register as register_training


def register(app: typer.Typer) -> None:
    register_training(app)
    register_evaluation(app)
    register_experiment(app)
