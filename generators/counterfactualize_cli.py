"""`cfcode counterfactualize SOURCE.py`: problems from the user's own functions (Docker sandbox only)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from generators.counterfactualize import Options, SpecError, counterfactualize, function_spec, load_spec
from generators.errors import InputError, check_distinct_output, check_output_file, output_errors, print_error
from generators.frozen import check_outside_suites
from generators.io import write_problems
from generators.user_code import Rejection, parse_source, prepare_function
from sandbox import SandboxFailure, make_sandbox


def _fail(message: str, code: int = 2) -> None:
    print_error(message)
    raise typer.Exit(code=code)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            _fail(f"{flag} expects NAME=DOMAIN (lo..hi or a JSON list), got {item!r}")
        if name.strip() in out:
            _fail(f"{flag} {name.strip()} given twice")
        out[name.strip()] = text
    return out


def counterfactualize_cmd(
    source: Path = typer.Argument(..., help="Python file with the function(s)."),  # noqa: B008 - typer idiom
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL path."),  # noqa: B008 - typer idiom
    spec: Path | None = typer.Option(  # noqa: B008 - typer idiom
        None, "--spec", help="TOML spec: \\[functions.NAME] tables with `inputs` and `latents`."),
    function: str | None = typer.Option(None, "--function", "-f", help="One function (instead of --spec)."),
    inputs: list[str] = typer.Option(  # noqa: B008 - typer idiom
        [], "--input", "-i", help="Observable parameter NAME=lo..hi or NAME='[JSON values]' (repeatable)."),
    latents: list[str] = typer.Option(  # noqa: B008 - typer idiom
        [], "--latent", "-l", help="Latent parameter NAME=lo..hi or NAME='[JSON values]' (repeatable)."),
    n: int = typer.Option(10, "--n", "-n", help="Problems per function."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed; same seed -> identical file."),
    mode: str = typer.Option("counterfactual", "--mode", "-m", help="counterfactual | interventional"),
    max_inputs: int = typer.Option(40, help="Input points evaluated per function (sampled if more)."),
    max_answer_size: int = typer.Option(0, help="Largest counterfactual answer set (0: unbounded)."),
    call_timeout: float = typer.Option(0.5, help="Seconds one call of a function may take."),
) -> None:
    """Turn ordinary Python functions into counterfactual problems (records as `cfcode generate` writes).

    The code is untrusted: it runs only in the Docker sandbox. A function that cannot be used gets
    one `rejected:` line on stderr and the run goes on; exit status 1 when no problem was made.
    """
    try:
        check_output_file(out)  # before the sandbox runs every function
        check_outside_suites(out)
        check_distinct_output(out, {"SOURCE": source, "--spec": spec})
    except InputError as exc:
        _fail(str(exc))
    if source.exists() and not source.is_file() and not source.is_dir():  # /dev/zero, a FIFO: read without end
        _fail(f"{source}: cannot read the source: expected a regular file, got a device, FIFO or socket")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{source}: cannot read the source as UTF-8 text: {exc}")
    try:
        if spec is not None:
            if function or inputs or latents:
                _fail("give either --spec or --function/--input/--latent, not both")
            specs = load_spec(str(spec))
        else:
            if not function:
                _fail("give --spec SPEC.toml, or --function NAME with --input and --latent")
            specs = [function_spec(function, _pairs(inputs, "--input"), _pairs(latents, "--latent"),
                                   "command line")]
            # One function: what can be told without running it (not defined, a syntax error, parameters
            # that do not match) is the user's mistake, one line before the sandbox starts.
            prepared = prepare_function(parse_source(text), function, list(specs[0].inputs),
                                        list(specs[0].latents))
            if isinstance(prepared, Rejection):
                line = f":{prepared.line}" if prepared.line else ""
                _fail(f"{source}{line}: --function {function}: {prepared.reason}")
        options = Options(n=n, seed=seed, mode=mode, max_inputs=max_inputs, max_answer_size=max_answer_size,
                          call_timeout_s=call_timeout)
        options.validate()
        with make_sandbox("docker") as sandbox:
            result = counterfactualize(text, specs, sandbox, options, log=lambda line: typer.echo(line, err=True))
    except typer.Exit:  # a RuntimeError too: an error line printed above, not a Docker failure
        raise
    except SpecError as exc:
        _fail(str(exc))
    except SandboxFailure as exc:
        _fail(f"the sandbox failed (not your code): {exc}")
    except (RuntimeError, OSError) as exc:  # no Docker engine / image: infrastructure, not the user's code
        _fail(f"cannot start the Docker sandbox: {exc}")
    if not result.problems:
        _fail("no problem was made (see the rejection lines above); nothing written", code=1)
    with output_errors(out):
        write_problems(out, result.problems)
    typer.echo(json.dumps({
        "out": str(out), "count": len(result.problems), "python_version": result.python_version,
        "functions": {r.name: (r.problems if r.rejection is None else "rejected") for r in result.reports},
        "filter_counts": result.stats.to_dict(),
    }, sort_keys=True))
