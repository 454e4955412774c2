"""The stages of an experiment (generate, model, SFT, GRPO, eval, compare, traces, report), each
with a fingerprint of the configuration it depends on, and what each one does."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from generators import generate, load_problems, write_problems
from rl.evaluation.compare import write_comparison
from rl.evaluation.evaluate import EvalConfig, evaluate, load_eval, save_eval
from rl.evaluation.report import COMPARE_MD, COMPARE_PNG, comparison_markdown
from rl.evaluation.trace_analysis import TRACES_MD, analyze_eval_dirs
from rl.experiment.config import ExperimentConfig, ExperimentError
from rl.inference.models import convert_gguf, smollm2_gguf
from rl.training.checkpoints import read_summary
from rl.training.config import GRPORunConfig, SFTRunConfig
from rl.training.curves import learning_curves_markdown
from rl.training.grpo import run_grpo
from rl.training.sft import run_sft
from rl.training.tiny_model import build_tiny_model
from sandbox import make_sandbox

STATE_FILE = "state.json"
REPORT_FILE = "REPORT.md"
MODEL_LABELS = ("base", "sft", "rl")


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


def fingerprints(cfg: ExperimentConfig, stages: list[Stage]) -> dict[str, str]:
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
            self._sandbox = make_sandbox(self.cfg.experiment.sandbox, allow_local_fallback=False)  # runs eval too
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None


def _stage_data(ctx: Context) -> dict[str, Any]:
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
    if _converts(ctx.cfg.model.base):
        src = smollm2_gguf() if ctx.cfg.model.base == "smollm2" else Path(ctx.cfg.model.base[len("gguf:"):])
        shutil.rmtree(ctx.out / "models" / "base", ignore_errors=True)
        return {"path": str(convert_gguf(src, ctx.out / "models" / "base").resolve())}

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
    final = getattr(result, "final_dir", result)
    out: dict[str, Any] = {"path": str(Path(final).resolve())}
    try:
        summary = read_summary(output_dir)
    except (OSError, ValueError, TypeError):
        return out
    return {**out, "global_step": summary.global_step, "steps_this_run": summary.steps_this_run,
            "resumed_from": summary.resumed_from or ""}


def _stage_sft(ctx: Context) -> dict[str, Any]:
    cfg = SFTRunConfig.from_dict(_train_kwargs(ctx, ctx.cfg.sft or {}, _base_path(ctx), "sft"))
    return _training_outputs(run_sft(cfg), cfg.output_dir)


def _stage_grpo(ctx: Context) -> dict[str, Any]:
    table = ctx.cfg.grpo or {}
    init = ctx.outputs["sft"]["path"] if table.get("init", "base") == "sft" else _base_path(ctx)
    cfg = GRPORunConfig.from_dict(_train_kwargs(ctx, table, init, "rl"))
    return _training_outputs(run_grpo(cfg), cfg.output_dir)


def _eval_config(ctx: Context, label: str, model: str):
    # [eval] holds EvalConfig's own fields (tests/rl/evaluation/test_config_surface.py), passed on as they are
    settings = {k: v for k, v in asdict(ctx.cfg.eval).items() if k in {f.name for f in fields(EvalConfig)}}
    return EvalConfig(model=model, label=label, seed=ctx.cfg.experiment.seed, sandbox=ctx.cfg.experiment.sandbox,
                      **settings)


def _stage_eval(ctx: Context, label: str) -> dict[str, Any]:
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
    results = [load_eval(d) for d in _eval_dirs(ctx)]
    paths = write_comparison(ctx.out / "compare", results, ctx.cfg.compare.metric)
    return {"files": [str(p) for p in paths]}


def _stage_traces(ctx: Context) -> dict[str, Any]:
    t = ctx.cfg.traces
    analyze_eval_dirs(_eval_dirs(ctx), ctx.out / "traces", judge=t.judge or None, judge_limit=t.judge_limit,
                      suites_dir=ctx.cfg.eval.suites_dir)
    return {"dir": str((ctx.out / "traces").resolve())}


def _demote(markdown: str) -> str:
    """Nest a sub-report's headings one level below the report's own sections."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def _stage_report(ctx: Context) -> dict[str, Any]:
    recorded = read_state(ctx.out).get("stages", {})
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

            results = [load_eval(d) for d in _eval_dirs(ctx)]
            lines += [_demote(comparison_markdown(results, "format_rate")).replace(
                "## Comparison", "## Format rate", 1), ""]

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


def run_stage(name: str, ctx: Context) -> dict[str, Any]:
    if name.startswith("eval:"):
        return _stage_eval(ctx, name.split(":", 1)[1])
    return _RUNNERS[name](ctx)


# ------------------------------------------------------------------------------------ state

def read_state(out: Path) -> dict[str, Any]:
    path = out / STATE_FILE
    if not path.is_file():
        return {"stages": {}, "started": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExperimentError(f"{path} is corrupt ({exc}); delete it or run with --fresh") from exc


def write_state(out: Path, state: dict[str, Any]) -> None:
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, out / STATE_FILE)


def wipe_outputs(out: Path, rels: tuple[str, ...]) -> None:
    for rel in rels:
        shutil.rmtree(out / rel, ignore_errors=True)


def outputs_present(rec: dict[str, Any]) -> bool:
    """A recorded stage counts as done only if the files it produced are still there."""
    paths = [v for k, v in rec.get("outputs", {}).items() if k in ("path", "dir", "train_file", "report")]
    return all(Path(p).exists() for p in paths)
