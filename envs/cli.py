"""`cfcode env ...` commands: the env benchmark. Heavy imports stay inside the commands."""
from __future__ import annotations

import json

import typer

from envs.bench import BenchConfig, run_bench
from envs.interactive_baselines import InteractiveBenchConfig, run_interactive_bench
from generators import InputError, check_backend, check_count, cli_errors, get_family

env_app = typer.Typer(help="CounterfactualCode-v0 gymnasium env: benchmark.", no_args_is_help=True)


def family_names(families: str) -> list[str]:
    """The comma-separated --families, each known, at least one: checked before any problem is generated
    or a sandbox starts (an empty list ended with "fmean requires at least one data point")."""
    names = [f.strip() for f in families.split(",") if f.strip()]
    if not names:
        raise InputError("expected at least one family name, got none", field="--families")
    for name in names:
        get_family(name)
    return names


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
    adapters: bool = typer.Option(False, "--adapters", help="Also score through the framework adapters (verl; OpenEnv where installed)."),
) -> None:
    """Steps/s of the exact-answer path (target >= 20,000 on one core) and of the execution-verified path."""
    names = family_names(families)
    check_backend(backend)
    for option, value in (("--exact-steps", exact_steps), ("--exec-steps", exec_steps),
                          ("--exec-batch", exec_batch), ("--exec-batches", exec_batches),
                          ("--num-problems", num_problems)):
        if value < 0:
            raise InputError(f"expected a non-negative integer, got {value}", field=option)
        check_count(value, option, least=0)
    if num_problems < 1:  # the env's pool needs one (was a ValueError traceback from the env)
        raise InputError(f"expected a positive integer, got {num_problems}", field="--num-problems")

    cfg = BenchConfig(families=names, num_problems=num_problems,
                      exact_steps=exact_steps, exec_steps=exec_steps, exec_batch=exec_batch,
                      exec_batches=exec_batches, sandbox_backend=backend, seed=seed)
    result = run_bench(cfg, exact=exact_steps > 0, execution=exec_steps > 0, adapters=adapters and exact_steps > 0)
    if json_out:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="CounterfactualCode-v0 benchmark")
    table.add_column("path")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for path in ("exact", "execution_verified", "adapters", "openenv"):
        for key, value in result.get(path, {}).items():
            table.add_row(path, key, str(value))
    Console().print(table)


@env_app.command("interactive-bench")
@cli_errors()
def interactive_bench(
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    families: str = typer.Option("if_else,while,multi_r", help="Comma-separated families."),
    episodes: int = typer.Option(20, help="Episodes per family and policy."),
    max_experiments: int = typer.Option(3, help="Experiments allowed per episode."),
    cost: float = typer.Option(0.05, help="Reward cost of one experiment."),
    reward: str = typer.Option("precise", help="exact | f1 | precise (exact / answer size)."),
    suite: str = typer.Option("frozen:test", help="Problem source (frozen:test or a JSONL path)."),
    backend: str = typer.Option("docker", help="Sandbox backend: docker | local | auto."),
    seed: int = typer.Option(0, help="Episode seed base."),
) -> None:
    """Reference rewards on CounterfactualCodeInteractive-v0: no / random / greedy experiments."""
    names = tuple(family_names(families))
    if episodes < 1:
        raise InputError(f"expected a positive integer, got {episodes}", field="--episodes")
    check_count(episodes, "--episodes")
    check_backend(backend)
    try:
        cfg = InteractiveBenchConfig(families=names, episodes=episodes, max_experiments=max_experiments,
                                     experiment_cost=cost, reward=reward, suite=suite, sandbox_backend=backend,
                                     seed=seed)
        result = run_interactive_bench(cfg)
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if json_out:
        typer.echo(json.dumps(result, sort_keys=True))
        return
    typer.echo(f"{'policy':8s} {'reward':>7s} {'correct':>8s} {'experiments':>12s} {'gold size':>10s}")
    for name, row in result["policies"].items():
        typer.echo(f"{name:8s} {row['mean_reward']:7.3f} {row['correct_rate']:8.3f} "
                   f"{row['mean_experiments']:12.2f} {row['mean_gold_size']:10.2f}")


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env", help="Gymnasium env: benchmark.")
