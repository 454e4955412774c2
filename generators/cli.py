"""`cfcode generate` and `cfcode suites {build,verify,bench}`. Heavy imports stay inside commands."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from generators import FAMILIES, write_problems
from generators.bench import BenchConfig, run_benchmark
from generators.counterfactualize_cli import counterfactualize_cmd
from generators.errors import (
    InputError,
    check_backend,
    check_output_dir,
    check_output_file,
    cli_errors,
    fail,
    output_errors,
)
from generators.export.cli import export_cmd
from generators.family import get_family
from generators.frozen import check_outside_suites
from generators.pipeline import chunk_plan, generate_with_stats
from generators.schema import SPLITS
from generators.typecheck import check_count
from generators.suites import build_suites, rebuild_matches, verify_suites
from sandbox import SandboxFailure, SandboxUnavailable, make_sandbox

suites_app = typer.Typer(no_args_is_help=True, help="Frozen held-out suites: build, verify, benchmark.")


def _fail(message: str) -> None:
    fail(message)


def generate_cmd(
    family: str = typer.Option(..., "--family", "-f", help="Problem family (see `cfcode families`)."),
    mode: str = typer.Option("counterfactual", "--mode", "-m", help="counterfactual | interventional"),
    n: int = typer.Option(100, "--n", "-n", help="Number of problems."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed; same seed + version -> identical file."),
    level: int | None = typer.Option(
        None, "--level", "-l", help="Curriculum level 1-5 (default: family default)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL path."),  # noqa: B008 - typer idiom
    split: str = typer.Option("train", help="train | test (train runs avoid all frozen test programs)."),
    knob: list[str] = typer.Option(  # noqa: B008 - typer idiom
        [], "--knob", "-k", help="Difficulty knob override NAME=VALUE (repeatable)."
    ),
    backend: str = typer.Option("auto", help="Sandbox backend: auto | docker | local."),
    shard: str = typer.Option("0/1", help="I/N: write only shard I of N; the N files concatenated in "
                              "order are the unsharded run, byte for byte."),
    chunk_size: int = typer.Option(10_000, help="Problems per chunk, the unit shards split the run by "
                                   "(part of the recipe: same value for every shard and the unsharded run)."),
) -> None:
    """Generate problems to a JSONL file and print the per-run filter counts."""
    spec = get_family(family)  # everything is checked before the sandbox starts
    if mode not in spec.modes:
        raise InputError(f"expected one of {list(spec.modes)}, got {mode!r}", field="--mode")
    if split not in SPLITS:
        raise InputError(f"expected one of {list(SPLITS)}, got {split!r}", field="--split")
    if n < 0:
        raise InputError(f"expected a non-negative integer, got {n}", field="--n")
    shard_spec = _parse_shard(shard)
    if chunk_size < 1:
        raise InputError(f"expected a positive integer, got {chunk_size}", field="--chunk-size")
    try:
        chunk_plan(n, chunk_size, shard_spec)
    except ValueError as exc:
        raise InputError(str(exc), field="--n") from None
    knobs = spec.parse_knobs(knob)
    spec.config(level, **knobs)
    check_output_file(out)
    check_outside_suites(out)
    try:
        with _sandbox(backend) as sandbox:
            result = generate_with_stats(
                family, mode, n, seed, level=level, split=split, sandbox=sandbox, shard=shard_spec,
                chunk_size=chunk_size, **knobs
            )
    except (ValueError, SandboxFailure) as exc:
        _fail(str(exc))
    with output_errors(out):
        write_problems(out, result.problems)
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "count": len(result.problems),
                "python_version": result.python_version,
                "filter_counts": result.stats.to_dict(),
            },
            sort_keys=True,
        )
    )


def _parse_shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()) or not 0 <= int(index) < int(count):
        raise InputError(f"expected I/N with 0 <= I < N (e.g. 2/8), got {text!r}", field="--shard")
    return int(index), int(count)


def _sandbox(backend: str):
    try:
        return make_sandbox(backend)
    except (ValueError, SandboxUnavailable) as exc:
        _fail(str(exc))


def families_cmd() -> None:
    """List the registered families and their roles."""
    for name, spec in sorted(FAMILIES.items()):
        role = (
            ("OOD" if spec.ood else "train/ID")
            + (", paper" if spec.paper else ", beyond paper")
            + (", math" if spec.math else "")
        )
        typer.echo(f"{name:14s} {role:28s} {spec.description}")


@suites_app.command("build")
@cli_errors()
def build_cmd(
    out_dir: Path | None = typer.Option(None, help="Target directory (default: suites/ of the repository)."),  # noqa: B008 - typer idiom
    backend: str = typer.Option("docker", help="Sandbox backend; the reference interpreter is Docker's."),
    test_size: int = typer.Option(300, help="Problems per family per mode."),
    train_size: int = typer.Option(5000, help="Problems in the if_else training set."),
    family: list[str] = typer.Option([], "--family", help="Only these families (repeatable; default: all)."),  # noqa: B008 - typer idiom
) -> None:
    """(Re)generate every frozen file and the sha256 manifest (byte-identical for the same version)."""
    check_backend(backend)
    for name in family:  # all checked before the sandbox starts and the training set is built
        get_family(name)
    if test_size < 1:
        raise InputError(f"expected a positive integer, got {test_size}", field="--test-size")
    if train_size < 0:
        raise InputError(f"expected a non-negative integer, got {train_size}", field="--train-size")
    check_count(test_size, "--test-size")  # before --out-dir is made (a ValueError left it behind)
    check_count(train_size, "--train-size", least=0)
    if out_dir is not None:
        check_output_dir(out_dir, "--out-dir")
    try:
        manifest = build_suites(
            out_dir,
            sandbox_backend=backend,
            test_size=test_size,
            train_size=train_size,
            families=family or None,
            log=lambda m: typer.echo(m, err=True),
        )
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"wrote {len(manifest['files'])} files (python {manifest['python_version']})")


@suites_app.command("verify")
@cli_errors()
def verify_cmd(
    directory: Path | None = typer.Option(None, "--dir", help="Suites directory (default: suites/)."),  # noqa: B008 - typer idiom
    rebuild: bool = typer.Option(False, help="Also regenerate everything in a temp dir and compare bytes."),
    backend: str = typer.Option("docker", help="Backend for --rebuild."),
) -> None:
    """Check checksums, counts, records and train/test separation (and, with --rebuild, reproducibility)."""
    check_backend(backend)
    if directory is not None and not directory.is_dir():
        raise InputError(f"expected a suites directory, got {str(directory)!r} (no such directory)", field="--dir")
    report = verify_suites(directory)
    typer.echo(str(report))
    ok = report.ok
    if rebuild and ok:
        mismatches = rebuild_matches(directory, sandbox_backend=backend)
        typer.echo(
            "rebuild: byte-identical" if not mismatches else "rebuild differs: " + ", ".join(mismatches)
        )
        ok = not mismatches
    if not ok:
        raise typer.Exit(code=1)


@suites_app.command("bench")
@cli_errors()
def bench_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
    family: str = typer.Option("if_else"),
    mode: str = typer.Option("counterfactual"),
    n: int = typer.Option(2000),
    level: int | None = typer.Option(None),
    backend: str = typer.Option("docker"),
) -> None:
    """Problems/s including ground truth through the sandbox pool (target >= 200 for if_else)."""
    spec = get_family(family)
    check_backend(backend)
    if mode not in spec.modes:
        raise InputError(f"expected one of {list(spec.modes)}, got {mode!r}", field="--mode")
    if n < 1:
        raise InputError(f"expected a positive integer, got {n}", field="--n")
    check_count(n, "--n")
    spec.config(level)

    result = run_benchmark(BenchConfig(family=family, mode=mode, n=n, level=level, sandbox_backend=backend))
    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
    else:
        for key, value in sorted(result.items()):
            typer.echo(f"{key:24s} {value}")


def register(app: typer.Typer) -> None:
    """Add `generate`, `families` and the `suites` sub-app to the top-level `cfcode` app."""
    app.command("generate")(cli_errors()(generate_cmd))
    app.command("families")(families_cmd)

    app.command("export")(cli_errors()(export_cmd))

    app.command("counterfactualize")(counterfactualize_cmd)
    app.add_typer(suites_app, name="suites", help="Frozen held-out suites: build, verify, benchmark.")
