"""`cfcode eval`, `cfcode compare` and `cfcode analyze-traces`.

Heavy imports (vLLM, torch, matplotlib) stay inside the commands so `cfcode --help` stays fast.
"""
from __future__ import annotations

from pathlib import Path

import typer

from generators import (
    MODES,
    InputError,
    MissingInputError,
    build_dataclass,
    check_fields,
    check_input_file,
    check_output_dir,
    check_outside_suites,
    cli_errors,
    fail,
    output_errors,
)
from rl.evaluation.baselines import is_baseline
from rl.evaluation.compare import COMPARE_METRICS, collect, parse_entry, write_comparison
from rl.evaluation.evaluate import (
    SAMPLES_FILE,
    SUMMARY_FILE,
    EvalConfig,
    EvalResult,
    SampleRecord,
    check_reusable,
    evaluate,
    load_eval,
    load_samples,
    save_eval,
)
from rl.evaluation.report import comparison_markdown, eval_markdown
from rl.evaluation.trace_analysis import analyze_eval_dirs, traces_markdown
from rl.inference.models import check_engine_spec

SUITES_HELP = "Comma-separated suite names (families), or 'all' for every frozen suite."
MODES_HELP = "Comma-separated modes: counterfactual, interventional (default both)."


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _eval_config(model: str, label: str, suites: str, modes: str, limit: int | None, samples: int,
                 max_tokens: int, temperature: float, seed: int, sandbox: str, suites_dir: str | None,
                 prompt_style: str | None, question: str = "predict"):
    # The options go through the same dataclass validator as the TOML configs (types, then EvalConfig's
    # own checks), so a CLI value and a config value cannot be accepted differently.
    return build_dataclass(EvalConfig, dict(model=model, label=label, suites=_split(suites), modes=_split(modes),
                                  limit=limit, samples=samples, max_tokens=max_tokens, temperature=temperature,
                                  seed=seed, sandbox=sandbox, suites_dir=suites_dir, prompt_style=prompt_style,
                                  question=question), where="options")


def _fail(message: str) -> None:
    fail(message)


def _check_inputs(cfg, out: Path | None = None) -> None:
    """What `evaluate` would only find out after loading an engine: modes, model path, suite files."""
    bad = [m for m in cfg.modes if m not in MODES]
    if bad or not cfg.modes:
        raise InputError(f"expected a non-empty subset of {list(MODES)}, got {cfg.modes}", field="--modes")
    if cfg.model and not is_baseline(cfg.model):
        check_engine_spec(cfg.model)
    if cfg.suites_dir and not Path(cfg.suites_dir).is_dir():
        raise MissingInputError(f"expected a directory, got {cfg.suites_dir!r} (no such directory)",
                                field="--suites-dir")
    for name in cfg.suites:
        if name.endswith(".jsonl"):
            check_input_file(name, "--suites", "JSONL file of problems")
    if out is not None:
        check_output_dir(out)
        check_outside_suites(out)


def _check_eval_dir(entry: Path, samples: bool) -> None:
    """An eval directory given on the command line holds a readable eval.json (and samples.jsonl whose
    rows are `SampleRecord`s, checked by the one dataclass validator): else one line naming file:line."""
    import json


    summary = entry / SUMMARY_FILE if entry.is_dir() else entry
    if not summary.is_file():
        raise MissingInputError(f"expected an eval directory holding {SUMMARY_FILE}, got {str(entry)!r}")
    try:
        EvalResult.from_dict(json.loads(summary.read_bytes().decode("utf-8")), where=str(summary))
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise InputError(f"expected an {SUMMARY_FILE} written by `cfcode eval`, got {type(exc).__name__}: {exc}",
                         where=str(summary)) from None
    if not samples:
        return
    path = summary.parent / SAMPLES_FILE
    if not path.is_file():
        raise MissingInputError(f"expected {SAMPLES_FILE} beside {SUMMARY_FILE}", where=str(summary.parent))
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError) as exc:
                raise InputError(f"expected a JSON object, got {type(exc).__name__}: {exc}", where=where) from None
            check_fields(SampleRecord, row, where=where, what="field")
            if b"\\u" in raw:  # a lone surrogate escape (JSON, not Unicode): eval --reuse died writing it back
                for key, value in row.items():
                    try:
                        json.dumps(value, ensure_ascii=False).encode("utf-8")
                    except UnicodeEncodeError:
                        raise InputError("expected text without lone UTF-16 surrogates (not valid Unicode)",
                                         where=where, field=key) from None


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @cli_errors()
    def eval_cmd(
        model: str = typer.Option(..., "--model", "-m", help="vllm:PATH | hf:PATH | openai:BASE_URL#MODEL | "
                                  "PATH (vLLM) | oracle | skip-abduction | prior"),
        suites: str = typer.Option("all", help=SUITES_HELP),
        modes: str = typer.Option("counterfactual,interventional", help=MODES_HELP),
        out: Path = typer.Option(Path("runs/eval"), "--out", "-o", help="Output directory."),
        label: str = typer.Option("", help="Name in tables (default: baseline or model directory name)."),
        limit: int | None = typer.Option(None, help="First N problems per suite and mode."),
        samples: int = typer.Option(1, help="Completions per problem."),
        max_tokens: int = typer.Option(1024),
        temperature: float = typer.Option(0.0),
        seed: int = typer.Option(0),
        sandbox: str = typer.Option("auto", help="Sandbox backend for baselines: auto | docker | local."),
        suites_dir: str | None = typer.Option(None, help="Directory of frozen suites (default: suites/)."),
        prompt_style: str | None = typer.Option(None, help="envs.render_prompt style."),
        question: str = typer.Option("predict", help="predict | abduce_predict (also state the consistent "
                                     "latent values: reports abduction accuracy beside exact match)."),
        reuse: Path | None = typer.Option(None, help="An earlier eval directory with the same generation "
                                          "settings: its (suite, mode) groups are re-scored, not generated."),
    ) -> None:
        """Evaluate a model or baseline per suite and mode: exact match, F1, format rate, length, 95% CIs."""
        try:
            cfg = _eval_config(model, label, suites, modes, limit, samples, max_tokens, temperature, seed,
                               sandbox, suites_dir, prompt_style, question)
            _check_inputs(cfg, out)
            earlier: list[SampleRecord] = []
            if reuse is not None:
                _check_eval_dir(reuse, samples=True)
                check_reusable(cfg, load_eval(reuse), where=f"--reuse {reuse}")
                earlier = load_samples(reuse if reuse.is_dir() else reuse.parent)
            result, records = evaluate(cfg, reuse=earlier)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
        with output_errors(out):
            save_eval(out, result, records)
        typer.echo(eval_markdown(result))
        typer.echo(f"wrote {out}/eval.json, samples.jsonl, eval.md, eval.png ({result.seconds:.1f}s)")

    @app.command("compare")
    @cli_errors()
    def compare_cmd(
        entries: list[str] = typer.Argument(..., help="Eval directories (from `cfcode eval`) or "
                                            "[LABEL=]SPEC to evaluate, e.g. base=hf:models/base sft=... oracle"),
        out: Path = typer.Option(Path("runs/compare"), "--out", "-o"),
        metric: str = typer.Option("exact_match", help="exact_match | f1 | format_rate | abduction_exact | "
                                   "abduction_f1"),
        suites: str = typer.Option("all", help=SUITES_HELP),
        modes: str = typer.Option("counterfactual,interventional", help=MODES_HELP),
        limit: int | None = typer.Option(None, help="First N problems per suite and mode."),
        samples: int = typer.Option(1),
        max_tokens: int = typer.Option(1024),
        temperature: float = typer.Option(0.0),
        seed: int = typer.Option(0),
        sandbox: str = typer.Option("auto"),
        suites_dir: str | None = typer.Option(None),
        prompt_style: str | None = typer.Option(None),
    ) -> None:
        """Base / SFT / RL (and baselines) side by side on in-distribution and every OOD suite."""
        try:
            base = _eval_config("", "", suites, modes, limit, samples, max_tokens, temperature, seed, sandbox,
                                suites_dir, prompt_style)
            _check_inputs(base, out)
            if metric not in COMPARE_METRICS:  # was found only after every entry had been evaluated
                raise InputError(f"expected one of {', '.join(COMPARE_METRICS)}, got {metric!r}", field="--metric")
            for entry in entries:
                path = Path(entry)
                if path.is_dir() or path.name == "eval.json":
                    _check_eval_dir(path, samples=False)
                elif not is_baseline(spec := parse_entry(entry)[1]):  # was evaluated in a child: its traceback
                    try:
                        check_engine_spec(spec)
                    except MissingInputError:
                        raise MissingInputError(f"expected an eval directory (holding {SUMMARY_FILE}) or [LABEL=]SPEC "
                                                f"of an existing model, got {entry!r}: no model directory at {spec!r}",
                                                field="ENTRIES") from None
            with output_errors(out):
                results = collect(entries, base, out)
                paths = write_comparison(out, results, metric)
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            _fail(str(exc))
        typer.echo(comparison_markdown(results, metric))
        typer.echo("wrote " + ", ".join(str(p) for p in paths))

    @app.command("analyze-traces")
    @cli_errors()
    def analyze_traces_cmd(
        evals: list[str] = typer.Argument(..., help="Eval directories holding samples.jsonl."),
        out: Path = typer.Option(Path("runs/traces"), "--out", "-o"),
        judge: str = typer.Option("", help="Optional LLM judge: openai:BASE_URL#MODEL."),
        judge_limit: int = typer.Option(20, help="Samples per model, suite and mode sent to the judge."),
        suites_dir: str | None = typer.Option(None),
    ) -> None:
        """Tag abduction / intervention / prediction steps in every completion; report per model."""
        for entry in evals:
            _check_eval_dir(Path(entry), samples=True)
        check_output_dir(out)
        check_outside_suites(out)
        try:
            with output_errors(out):
                stats = analyze_eval_dirs([Path(e) for e in evals], out, judge=judge or None,
                                          judge_limit=judge_limit, suites_dir=suites_dir)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
        typer.echo(traces_markdown(stats))
        typer.echo(f"wrote {out}/traces.json, traces.md")
