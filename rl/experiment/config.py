"""The experiment config: one TOML file, every table parsed into its dataclass by the one validator
(types from the field annotations); [sft] / [grpo] are single-stage run configs, possibly `extends`-ing
a preset in configs/train/, and [eval] holds EvalConfig's own settings."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from generators import (
    LEVELS,
    MODES,
    InputError,
    MissingInputError,
    build_dataclass,
    check_count,
    describe,
    get_family,
    read_toml,
    toml_locator,
)
from rl.evaluation.baselines import BASELINES
from rl.evaluation.compare import COMPARE_METRICS
from rl.evaluation.evaluate import EvalConfig
from rl.evaluation.suite_selection import check_suite_names
from rl.inference.models import check_model
from rl.training.config import GRPORunConfig, SFTRunConfig, check_problem_file, resolve_extends
from sandbox import BACKENDS


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
    a real GGUF model (rl.inference.models); otherwise a checkpoint directory."""

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
    return toml_locator(source, text, table) if text is not None else (lambda key: f"{source}: [{table}]")


def _section(cls: type, table: Any, name: str, locate: Locate) -> Any:
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

    own = set(table)
    table, locate = resolve_extends(table, name, base_dir, locate)
    table = {k: v for k, v in table.items() if k in own or k not in _FILLED}

    cls = SFTRunConfig if name == "sft" else GRPORunConfig
    body = {k: v for k, v in table.items() if k not in ("enabled", *extra)}
    clash = sorted(set(body) & set(_FILLED))
    if clash:
        raise InputError(f"{clash} are set by the experiment runner; remove them", where=locate(clash[0]))
    cls.from_dict({**body, "model": "placeholder"}, where=locate(""), locate=locate).check_paths(
        locate("trl_overrides"), model=False)
    return {k: v for k, v in table.items() if k != "enabled"}


def parse_experiment(data: dict[str, Any], source: str = "<config>", text: str | None = None
                     ) -> ExperimentConfig:
    """Every table parsed into its dataclass by the one validator (types from the field annotations);
    `text` (the TOML source) lets errors name the line. Files the run needs are checked here too."""
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
        check_problem_file(dat.train_file, "[data] train_file")  # every record valid before any stage
    ev: EvalSection = sections["eval"]
    if ev.engine not in ("vllm", "hf"):
        raise InputError(f"engine must be 'vllm' or 'hf', got {ev.engine!r}", where=at["eval"]("engine"))

    bad = [b for b in ev.baselines if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baselines {bad}; choose from {list(BASELINES)}",
                         where=at["eval"]("baselines"))
    exp: ExperimentSection = sections["experiment"]
    if exp.seed < 0:
        raise InputError(f"expected a non-negative integer, got {exp.seed}", where=at["experiment"]("seed"),
                         field="seed")
    if exp.seed >= 2**32:  # every stage seeds numpy with it (0..2**32-1): the first eval stage failed
        raise InputError(f"expected an integer in 0..{2**32 - 1}, got {exp.seed}", where=at["experiment"]("seed"),
                         field="seed")
    if dat.n_train < 1 and not dat.train_file:
        raise InputError(f"expected a positive integer, got {dat.n_train}", where=at["data"]("n_train"),
                         field="n_train")
    check_count(dat.n_train, "n_train", where=at["data"]("n_train"))  # the data stage failed, out_dir made
    names = {f.name for f in fields(EvalConfig)}  # EvalConfig's own range checks, before any stage runs
    try:
        EvalConfig(model="oracle", **{k: v for k, v in asdict(ev).items() if k in names})
    except ValueError as exc:
        key = str(exc).split(" ", 1)[0]  # EvalConfig's messages start with the field's name
        raise InputError(str(exc), where=at["eval"](key if key in names else "")) from None
    if ev.suites_dir and not Path(ev.suites_dir).is_dir():
        raise MissingInputError(f"expected a directory of suites, got {ev.suites_dir!r} (no such directory)",
                                where=at["eval"]("suites_dir"), field="suites_dir")
    # What the eval, compare and traces stages would find out only after training (each was a stage
    # failure hours in, its traceback folded into the error line).
    if not ev.modes or any(m not in MODES for m in ev.modes):
        raise InputError(f"expected a non-empty subset of {list(MODES)}, got {ev.modes}", where=at["eval"]("modes"),
                         field="modes")
    try:
        check_suite_names(ev.suites, ev.suites_dir)
    except FileNotFoundError as exc:
        raise MissingInputError(str(exc), where=at["eval"]("suites"), field="suites") from None
    if exp.sandbox not in BACKENDS:
        raise InputError(f"expected one of {list(BACKENDS)}, got {exp.sandbox!r}", where=at["experiment"]("sandbox"),
                         field="sandbox")
    metric = sections["compare"].metric
    if metric not in COMPARE_METRICS:
        raise InputError(f"expected one of {list(COMPARE_METRICS)}, got {metric!r}", where=at["compare"]("metric"),
                         field="metric")
    judge = sections["traces"].judge
    base_url, hash_, judge_model = judge.removeprefix("openai:").rpartition("#")
    if judge and not (hash_ and base_url and judge_model):
        raise InputError(f"expected openai:BASE_URL#MODEL (or empty), got {judge!r}", where=at["traces"]("judge"),
                         field="judge")
    base = sections["model"].base
    if base not in ("tiny", "smollm2") and not base.startswith("gguf:") and not Path(base).exists():
        raise MissingInputError(f"base {base!r} is neither 'tiny' nor a directory "
                                "(nor 'smollm2' / 'gguf:FILE')", where=at["model"]("base"))
    if Path(base).is_dir():
        check_model(base, "base", at["model"]("base"))  # an empty directory failed in the SFT stage
    if base.startswith("gguf:") and not Path(base[len("gguf:"):]).is_file():
        raise MissingInputError(f"base {base!r}: no such GGUF file", where=at["model"]("base"))
    return ExperimentConfig(sft=sft, grpo=grpo, **sections)


def load_experiment(path: str | Path) -> ExperimentConfig:
    data, text = read_toml(path)
    return parse_experiment(data, str(path), text)
