"""The `cfcode` command. Each package contributes its own Typer sub-app; heavy imports stay lazy."""
from __future__ import annotations

import typer

app = typer.Typer(help="counterfactual-code: counterfactual reasoning problems, sandbox, env and RL.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)


def _register() -> None:
    from sandbox.cli import app as sandbox_app

    app.add_typer(sandbox_app, name="sandbox", help="Docker execution sandbox: image, benchmark.")
    try:
        from generators.cli import register as register_generators
    except ImportError:  # package still being built
        pass
    else:
        register_generators(app)
    try:
        from envs.cli import register as register_envs
    except ImportError:
        pass
    else:
        register_envs(app)
    try:
        from rl.cli import register as register_rl
    except ImportError:
        pass
    else:
        register_rl(app)


_register()

if __name__ == "__main__":
    app()
