"""Evaluate one policy (a model engine or a no-model baseline) on frozen suites, per suite and mode.

Why one function for models and baselines: both produce completions in the same text format and go
through the same env scorer, so a baseline's numbers are directly comparable with a model's.
Outputs per run: `eval.json` (summary), `samples.jsonl` (every completion and its score, input to
trace analysis), `eval.md` and `eval.png` (written by rl.evaluation.report).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import envs
from envs import check_question, score_batch
from generators import MODES, InputError, Problem, check_fields, check_ranges, describe, staged_dir
from rl.evaluation.baselines import BaselinePolicy, is_baseline
from rl.evaluation.metrics import Estimate, bootstrap_mean
from rl.evaluation.report import write_eval_report
from rl.evaluation.suite_selection import load_named_suites
from rl.inference.engines import Completion, SamplingConfig, make_engine
from sandbox import make_sandbox

SUMMARY_FILE = "eval.json"
SAMPLES_FILE = "samples.jsonl"
TIMING_FILE = "timing.json"
METRICS: tuple[str, ...] = ("exact_match", "f1", "format_rate", "mean_length")
# EvalConfig fields that do not decide what a completion is (which groups, names, scoring, serving);
# every other field must match for an earlier run's completions to be reused, new fields included.
REUSE_FREE: frozenset[str] = frozenset({"suites", "modes", "label", "reward", "sandbox", "bootstrap_resamples",
                                        "engine_kwargs"})
ABDUCTION_METRICS: tuple[str, ...] = ("abduction_exact", "abduction_f1")
MAX_SAMPLES = 1024  # completions per problem (pass@k papers use up to a few hundred)
MAX_RESAMPLES = 100_000  # bootstrap resamples (1000 is the default; 10**9 ran out of memory after the eval)


@dataclass
class EvalConfig:
    """What to evaluate and how; every field is recorded in eval.json so runs are reproducible."""

    model: str  # engine spec ("vllm:PATH", "hf:PATH", "openai:URL#MODEL", a bare path) or a baseline
    suites: list[str] = field(default_factory=lambda: ["all"])
    modes: list[str] = field(default_factory=lambda: list(MODES))
    label: str = ""  # name in tables; defaults to the baseline name or the model's directory name
    limit: int | None = None  # first N problems per suite and mode (None: all)
    samples: int = 1  # completions per problem; metrics average them per problem first
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    prompt_style: str | None = None  # envs.render_prompt style; None: the env's default
    reward: str = "exact"
    question: str = "predict"  # or "abduce_predict": also state the consistent latents (abduction accuracy)
    sandbox: str = "auto"
    suites_dir: str | None = None  # directory of frozen suites; None: the generators' default
    bootstrap_resamples: int = 1000
    engine_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to rl.inference.engines.make_engine

    def __post_init__(self) -> None:
        """Ranges a type cannot say, checked before any engine loads (a negative seed failed only in the
        bootstrap, after every completion was generated; NaN or negative temperatures went to the engine)."""
        check_ranges(self, at_least_1=("limit", "samples", "max_tokens", "bootstrap_resamples"), seeds=("seed",),
                     non_negative=("temperature",), probabilities=("top_p",))
        if self.samples > MAX_SAMPLES:  # 10**9 passed: a baseline built 10**9 completions per problem (OOM)
            raise ValueError(f"samples must be at most {MAX_SAMPLES} (completions per problem), got {self.samples}")
        if self.bootstrap_resamples > MAX_RESAMPLES:  # the bootstrap holds resamples x problems indices
            raise ValueError(f"bootstrap_resamples must be at most {MAX_RESAMPLES}, got {self.bootstrap_resamples}")

    def display_label(self) -> str:
        if self.label:
            return self.label

        if is_baseline(self.model):
            return self.model
        tail = self.model.split("#")[-1].rstrip("/")
        path = Path(tail.split(":", 1)[-1])
        if path.name == "final" or path.name.startswith("checkpoint-"):  # runs/sft/final -> sft-final
            return f"{path.parent.name}-{path.name}"
        return path.name or tail


@dataclass
class SampleRecord:
    """One scored completion."""

    suite: str
    mode: str
    problem_id: str
    sample: int
    text: str
    n_tokens: int
    finish_reason: str
    reward: float | None
    correct: bool
    f1: float
    format_ok: bool
    parsed_answer: Any
    gold: Any
    verifier_error: str | None
    abduction_correct: bool | None = None  # question "abduce_predict" only
    abduction_f1: float | None = None
    # what the completion answered (the problem record and its rendered prompt): --reuse takes a completion
    # only for the same question, not for whatever now holds its id (suites regenerated in place)
    problem_sha256: str = ""


@dataclass
class GroupMetrics:
    """Metrics of one (suite, mode) group with 95% bootstrap intervals over problems."""

    suite: str
    mode: str
    n_problems: int
    n_samples: int
    exact_match: Estimate
    f1: Estimate
    format_rate: Estimate
    mean_length: Estimate
    verifier_errors: int
    truncated: int
    abduction_exact: Estimate | None = None  # question "abduce_predict": stated latent set == consistent set
    abduction_f1: Estimate | None = None
    # sha256 of the group's problems (their SampleRecord.problem_sha256, sorted): compare refuses groups of
    # two evals that were asked different questions ("" in eval.json files from before it was recorded)
    problems_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for m in METRICS:
            out[m] = getattr(self, m).to_dict()
        for m in ABDUCTION_METRICS:  # absent unless measured: predict-only eval.json stays as it was
            value = getattr(self, m)
            if value is None:
                out.pop(m)
            else:
                out[m] = value.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupMetrics:
        kw = dict(data)
        for m in METRICS:
            kw[m] = Estimate.from_dict(data[m])
        for m in ABDUCTION_METRICS:
            if data.get(m) is not None:
                kw[m] = Estimate.from_dict(data[m])
        return cls(**kw)


@dataclass
class EvalResult:
    label: str
    model: str
    config: dict[str, Any]
    groups: list[GroupMetrics]
    seconds: float = 0.0
    model_sha256: str = ""  # model_fingerprint(model): what --reuse checks beside the settings

    def group(self, suite: str, mode: str) -> GroupMetrics | None:
        return next((g for g in self.groups if g.suite == suite and g.mode == mode), None)

    def to_dict(self) -> dict[str, Any]:
        """Timing is left out so the same seed gives a byte-identical eval.json (see timing.json)."""
        return {"label": self.label, "model": self.model, "config": self.config,
                "groups": [g.to_dict() for g in self.groups], "model_sha256": self.model_sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> EvalResult:
        """An eval.json's content, every field checked (InputError naming `where` and the field path): a
        label that is a number or a group that is not a table was a traceback in compare or traces."""
        if not isinstance(data, dict):
            raise InputError(f"expected a JSON object (an eval.json written by `cfcode eval`), got "
                             f"{describe(data)}", where=where)
        check_fields(_EvalFile, data, where=where, what="field")
        check_fields(EvalConfig, data["config"], where=where, what="field", prefix="config.")
        groups = []
        for i, group in enumerate(data["groups"]):
            prefix = f"groups[{i}]."
            kw = dict(check_fields(_GroupFile, group, where=where, what="field", prefix=prefix))
            if kw["mode"] not in MODES:
                raise InputError(f"expected one of {list(MODES)}, got {describe(kw['mode'])}", where=where,
                                 field=prefix + "mode")
            for m in (*METRICS, *ABDUCTION_METRICS):
                if kw.get(m) is not None:
                    kw[m] = Estimate(**check_fields(Estimate, kw[m], where=where, what="field",
                                                    prefix=f"{prefix}{m}."))
            groups.append(GroupMetrics(**kw))
        return cls(label=data["label"], model=data["model"], config=data["config"], groups=groups,
                   model_sha256=data.get("model_sha256", ""))


@dataclass
class _EvalFile:
    """The shape of eval.json (EvalResult.to_dict), for its reader's checks."""

    label: str
    model: str
    config: dict[str, Any]
    groups: list[Any]
    seconds: float = 0.0
    model_sha256: str = ""


@dataclass
class _GroupFile:
    """The shape of one eval.json group (GroupMetrics.to_dict): estimates are tables, checked next."""

    suite: str
    mode: str
    n_problems: int
    n_samples: int
    exact_match: dict[str, Any]
    f1: dict[str, Any]
    format_rate: dict[str, Any]
    mean_length: dict[str, Any]
    verifier_errors: int
    truncated: int
    abduction_exact: dict[str, Any] | None = None
    abduction_f1: dict[str, Any] | None = None
    problems_sha256: str = ""


# ---------------------------------------------------------------------------------------- suites

def load_eval_problems(cfg: EvalConfig) -> dict[tuple[str, str], list[Problem]]:
    """(suite, mode) -> problems, in suite order, the first `limit` of each group."""
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"limit must be >= 1, got {cfg.limit}")
    groups = {(suite, mode): problems[:cfg.limit] if cfg.limit else problems
              for suite, mode, problems in load_named_suites(cfg.suites, cfg.modes, cfg.suites_dir)}
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        raise ValueError(f"no problems found for suites {cfg.suites} and modes {cfg.modes}")
    return groups


# -------------------------------------------------------------------------------------- policies

Completer = Callable[[Sequence[Problem]], list[list[Any]]]  # problems -> per problem, list of Completion


def _baseline_completer(cfg: EvalConfig, sandbox) -> Completer:
    policy = BaselinePolicy(cfg.model, sandbox, seed=cfg.seed, question=cfg.question)

    def complete(problems: Sequence[Problem]) -> list[list[Any]]:
        return [[c] * cfg.samples for c in policy.complete(problems)]  # deterministic: one is enough

    return complete


def _prompt(problem: Problem, cfg: EvalConfig) -> Any:
    return (envs.render_prompt(problem, cfg.prompt_style, question=cfg.question) if cfg.prompt_style
            else envs.render_prompt(problem, question=cfg.question))


def problem_fingerprint(problem: Problem, cfg: EvalConfig) -> str:
    """sha256 of the problem record and the prompt a model is shown for it (SampleRecord.problem_sha256)."""
    text = problem.to_json() + "\0" + json.dumps(_prompt(problem, cfg), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _engine_completer(cfg: EvalConfig, engine) -> Completer:
    sampling = SamplingConfig(n=cfg.samples, max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                              top_p=cfg.top_p, seed=cfg.seed)

    def complete(problems: Sequence[Problem]) -> list[list[Any]]:
        return engine.generate([_prompt(p, cfg) for p in problems], sampling)

    return complete


def engine_spec(model: str) -> str:
    """Check a local model path before any engine starts (a missing path must not become a hub lookup)."""
    kind, sep, rest = model.partition(":")
    path = rest if sep and kind in ("vllm", "hf") else (model if not sep else "")
    if path and (Path(path).is_absolute() or path.startswith((".", "~"))) and not Path(path).expanduser().exists():
        raise FileNotFoundError(f"no model directory at {path!r} (specs: vllm:PATH, hf:PATH, "
                                f"openai:BASE_URL#MODEL, or a baseline: oracle, skip-abduction, prior)")
    return model


# ------------------------------------------------------------------------------------ evaluation

def _score_all(groups: dict[tuple[str, str], list[Problem]], completions: list[list[Any]],
               cfg: EvalConfig, sandbox=None) -> list[SampleRecord]:
    """Score through the env's verifier, one batch for everything (its sandbox work goes out packed)."""
    flat = [(key, p) for key, problems in groups.items() for p in problems]
    if len(flat) != len(completions):
        raise RuntimeError(f"the policy returned {len(completions)} completion lists for {len(flat)} prompts")
    rows = [(key, p, i, c) for (key, p), samples in zip(flat, completions) for i, c in enumerate(samples)]
    scores = score_batch([p for _, p, _, _ in rows], [c.text for _, _, _, c in rows], reward=cfg.reward,
                         sandbox=sandbox, question=cfg.question, sandbox_backend=cfg.sandbox)
    abduce = cfg.question == "abduce_predict"
    fingerprints = {(p.id, key): problem_fingerprint(p, cfg) for key, p in flat}
    return [SampleRecord(suite=key[0], mode=key[1], problem_id=p.id, sample=i, text=c.text,
                         n_tokens=int(c.n_tokens), finish_reason=str(c.finish_reason), reward=s.reward,
                         correct=bool(s.correct), f1=float(s.f1), format_ok=bool(s.format_ok),
                         parsed_answer=s.parsed_answer, gold=s.gold, verifier_error=s.verifier_error,
                         abduction_correct=bool(getattr(s, "abduction_correct", False)) if abduce else None,
                         abduction_f1=float(getattr(s, "abduction_f1", 0.0)) if abduce else None,
                         problem_sha256=fingerprints[p.id, key])
            for (key, p, i, c), s in zip(rows, scores)]


def problems_fingerprint(keys: Iterable[str]) -> str:
    """GroupMetrics.problems_sha256 from its problems' problem_sha256: which problems a group measured,
    whatever their order ("" if one is unknown)."""
    keys = sorted(keys)
    return "" if not keys or "" in keys else hashlib.sha256("\n".join(keys).encode()).hexdigest()


def summarize(records: Sequence[SampleRecord], *, seed: int = 0,
              resamples: int = 1000) -> list[GroupMetrics]:
    """Per (suite, mode): per-problem means over samples, then bootstrap over problems."""
    by_group: dict[tuple[str, str], dict[str, list[SampleRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_group[(r.suite, r.mode)][r.problem_id].append(r)
    out: list[GroupMetrics] = []
    for (suite, mode), per_problem in by_group.items():
        samples = list(per_problem.values())

        def est(fn: Callable[[SampleRecord], float], samples=samples) -> Estimate:
            vals = [sum(fn(r) for r in rs) / len(rs) for rs in samples]
            return bootstrap_mean(vals, seed=seed, resamples=resamples)

        out.append(GroupMetrics(
            suite=suite, mode=mode, n_problems=len(samples), n_samples=sum(len(rs) for rs in samples),
            exact_match=est(lambda r: float(r.correct)), f1=est(lambda r: r.f1),
            format_rate=est(lambda r: float(r.format_ok)), mean_length=est(lambda r: float(r.n_tokens)),
            verifier_errors=sum(1 for rs in samples for r in rs if r.verifier_error),
            truncated=sum(1 for rs in samples for r in rs if r.finish_reason == "length"),
            problems_sha256=problems_fingerprint(rs[0].problem_sha256 for rs in samples),
            **({"abduction_exact": est(lambda r: float(bool(r.abduction_correct))),
                "abduction_f1": est(lambda r: float(r.abduction_f1 or 0.0))}
               if any(r.abduction_correct is not None for rs in samples for r in rs) else {})))
    return out


def _complete(cfg: EvalConfig, problems: list[Problem], engine, sandbox) -> list[list[Any]]:
    if is_baseline(cfg.model):
        return _baseline_completer(cfg, sandbox)(problems)
    if engine is not None:
        return _engine_completer(cfg, engine)(problems)

    with make_engine(engine_spec(cfg.model), **cfg.engine_kwargs) as own:
        return _engine_completer(cfg, own)(problems)


def model_fingerprint(model: str) -> str:
    """sha256 of a local model's files (name, size, and content below 1 MiB, modification time above):
    weights trained again into the same folder change it. "" for baselines and remote endpoints."""
    kind, sep, rest = model.partition(":")
    name = rest if sep and kind in ("vllm", "hf") else ("" if sep or is_baseline(model) else model)
    path = Path(name).expanduser()
    if not name or not path.exists():
        return ""
    digest = hashlib.sha256()
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(path) if path.is_dir() else f.name}\0{stat.st_size}\0".encode(
            "utf-8", "surrogateescape"))
        digest.update(f.read_bytes() if stat.st_size < (1 << 20) else str(stat.st_mtime_ns).encode())
    return digest.hexdigest()


def check_reusable(cfg: EvalConfig, earlier: EvalResult, where: str = "--reuse") -> None:
    """An earlier run's completions stand in for this run's only if every generation setting matches, and
    the model is the one that made them (`model_fingerprint`, when the earlier run recorded one)."""
    ours = model_fingerprint(cfg.model)
    if earlier.model_sha256 and earlier.model_sha256 != ours:
        raise ValueError(f"{where}: the model at {cfg.model!r} changed since that evaluation (its files differ); "
                         f"completions are reused only from the same model")
    for key in (f.name for f in fields(EvalConfig) if f.name not in REUSE_FREE):
        theirs, ours = earlier.config.get(key), getattr(cfg, key)
        if theirs != ours:
            raise ValueError(f"{where}: expected an evaluation with {key} = {ours!r}, got {theirs!r} "
                             f"(completions are reused only under the same generation settings)")


def _reused_completions(groups: dict[tuple[str, str], list[Problem]], reuse: Sequence[SampleRecord],
                        cfg: EvalConfig) -> dict[tuple[str, str], list[list[Any]]]:
    """(suite, mode) -> completions per problem, for the groups an earlier run fully covers: each problem
    has samples 0 .. `cfg.samples` - 1, once each, made for this very problem and prompt (`problem_sha256`; rows without
    one, from before it was recorded, are generated again)."""
    samples = cfg.samples
    earlier: dict[tuple[str, str, str], list[SampleRecord]] = defaultdict(list)
    for r in reuse:
        earlier[(r.suite, r.mode, r.problem_id)].append(r)
    out: dict[tuple[str, str], list[list[Any]]] = {}
    for (suite, mode), problems in groups.items():
        rows = [sorted(earlier.get((suite, mode, p.id), []), key=lambda r: r.sample) for p in problems]
        if all([r.sample for r in rs] == list(range(samples))
               and {r.problem_sha256 for r in rs} == {problem_fingerprint(p, cfg)}
               for p, rs in zip(problems, rows)):
            out[(suite, mode)] = [[Completion(r.text, r.n_tokens, r.finish_reason) for r in rs] for rs in rows]
    return out


def evaluate(cfg: EvalConfig, *, engine=None, sandbox=None,
             reuse: Sequence[SampleRecord] = ()) -> tuple[EvalResult, list[SampleRecord]]:
    """Run one policy on the configured suites. Pass `engine`/`sandbox` to reuse live ones.

    `reuse`: an earlier run's records (same generation settings, see `check_reusable`). A (suite, mode)
    group they fully cover is not generated again; its completions are re-scored, so every number still
    comes from this scorer. That makes an interrupted or extended evaluation cost only what is new."""
    if cfg.samples < 1:
        raise ValueError("samples must be >= 1")

    check_question(cfg.question)
    groups = load_eval_problems(cfg)
    if cfg.prompt_style:  # an unknown style fails here, not when the first prompt is rendered after engine start
        envs.render_prompt(next(iter(groups.values()))[0], cfg.prompt_style, question=cfg.question)
    # a baseline's completions come from today's code (solver, answer rendering) and are cheap: never reused
    reused = {} if is_baseline(cfg.model) else _reused_completions(groups, reuse, cfg)
    todo = [p for key, ps in groups.items() if key not in reused for p in ps]
    start = time.perf_counter()
    own_sandbox = None
    if sandbox is None and is_baseline(cfg.model):
        sandbox = own_sandbox = make_sandbox(cfg.sandbox, allow_local_fallback=False)  # suite programs: untrusted
    try:
        generated = _complete(cfg, todo, engine, sandbox) if todo else []
        if len(generated) != len(todo):
            raise RuntimeError(f"the policy returned {len(generated)} completion lists for {len(todo)} prompts")
        fresh = iter(generated)
        completions = [c for key, ps in groups.items()
                       for c in (reused[key] if key in reused else [next(fresh) for _ in ps])]
        records = _score_all(groups, completions, cfg, sandbox)
    finally:
        if own_sandbox is not None:
            own_sandbox.close()
    metrics = summarize(records, seed=cfg.seed, resamples=cfg.bootstrap_resamples)
    result = EvalResult(label=cfg.display_label(), model=cfg.model, config=asdict(cfg), groups=metrics,
                        seconds=round(time.perf_counter() - start, 3), model_sha256=model_fingerprint(cfg.model))
    return result, records


# ------------------------------------------------------------------------------------------ I/O

def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def save_eval(out_dir: str | Path, result: EvalResult, records: Sequence[SampleRecord]) -> Path:
    """Write eval.json, samples.jsonl, eval.md and eval.png into `out_dir`; return the directory."""
    out = Path(out_dir)
    # Every file (the report too) is written into a staging directory and replaces the old one only when all
    # are complete, so an interrupted save (Ctrl-C, a full disk) never leaves a truncated samples.jsonl, nor a
    # new one beside an old eval.json: an earlier eval in `out` (also the `--reuse` source) survives whole,
    # and an `out` the save made is removed again.
    texts = {SAMPLES_FILE: "".join(json.dumps(asdict(r), sort_keys=True, ensure_ascii=False, default=_json_default)
                                   + "\n" for r in records),
             SUMMARY_FILE: json.dumps(result.to_dict(), indent=2, sort_keys=True, default=_json_default) + "\n",
             TIMING_FILE: json.dumps({"seconds": result.seconds}) + "\n"}
    with staged_dir(out) as staging:
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")
        write_eval_report(staging, result)
    return out


def load_eval(path: str | Path) -> EvalResult:
    """Read an eval.json (or the directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY_FILE
    if not p.is_file():
        raise FileNotFoundError(f"no {SUMMARY_FILE} at {path}")
    return EvalResult.from_dict(json.loads(p.read_text(encoding="utf-8")), where=str(p))


def load_samples(path: str | Path) -> list[SampleRecord]:
    p = Path(path)
    if p.is_dir():
        p = p / SAMPLES_FILE
    with open(p, encoding="utf-8") as fh:
        return [SampleRecord(**json.loads(line)) for line in fh if line.strip()]


def evaluate_in_subprocess(cfg: EvalConfig, out_dir: str | Path) -> EvalResult:
    """Evaluate in a fresh interpreter: each model gets its own vLLM / torch state and memory back."""
    import subprocess
    import sys

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job = out / ".eval_config.json"
    job.write_text(json.dumps(asdict(cfg)), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "rl.evaluation.evaluate", str(job), str(out)], capture_output=True,
                          text=True, check=False)
    job.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"evaluation of {cfg.model} failed:\n{proc.stderr[-3000:]}")
    return load_eval(out)


if __name__ == "__main__":
    import os
    import sys

    config_path, out_path = sys.argv[1:3]
    _cfg = EvalConfig(**json.loads(Path(config_path).read_text(encoding="utf-8")))
    save_eval(out_path, *evaluate(_cfg))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: vLLM / torch atexit hooks can hang on CPU
