"""`cfcode sandbox ...`: build the image, run the benchmark. Heavy imports stay inside commands."""
from __future__ import annotations

import json
import logging

import typer

from sandbox.bench import BenchConfig, run_benchmark
from sandbox.image import ImageBuildError, ImageRecipe, build_from_dockerfile, build_image
from sandbox.pool import SandboxUnavailable

app = typer.Typer(no_args_is_help=True, help="Docker execution sandbox: image, benchmark.")


def _one_line_errors(fn):
    """Bad input and an unavailable backend end in one line `cfcode: error: ...` and exit code 2 (the
    same contract as generators.errors.cli_errors, which this lowest layer cannot import)."""
    import functools
    import sys

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, SandboxUnavailable, ImageBuildError) as exc:
            text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            print(f"cfcode: error: {text}", file=sys.stderr, flush=True)
            raise typer.Exit(2) from None

    return run


def _positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive integer, got {value}")


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="[%(name)s] %(message)s")


@app.command("build-image")
@_one_line_errors
def build_image_cmd(
    suite: str = typer.Option("bookworm", help="Debian suite of the rootfs."),
    mirror: str | None = typer.Option(None, help="Debian mirror URI (default: read from the apt sources)."),
    force: bool = typer.Option(False, help="Rebuild even if an image for this recipe exists."),
    dockerfile: bool = typer.Option(False, help="Build from sandbox/docker/Dockerfile instead (needs a registry)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Build the sandbox image (debootstrap + docker import), tagged with a content hash; cached."""
    _logging(not quiet)
    if dockerfile:
        result = build_from_dockerfile()
    else:
        result = build_image(ImageRecipe(suite=suite, mirror=mirror or ""), force=force)
    typer.echo(f"{result.tag} python={result.python_version} {'(cached)' if result.cached else '(built)'}")


@app.command("bench")
@_one_line_errors
def bench_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
    jobs: int = typer.Option(400, help="Jobs per round and configuration (pool, fork worker, in-process)."),
    rounds: int = typer.Option(3, help="Alternating rounds of pool and fork worker; the best of each counts."),
    naive_jobs: int = typer.Option(10, help="Jobs for the slow naive `docker run --rm` baseline."),
    calls: int = typer.Option(100, help="Argument tuples per job."),
    latency_jobs: int = typer.Option(200, help="Sequential jobs for the pool's p50/p99 latency."),
    size: int | None = typer.Option(None, help="Pool size (default: one per core)."),
    image: str | None = typer.Option(None, help="Sandbox image (default cfcode-sandbox:latest)."),
) -> None:
    """Jobs/s of the warm pool vs naive docker run vs fork worker vs in-process exec (one run)."""
    _positive(jobs=jobs, rounds=rounds, naive_jobs=naive_jobs, calls=calls, latency_jobs=latency_jobs, size=size)
    _logging(False)

    cfg = BenchConfig(jobs=jobs, naive_jobs=naive_jobs, calls=calls, size=size, rounds=rounds,
                      latency_jobs=latency_jobs, **({"image": image} if image else {}))
    result = run_benchmark(cfg)
    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
    else:
        for key, value in sorted(result.items()):
            typer.echo(f"{key:32s} {value}")
