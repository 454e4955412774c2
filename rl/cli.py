"""`cfcode` commands of the rl package: training (rl.train_cli) and evaluation (rl.eval_cli)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from rl.eval_cli import register as register_eval
    from rl.train_cli import register as register_train

    register_train(app)
    register_eval(app)
