"""`cfcode export SOURCE... --out DIR [--format hf,verl,lm_eval]`."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer

from generators.errors import InputError, check_output_dir, output_errors
from generators.export import FORMATS, export_problems, load_sources
from generators.frozen import check_outside_suites


def export_cmd(
    sources: list[str] = typer.Argument(  # noqa: B008 - typer idiom
        ..., help="frozen:test | frozen:train | frozen:all | JSONL files from `cfcode generate`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; each format goes to OUT/<format>/."),  # noqa: B008
    formats: str = typer.Option("hf,verl,lm_eval,openrlhf", "--format", "-f",
                               help="Comma-separated: hf, verl, lm_eval, openrlhf."),
    split: str | None = typer.Option(None, help="Put every record in this split (default: the records' own)."),
    name: str = typer.Option("counterfactual-code", help="Dataset name (card title, lm-eval group name)."),
) -> None:
    """Write a suite or generated set as a Hugging Face dataset, verl / OpenRLHF parquet and/or lm-eval tasks."""
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise InputError(f"unknown {bad or formats!r}; expected a comma-separated subset of {', '.join(FORMATS)}",
                         field="--format")
    check_output_dir(out)
    check_outside_suites(out)
    try:
        splits = load_sources(sources, split)
        with output_errors(out):
            report = export_problems(splits, out, chosen, name=name,
                                     command="cfcode " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    except ImportError as exc:
        raise InputError(f"export needs pyarrow ({exc}); pip install 'counterfactual-code[rl]'") from None
    except InputError:
        raise
    except (ValueError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from None
    typer.echo(json.dumps({"out": str(report.out_dir), "formats": report.formats, "counts": report.counts,
                           "files": len(report.files)}, sort_keys=True))
