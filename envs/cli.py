"""`cfcode env ...` commands: the env benchmark. Heavy imports stay inside the commands."""
from __future__ import annotations

import json

import typer

from generators.errors import InputError, cli_errors

env_app = typer.Typer(help="CounterfactualCode-v0 gymnasium env: benchmark.", no_args_is_help=True)


@env_app.command("bench")
@cli_errors()
def bench(
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    families: str = typer.Option("if_else", help="Comma-separated families."),
    exact_steps: int = typer.Option(50_000, help="Episodes on the exact-answer path."),
    exec_steps: int = typer.Option(256, help="Episodes on the execution-verified path (0: skip)."),
    exec_batch: int = typer.Option(64, help="Completions per batched verification."),
    exec_batches: int = typer.Option(8, help="Number of batched verifications."),
    backend: str = typer.Option("docker", help="Sandbox for the execution-verified path: docker|local|auto."),
    num_problems: int = typer.Option(64, help="Problems per family in the env's pool."),
    seed: int = typer.Option(0, help="Generation seed of the pool."),
) -> None:
    """Steps/s of the exact-answer path (target >= 20,000 on one core) and of the execution-verified path."""
    from generators.family import get_family

    names = [f.strip() for f in families.split(",") if f.strip()]
    if not names:
        raise InputError("expected at least one family name, got none", field="--families")
    for name in names:  # before any problem is generated or a sandbox starts
        get_family(name)
    if backend not in ("docker", "local", "auto"):
        raise InputError(f"expected one of docker, local, auto, got {backend!r}", field="--backend")
    for option, value in (("--exact-steps", exact_steps), ("--exec-steps", exec_steps),
                          ("--exec-batch", exec_batch), ("--exec-batches", exec_batches),
                          ("--num-problems", num_problems)):
        if value < 0:
            raise InputError(f"expected a non-negative integer, got {value}", field=option)
    from envs.bench import BenchConfig, run_bench

    cfg = BenchConfig(families=[f.strip() for f in families.split(",") if f.strip()], num_problems=num_problems,
                      exact_steps=exact_steps, exec_steps=exec_steps, exec_batch=exec_batch,
                      exec_batches=exec_batches, backend=backend, seed=seed)
    result = run_bench(cfg, exact=exact_steps > 0, execution=exec_steps > 0)
    if json_out:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="CounterfactualCode-v0 benchmark")
    table.add_column("path")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for path in ("exact", "execution_verified"):
        for key, value in result.get(path, {}).items():
            table.add_row(path, key, str(value))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env", help="Gymnasium env: benchmark.")
