"""The `cfcode` command. Each package contributes its own Typer sub-app; heavy imports stay lazy."""
from __future__ import annotations

import typer

from envs.cli import register as register_envs
from generators.cli import register as register_generators
from rl.cli import register as register_rl
from sandbox.cli import app as sandbox_app

app = typer.Typer(help="counterfactual-code: counterfactual reasoning problems, sandbox, env and RL.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(sandbox_app, name="sandbox", help="Docker execution sandbox: image, benchmark.")
register_generators(app)
register_envs(app)
register_rl(app)

if __name__ == "__main__":
    app()
