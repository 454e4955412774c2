"""`cfcode experiment CONFIG.toml`: generate -> (tiny model) -> SFT -> GRPO -> eval -> compare -> traces.

Why stages with fingerprints: the main job runs for minutes (CPU quickstart) to days (paper
configs), so an interruption must cost little. Each finished stage is recorded in `state.json` with a
fingerprint of the configuration it depends on; a re-run skips finished stages whose fingerprint
still matches, and SFT / GRPO continue from their latest checkpoint (the trainers resume by
themselves). Heavy stages (model build, training, model evaluation) run in a child process with
their output in `logs/<stage>.log`: each gets a fresh vLLM / torch state, memory is returned when it
ends, and the progress display stays readable.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from generators import MODES, InputError, MissingInputError, describe

STATE_FILE = "state.json"
REPORT_FILE = "REPORT.md"
MODEL_LABELS = ("base", "sft", "rl")


class ExperimentError(RuntimeError):
    """A stage failed or the configuration is invalid; the message says which and where to look."""


# ------------------------------------------------------------------------------------ config

@dataclass
class ExperimentSection:
    name: str = "experiment"
    out_dir: str = "runs/experiment"
    seed: int = 0
    sandbox: str = "auto"


@dataclass
class DataSection:
    """Training problems: generated here (`n_train` per mode), or an existing JSONL (`train_file`)."""

    family: str = "if_else"
    modes: list[str] = field(default_factory=lambda: ["counterfactual"])
    n_train: int = 5000
    level: int | None = None
    train_file: str = ""  # e.g. suites/train/if_else.counterfactual.jsonl; overrides generation


@dataclass
class ModelSection:
    """`base = "tiny"` builds a small random-weight model locally; `"smollm2"` or `"gguf:FILE"` converts
    a real GGUF model (rl.models); otherwise a checkpoint directory."""

    base: str = "tiny"
    tiny_seed: int = 0


@dataclass
class EvalSection:
    """EvalConfig's settings (same names, types and defaults), less what the runner sets (model, label,
    seed, sandbox), plus how checkpoints are served and which baselines run."""

    engine: str = "vllm"  # vllm | hf: how local checkpoints are served for evaluation
    suites: list[str] = field(default_factory=lambda: ["all"])
    modes: list[str] = field(default_factory=lambda: list(MODES))
    limit: int | None = None
    samples: int = 1
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    prompt_style: str | None = None
    suites_dir: str | None = None
    baselines: list[str] = field(default_factory=lambda: ["oracle", "skip-abduction", "prior"])
    engine_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareSection:
    metric: str = "exact_match"


@dataclass
class TracesSection:
    judge: str = ""  # optional openai:BASE_URL#MODEL
    judge_limit: int = 20


@dataclass
class ExperimentConfig:
    experiment: ExperimentSection
    data: DataSection
    model: ModelSection
    sft: dict[str, Any] | None  # SFTRunConfig fields (model / output_dir / train_file are filled in)
    grpo: dict[str, Any] | None  # GRPORunConfig fields, plus `init = "base" | "sft"`
    eval: EvalSection
    compare: CompareSection
    traces: TracesSection

    @property
    def out(self) -> Path:
        return Path(self.experiment.out_dir)


_SECTIONS: dict[str, type] = {"experiment": ExperimentSection, "data": DataSection, "model": ModelSection,
                              "eval": EvalSection, "compare": CompareSection, "traces": TracesSection}
_FILLED = ("model", "output_dir", "train_file")  # training keys the runner sets itself


Locate = Callable[[str], str]


def _locator(source: str, text: str | None, table: str) -> Locate:
    from rl.train_config import toml_locator

    return toml_locator(source, text, table) if text is not None else (lambda key: f"{source}: [{table}]")


def _section(cls: type, table: Any, name: str, locate: Locate) -> Any:
    from generators import build_dataclass

    return build_dataclass(cls, table, where=locate(""), locate=locate)


def _training_table(table: Any, name: str, extra: tuple[str, ...], locate: Locate,
                    base_dir: Path) -> dict[str, Any] | None:
    """None when the stage is disabled; validated early so a typo fails before hours of work. A table
    may `extends` a single-stage train config (configs/train/): its keys, less the ones the runner
    sets itself, under the table's own."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InputError(f"expected a table, got {describe(table)}", where=locate(""), field=name)
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InputError(f"expected true or false, got {describe(enabled)}", where=locate("enabled"),
                         field="enabled")
    if not enabled:
        return None
    from rl.train_config import GRPORunConfig, SFTRunConfig, resolve_extends

    own = set(table)
    table, locate = resolve_extends(table, name, base_dir, locate)
    table = {k: v for k, v in table.items() if k in own or k not in _FILLED}

    cls = SFTRunConfig if name == "sft" else GRPORunConfig
    body = {k: v for k, v in table.items() if k not in ("enabled", *extra)}
    clash = sorted(set(body) & set(_FILLED))
    if clash:
        raise InputError(f"{clash} are set by the experiment runner; remove them", where=locate(clash[0]))
    cls.from_dict({**body, "model": "placeholder"}, where=locate(""), locate=locate).check_paths(model=False)
    return {k: v for k, v in table.items() if k != "enabled"}


def parse_experiment(data: dict[str, Any], source: str = "<config>", text: str | None = None
                     ) -> ExperimentConfig:
    """Every table parsed into its dataclass by the one validator (types from the field annotations);
    `text` (the TOML source) lets errors name the line. Files the run needs are checked here too."""
    from generators import LEVELS, get_family

    unknown = sorted(set(data) - set(_SECTIONS) - {"sft", "grpo"})
    if unknown:
        raise InputError(f"unknown tables {unknown}; known: {sorted([*_SECTIONS, 'sft', 'grpo'])}", where=source)
    at = {name: _locator(source, text, name) for name in [*_SECTIONS, "sft", "grpo"]}
    sections = {name: _section(cls, data.get(name, {}), name, at[name]) for name, cls in _SECTIONS.items()}
    base_dir = Path(source).parent  # `extends` paths are relative to the experiment file
    sft = _training_table(data.get("sft"), "sft", (), at["sft"], base_dir)
    grpo = _training_table(data.get("grpo"), "grpo", ("init",), at["grpo"], base_dir)
    if grpo is not None and grpo.get("init", "base") not in ("base", "sft"):
        raise InputError("init must be 'base' or 'sft'", where=at["grpo"]("init"))
    if grpo is not None and grpo.get("init") == "sft" and sft is None:
        raise InputError("init = 'sft' needs an enabled [sft] stage", where=at["grpo"]("init"))
    dat: DataSection = sections["data"]
    get_family(dat.family)
    if not dat.modes or any(m not in MODES for m in dat.modes):
        raise InputError(f"expected a non-empty subset of {list(MODES)}, got {dat.modes}", where=at["data"]("modes"),
                         field="modes")
    if dat.level is not None and dat.level not in LEVELS:
        raise InputError(f"expected a level 1-5, got {dat.level}", where=at["data"]("level"), field="level")
    if dat.train_file:
        from rl.train_config import check_problem_file

        check_problem_file(dat.train_file, "[data] train_file")  # every record valid before any stage
    ev: EvalSection = sections["eval"]
    if ev.engine not in ("vllm", "hf"):
        raise InputError(f"engine must be 'vllm' or 'hf', got {ev.engine!r}", where=at["eval"]("engine"))
    from rl.baselines import BASELINES

    bad = [b for b in ev.baselines if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baselines {bad}; choose from {list(BASELINES)}",
                         where=at["eval"]("baselines"))
    if ev.suites_dir and not Path(ev.suites_dir).is_dir():
        raise MissingInputError(f"expected a directory of suites, got {ev.suites_dir!r} (no such directory)",
                                where=at["eval"]("suites_dir"), field="suites_dir")
    base = sections["model"].base
    if base not in ("tiny", "smollm2") and not base.startswith("gguf:") and not Path(base).exists():
        raise MissingInputError(f"base {base!r} is neither 'tiny' nor a directory "
                                "(nor 'smollm2' / 'gguf:FILE')", where=at["model"]("base"))
    if base.startswith("gguf:") and not Path(base[len("gguf:"):]).is_file():
        raise MissingInputError(f"base {base!r}: no such GGUF file", where=at["model"]("base"))
    return ExperimentConfig(sft=sft, grpo=grpo, **sections)


def load_experiment(path: str | Path) -> ExperimentConfig:
    from rl.train_config import read_toml

    data, text = read_toml(path)
    return parse_experiment(data, str(path), text)


# ------------------------------------------------------------------------------------ stages

@dataclass
class Stage:
    name: str
    title: str
    deps: tuple[str, ...]  # config sections the stage depends on (besides earlier stages)
    isolated: bool  # run in a child process (heavy: torch / vLLM)
    output_dirs: tuple[str, ...] = ()  # relative dirs wiped when the stage's inputs change


def plan_stages(cfg: ExperimentConfig) -> list[Stage]:
    stages = [Stage("data", "generate training problems", ("experiment", "data"), False, ("data",))]
    if cfg.model.base == "tiny":
        stages.append(Stage("model", "build the tiny base model", ("model",), True, ("models/base",)))
    elif _converts(cfg.model.base):
        stages.append(Stage("model", "convert the GGUF base model", ("model",), True, ("models/base",)))
    if cfg.sft is not None:
        stages.append(Stage("sft", "SFT on reasoning traces", ("model", "sft"), True, ("models/sft",)))
    if cfg.grpo is not None:
        stages.append(Stage("grpo", "GRPO with verifier rewards", ("model", "grpo"), True, ("models/rl",)))
    for label in _model_labels(cfg):
        stages.append(Stage(f"eval:{label}", f"evaluate {label}", ("model", "eval"), True, (f"eval/{label}",)))
    for name in cfg.eval.baselines:
        stages.append(Stage(f"eval:{name}", f"evaluate baseline {name}", ("eval",), False, (f"eval/{name}",)))
    stages += [Stage("compare", "compare side by side", ("compare",), False, ("compare",)),
               Stage("traces", "analyse reasoning traces", ("traces",), False, ("traces",)),
               Stage("report", "write the report", (), False)]
    return stages


def _model_labels(cfg: ExperimentConfig) -> list[str]:
    return ["base"] + (["sft"] if cfg.sft is not None else []) + (["rl"] if cfg.grpo is not None else [])


def _fingerprints(cfg: ExperimentConfig, stages: list[Stage]) -> dict[str, str]:
    """Each stage's fingerprint covers its own sections and every earlier stage (a linear pipeline)."""
    raw = asdict(cfg)
    raw["experiment"] = {"seed": cfg.experiment.seed}  # name, out_dir and sandbox change no result
    out, prev = {}, ""
    for st in stages:
        body = json.dumps({"stage": st.name, "prev": prev, **{d: raw[d] for d in st.deps}}, sort_keys=True,
                          default=repr)
        prev = out[st.name] = hashlib.sha256(body.encode()).hexdigest()[:16]
    return out


@dataclass
class Context:
    cfg: ExperimentConfig
    outputs: dict[str, dict[str, Any]]  # finished stage -> its outputs
    _sandbox: Any = None

    @property
    def out(self) -> Path:
        return self.cfg.out

    def sandbox(self):
        if self._sandbox is None:
            from sandbox import make_sandbox

            self._sandbox = make_sandbox(self.cfg.experiment.sandbox, allow_local_fallback=False)  # runs eval too
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None


def _stage_data(ctx: Context) -> dict[str, Any]:
    from generators import generate, write_problems

    d = ctx.cfg.data
    if d.train_file:
        if not Path(d.train_file).is_file():
            raise ExperimentError(f"[data] train_file {d.train_file} does not exist")
        return {"train_file": str(Path(d.train_file).resolve()), "generated": 0}
    problems = []
    for mode in d.modes:
        problems += generate(d.family, mode, d.n_train, ctx.cfg.experiment.seed, level=d.level, split="train",
                             sandbox=ctx.sandbox())
    path = write_problems(ctx.out / "data" / "train.jsonl", problems)
    return {"train_file": str(path.resolve()), "generated": len(problems)}


def _converts(base: str) -> bool:
    return base == "smollm2" or base.startswith("gguf:")


def _stage_model(ctx: Context) -> dict[str, Any]:
    from generators import load_problems

    if _converts(ctx.cfg.model.base):
        from rl.models import convert_gguf, smollm2_gguf

        src = smollm2_gguf() if ctx.cfg.model.base == "smollm2" else Path(ctx.cfg.model.base[len("gguf:"):])
        shutil.rmtree(ctx.out / "models" / "base", ignore_errors=True)
        return {"path": str(convert_gguf(src, ctx.out / "models" / "base").resolve())}
    from rl.tiny_model import build_tiny_model

    problems = load_problems(ctx.outputs["data"]["train_file"])
    corpus = [t for p in problems for t in (p.prompt, p.gold_trace) if t]
    path = build_tiny_model(ctx.out / "models" / "base", corpus=corpus, seed=ctx.cfg.model.tiny_seed)
    return {"path": str(Path(path).resolve())}


def _base_path(ctx: Context) -> str:
    return ctx.outputs["model"]["path"] if "model" in ctx.outputs else str(Path(ctx.cfg.model.base).resolve())


def _train_kwargs(ctx: Context, table: dict[str, Any], init: str, out_name: str) -> dict[str, Any]:
    body = {k: v for k, v in table.items() if k != "init"}
    body.setdefault("seed", ctx.cfg.experiment.seed)
    return {**body, "model": init, "output_dir": str((ctx.out / "models" / out_name).resolve()),
            "train_file": ctx.outputs["data"]["train_file"]}


def _training_outputs(result: Any, output_dir: str) -> dict[str, Any]:
    """Final model path plus whether this run resumed from a checkpoint (from the run summary)."""
    from rl.checkpoints import read_summary

    final = getattr(result, "final_dir", result)
    out: dict[str, Any] = {"path": str(Path(final).resolve())}
    try:
        summary = read_summary(output_dir)
    except (OSError, ValueError, TypeError):
        return out
    return {**out, "global_step": summary.global_step, "steps_this_run": summary.steps_this_run,
            "resumed_from": summary.resumed_from or ""}


def _stage_sft(ctx: Context) -> dict[str, Any]:
    from rl.sft import run_sft
    from rl.train_config import SFTRunConfig

    cfg = SFTRunConfig.from_dict(_train_kwargs(ctx, ctx.cfg.sft or {}, _base_path(ctx), "sft"))
    return _training_outputs(run_sft(cfg), cfg.output_dir)


def _stage_grpo(ctx: Context) -> dict[str, Any]:
    from rl.grpo import run_grpo
    from rl.train_config import GRPORunConfig

    table = ctx.cfg.grpo or {}
    init = ctx.outputs["sft"]["path"] if table.get("init", "base") == "sft" else _base_path(ctx)
    cfg = GRPORunConfig.from_dict(_train_kwargs(ctx, table, init, "rl"))
    return _training_outputs(run_grpo(cfg), cfg.output_dir)


def _eval_config(ctx: Context, label: str, model: str):
    from rl.evaluation import EvalConfig

    # [eval] holds EvalConfig's own fields (tests/rl_eval/test_config_surface.py), passed on as they are
    settings = {k: v for k, v in asdict(ctx.cfg.eval).items() if k in {f.name for f in fields(EvalConfig)}}
    return EvalConfig(model=model, label=label, seed=ctx.cfg.experiment.seed, sandbox=ctx.cfg.experiment.sandbox,
                      **settings)


def _stage_eval(ctx: Context, label: str) -> dict[str, Any]:
    from rl.evaluation import evaluate, save_eval

    if label in MODEL_LABELS:
        path = {"base": _base_path(ctx), "sft": ctx.outputs.get("sft", {}).get("path"),
                "rl": ctx.outputs.get("grpo", {}).get("path")}[label]
        cfg, sandbox = _eval_config(ctx, label, f"{ctx.cfg.eval.engine}:{path}"), None
    else:
        cfg, sandbox = _eval_config(ctx, label, label), ctx.sandbox()
    result, records = evaluate(cfg, sandbox=sandbox)
    out = save_eval(ctx.out / "eval" / label, result, records)
    return {"dir": str(out.resolve()), "seconds": result.seconds}


def _eval_dirs(ctx: Context) -> list[Path]:
    """Evaluation directories in stage order: models (base, sft, rl), then baselines."""
    names = [st.name for st in plan_stages(ctx.cfg) if st.name.startswith("eval:")]
    return [Path(ctx.outputs[n]["dir"]) for n in names if n in ctx.outputs]


def _stage_compare(ctx: Context) -> dict[str, Any]:
    from rl.compare import write_comparison
    from rl.evaluation import load_eval

    results = [load_eval(d) for d in _eval_dirs(ctx)]
    paths = write_comparison(ctx.out / "compare", results, ctx.cfg.compare.metric)
    return {"files": [str(p) for p in paths]}


def _stage_traces(ctx: Context) -> dict[str, Any]:
    from rl.trace_analysis import analyze_eval_dirs

    t = ctx.cfg.traces
    analyze_eval_dirs(_eval_dirs(ctx), ctx.out / "traces", judge=t.judge or None, judge_limit=t.judge_limit,
                      suites_dir=ctx.cfg.eval.suites_dir)
    return {"dir": str((ctx.out / "traces").resolve())}


def _demote(markdown: str) -> str:
    """Nest a sub-report's headings one level below the report's own sections."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def _stage_report(ctx: Context) -> dict[str, Any]:
    from rl.report import COMPARE_MD, COMPARE_PNG
    from rl.trace_analysis import TRACES_MD

    recorded = _read_state(ctx.out).get("stages", {})
    lines = [f"# Experiment report: {ctx.cfg.experiment.name}", "",
             ("Configuration: `config.toml`. Stage logs: `logs/`. Per-model evaluations: `eval/<label>/` "
              "(eval.json, eval.md, eval.png, samples.jsonl)."), "",
             "| stage | seconds | outputs |", "|---|---:|---|"]
    for st in plan_stages(ctx.cfg):
        rec = recorded.get(st.name)
        if rec is None:
            continue
        outs = ", ".join(f"{k}={v}" for k, v in rec.get("outputs", {}).items() if not isinstance(v, list))
        lines.append(f"| {st.name} | {rec.get('seconds', 0):.1f} | {outs} |")
    lines += ["", "Baselines (no model): `oracle` enumerates the latent domain in the sandbox (always 100%), "
              "`skip-abduction` guesses the latent instead of inferring it (its counterfactual-vs-interventional "
              "gap is the price of skipping abduction), `prior` lists every reachable output (ignores the "
              "observation).", "", f"![comparison](compare/{COMPARE_PNG})", ""]
    compare_md = ctx.out / "compare" / COMPARE_MD
    if compare_md.is_file():
        lines += [_demote(compare_md.read_text(encoding="utf-8")), ""]
        if ctx.cfg.compare.metric != "format_rate":  # tiny or weak models: does the answer even parse?
            from rl.evaluation import load_eval
            from rl.report import comparison_markdown

            results = [load_eval(d) for d in _eval_dirs(ctx)]
            lines += [_demote(comparison_markdown(results, "format_rate")).replace(
                "## Comparison", "## Format rate", 1), ""]
    from rl.report import learning_curves_markdown

    runs = {kind: ctx.out / "models" / d for kind, d in (("sft", "sft"), ("grpo", "rl"))
            if (ctx.out / "models" / d).is_dir()}
    curves = learning_curves_markdown(runs, ctx.out / "curves", ctx.out)
    if curves:
        lines += [_demote(curves), ""]
    traces_md = ctx.out / "traces" / TRACES_MD
    if traces_md.is_file():
        lines += [_demote(traces_md.read_text(encoding="utf-8")), ""]
    path = ctx.out / REPORT_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return {"report": str(path.resolve())}


_RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "data": _stage_data, "model": _stage_model, "sft": _stage_sft, "grpo": _stage_grpo,
    "compare": _stage_compare, "traces": _stage_traces, "report": _stage_report,
}


def _run_stage(name: str, ctx: Context) -> dict[str, Any]:
    if name.startswith("eval:"):
        return _stage_eval(ctx, name.split(":", 1)[1])
    return _RUNNERS[name](ctx)


# ------------------------------------------------------------------------- child processes

def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the runner dies, so no training outlives an interruption."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_main(job_path: str) -> None:
    """`python -m rl.experiment JOB.json`: run one stage; write its outputs next to the job file."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    _die_with_parent()
    if os.getppid() != job["parent"]:  # the runner died before the line above took effect
        raise SystemExit("the experiment runner is gone; not starting the stage")
    cfg = parse_experiment(job["config"], "<stage job>")
    ctx = Context(cfg, job["outputs"])
    try:
        result = _run_stage(job["stage"], ctx)
    finally:
        ctx.close()
    Path(job["result"]).write_text(json.dumps(result), encoding="utf-8")


def _tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _last_line(path: Path) -> str:
    lines = [ln for ln in _tail(path, 5).splitlines() if ln.strip()]
    return lines[-1][:100] if lines else ""


def _run_isolated(name: str, ctx: Context, on_tick: Callable[[str], None]) -> dict[str, Any]:
    """Run a stage in a fresh interpreter (not multiprocessing: no re-import of the caller's __main__)."""
    import subprocess
    import sys

    logs = ctx.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    safe = name.replace(":", "_")
    log_path, job_path, result_path = logs / f"{safe}.log", logs / f".{safe}.job.json", logs / f".{safe}.result.json"
    result_path.unlink(missing_ok=True)
    job_path.write_text(json.dumps({"stage": name, "config": asdict(ctx.cfg), "outputs": ctx.outputs,
                                    "result": str(result_path), "parent": os.getpid()}, default=str),
                        encoding="utf-8")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n===== {name} started {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n")
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "rl.experiment", str(job_path)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            while proc.poll() is None:
                try:
                    proc.wait(0.5)
                except subprocess.TimeoutExpired:
                    pass
                on_tick(_last_line(log_path))
        except BaseException:  # KeyboardInterrupt / SystemExit: stop the child before leaving
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    if proc.returncode != 0 or not result_path.is_file():
        raise ExperimentError(f"stage {name} failed (exit code {proc.returncode}); log: {log_path}\n"
                              f"{_tail(log_path)}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result_path.unlink()
    job_path.unlink(missing_ok=True)
    return result


# ------------------------------------------------------------------------------------ state

def _read_state(out: Path) -> dict[str, Any]:
    path = out / STATE_FILE
    if not path.is_file():
        return {"stages": {}, "started": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExperimentError(f"{path} is corrupt ({exc}); delete it or run with --fresh") from exc


def _write_state(out: Path, state: dict[str, Any]) -> None:
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, out / STATE_FILE)


def _wipe(out: Path, rels: tuple[str, ...]) -> None:
    for rel in rels:
        shutil.rmtree(out / rel, ignore_errors=True)


def _outputs_present(rec: dict[str, Any]) -> bool:
    """A recorded stage counts as done only if the files it produced are still there."""
    paths = [v for k, v in rec.get("outputs", {}).items() if k in ("path", "dir", "train_file", "report")]
    return all(Path(p).exists() for p in paths)


# ------------------------------------------------------------------------------------ runner

@dataclass
class StageEvent:
    """What the progress display is told: a stage started, ticked, finished or was skipped."""

    stage: Stage
    kind: str  # "skip" | "start" | "tick" | "done"
    detail: str = ""
    seconds: float = 0.0


def run_stages(cfg: ExperimentConfig, *, fresh: bool = False,
               on_event: Callable[[StageEvent], None] = lambda e: None) -> Path:
    """Run every stage that is not finished with the current configuration; return the report path."""
    out = cfg.out
    stages = plan_stages(cfg)
    if fresh:
        _wipe(out, tuple(d for st in stages for d in st.output_dirs) + ("logs",))
        (out / STATE_FILE).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    fps = _fingerprints(cfg, stages)
    state = _read_state(out)
    state["stages"] = {k: v for k, v in state.get("stages", {}).items() if k in fps}
    ctx = Context(cfg, {})
    try:
        for st in stages:
            rec = state["stages"].get(st.name)
            if rec and rec.get("fingerprint") == fps[st.name] and _outputs_present(rec):
                ctx.outputs[st.name] = rec["outputs"]
                on_event(StageEvent(st, "skip", seconds=rec.get("seconds", 0.0)))
                continue
            started = state.setdefault("started", {}).get(st.name)
            if rec or (started and started != fps[st.name]):
                _wipe(out, st.output_dirs)  # inputs changed: stale checkpoints must not be resumed
            state["stages"].pop(st.name, None)
            state["started"][st.name] = fps[st.name]
            _write_state(out, state)
            on_event(StageEvent(st, "start"))
            t0 = time.perf_counter()
            if st.isolated:
                result = _run_isolated(st.name, ctx, lambda line, st=st: on_event(StageEvent(st, "tick", line)))
            else:
                try:
                    result = _run_stage(st.name, ctx)
                except ExperimentError:
                    raise
                except Exception as exc:
                    raise ExperimentError(f"stage {st.name} failed: {type(exc).__name__}: {exc}") from exc
            seconds = round(time.perf_counter() - t0, 3)
            ctx.outputs[st.name] = result
            state["stages"][st.name] = {"fingerprint": fps[st.name], "outputs": result, "seconds": seconds}
            _write_state(out, state)
            on_event(StageEvent(st, "done", seconds=seconds))
    finally:
        ctx.close()
    return Path(ctx.outputs["report"]["report"])


def run_experiment(cfg: ExperimentConfig, *, fresh: bool = False, config_text: str | None = None) -> Path:
    """`run_stages` with a rich progress display (one row per stage, elapsed time, last log line)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        (cfg.out / "config.toml").write_text(config_text, encoding="utf-8")
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  TextColumn("[dim]{task.fields[detail]}"), console=console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def on_event(ev: StageEvent) -> None:
            name = ev.stage.name
            if ev.kind == "skip":
                progress.add_task(f"[green]✓[/] {name}: {ev.stage.title} [dim](done earlier)", total=1,
                                  completed=1, detail="", start=False)
            elif ev.kind == "start":
                tasks[name] = progress.add_task(f"{name}: {ev.stage.title}", total=1, detail="")
            elif ev.kind == "tick":
                progress.update(tasks[name], detail=ev.detail)
            elif ev.kind == "done":
                progress.update(tasks[name], completed=1, detail="",
                                description=f"[green]✓[/] {name}: {ev.stage.title}")
                progress.stop_task(tasks[name])

        report = run_stages(cfg, fresh=fresh, on_event=on_event)
    console.print(f"experiment {cfg.experiment.name} finished in {time.perf_counter() - t0:.1f}s: {report}")
    return report


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m rl.experiment STAGE_JOB.json (internal: run by `cfcode experiment`)")
    _child_main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: vLLM / torch atexit hooks can hang on CPU
