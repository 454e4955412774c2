"""The family framework: what a problem family is, how it is configured, and how it is registered.

A family is one file in `generators/families/` (reasoning-gym style) with
  * a `@dataclass` config (subclass of `FamilyConfig`) whose defaults are the family's default
    difficulty, plus `validate()`;
  * `LEVELS`: curriculum level 1-5 -> knob values (overrides of the config defaults);
  * `draft(rng, cfg) -> Draft`: one candidate program with its observation and intervention.
    The draft states *what* is asked; the pipeline (`generators.pipeline`) computes the answer by
    executing the program in the sandbox over the full latent domain, filters, and renders it;
  * one `register_family(...)` call at the bottom.

Item `idx` of a run is drafted from `item_rng(seed, family, mode, idx)`, so any item is
reproducible on its own, in any order, in any process.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from random import Random
from typing import Any

from generators.errors import InputError
from generators.typecheck import check_fields, field_types

MODES: tuple[str, ...] = ("counterfactual", "interventional")


@dataclass
class FamilyConfig:
    """Base of every family's knob dataclass. Subclasses add knobs with defaults and extend validate().

    The answer-set-size knobs are common to all families and enforced by the pipeline (counterfactual
    mode): drafts whose answer set is smaller or larger are rejected and counted (`answer_size`)."""

    min_answer_size: int = 1
    max_answer_size: int = 0  # 0: no upper bound

    def validate_common(self) -> None:
        if self.min_answer_size < 1 or self.max_answer_size < 0:
            raise ValueError("min_answer_size must be >= 1 and max_answer_size >= 0 (0: unbounded)")
        if self.max_answer_size and self.max_answer_size < self.min_answer_size:
            raise ValueError(
                f"max_answer_size {self.max_answer_size} < min_answer_size {self.min_answer_size}"
            )

    def validate(self) -> None:
        """Raise ValueError with a clear message when knobs are out of range. Subclasses extend."""

    def check_ranges(self, zero_ok: tuple[str, ...] = (), **ranges: tuple[float, float]) -> None:
        """`self.check_ranges(latent_max=(1, 60), modulus_max=(2, 50), zero_ok=("modulus_max",))`:
        each knob must lie in its inclusive range (or be 0 when listed in `zero_ok`)."""
        for name, (lo, hi) in ranges.items():
            value = getattr(self, name)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric or not (lo <= value <= hi or (name in zero_ok and value == 0)):
                either = "0 or " if name in zero_ok else ""
                raise ValueError(f"{name} must be {either}in {lo}..{hi}, got {value!r}")

    def knobs(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PromptContext:
    """Everything a custom prompt renderer (e.g. a GSM word problem) may use. Latent values are only
    present in interventional mode (`revealed`)."""

    mode: str
    observations: list[dict[str, Any]]  # [{"args": {...}, "output": v}]
    intervention: dict[str, Any]  # {"args": {...}} (+ "internal" for do_internal)
    revealed: dict[str, Any] | None
    display_program: str


@dataclass
class Draft:
    """One candidate problem as a family proposes it, before execution and filtering.

    `program` defines `entry(*inputs, *latents)`: parameters are the input names in order, then the
    latent names in the order of `latents`. The pipeline calls it for every latent combination.
    """

    program: str
    entry: str
    inputs: list[str]
    latents: dict[str, list[Any]]  # latent name -> full finite domain (parameter order = dict order)
    observations: list[dict[str, Any]]  # args (input name -> value) of each factual observation
    intervention: dict[str, Any]  # input name -> counterfactual value
    true_latents: dict[str, Any]  # the latent values that produced the observations
    template_id: str  # which structural template produced the program (family-prefixed)
    # do_internal: the rewritten program evaluated under the intervention (same signature), and
    # the internal assignment it performs, e.g. {"t": 5}. Recorded in the Problem's intervention.
    intervention_program: str | None = None
    internal: dict[str, Any] | None = None
    # Shown in the prompt instead of the default (program with latents drawn via `random`).
    display_program: str | None = None
    # Custom prompt body (e.g. a word problem); the answer-format instruction is appended for you.
    render_prompt: Callable[[PromptContext], str] | None = None
    # Words naming each latent in a custom prompt, for the leak filter (e.g. {"r": "the bonus"}).
    latent_labels: dict[str, str] = field(default_factory=dict)
    # Optional: a one-line derivation of entry(args + latents) for the gold trace, e.g.
    # "x=4 > 3, so y = 4 + 2 = 6; 6 % 5 = 1". Called with (args dict, latent dict).
    explain: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    # Optional: the same for the prediction step, when it runs another program than the observation
    # (do_internal's rewritten program). Falls back to `explain`.
    explain_intervention: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)  # anything worth keeping (JSON-safe)


@dataclass(frozen=True)
class ExecutedDraft:
    """A draft after its programs ran over the whole latent domain, with the answer that gives: the
    data the gold trace is written from and the problem record is assembled from (one value, so the
    pipeline, `cfcode counterfactualize` and the trace renderer do not pass ten loose arguments)."""

    draft: Draft
    mode: str
    combos: list[tuple[Any, ...]]  # every latent assignment, in domain order
    factual: list[list[Any]]  # factual[i][k]: observation i's call under assignment k
    intervened: list[Any]  # intervened[k]: the intervened call under assignment k
    observations: list[dict[str, Any]]  # [{"args": {...}, "output": y}]: the evidence, as recorded
    intervention: dict[str, Any]  # {"args": {...}} (+ "internal", "program" for do_internal)
    consistent: list[int]  # the assignments k that reproduce every observation
    answer: list[Any]
    revealed: dict[str, Any] | None  # interventional mode: the true latents; else None

    def prompt_context(self, display_program: str) -> PromptContext:
        return PromptContext(mode=self.mode, observations=self.observations, intervention=self.intervention,
                             revealed=self.revealed, display_program=display_program)


DraftFn = Callable[[Random, Any], Draft]


@dataclass(frozen=True)
class FamilySpec:
    """Registry entry: a family's config class, curriculum and drafting function, plus its role."""

    name: str
    config_cls: type[FamilyConfig]
    draft: DraftFn
    levels: dict[int, dict[str, Any]]
    default_level: int = 3
    paper: bool = True  # one of the paper's five families (False: beyond the paper)
    ood: bool = False  # out-of-distribution test family (never used for training)
    math: bool = False  # word problem (GSM-style) rather than plain code
    modes: tuple[str, ...] = MODES
    description: str = ""

    def parse_knobs(self, items: list[str]) -> dict[str, Any]:
        """`--knob latent_max=5 --knob shapes=linear,halving` -> typed knob values for this family.

        A value is read as JSON, except for str knobs (kept verbatim); its type is then checked
        against the config dataclass (an int knob given 1.5, or an unknown knob, is an InputError)."""
        types_ = field_types(self.config_cls)
        knobs: dict[str, Any] = {}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise InputError(f"expected NAME=VALUE, got {item!r}", field="--knob")
            if name in knobs:  # the last one silently won: a typo in a sweep script went unnoticed
                raise InputError(f"{name} given twice; expected each knob once", field="--knob")
            if types_.get(name) is str:
                knobs[name] = text
                continue
            try:
                knobs[name] = json.loads(text)
            except (ValueError, RecursionError):
                knobs[name] = text
        check_fields(self.config_cls, knobs, where="--knob", what="knob")
        return knobs

    def config(self, level: int | None = None, **knobs: Any) -> FamilyConfig:
        """Config for a curriculum level (default: `default_level`) with explicit knob overrides."""
        lvl = self.default_level if level is None else level
        if isinstance(lvl, bool) or lvl not in self.levels:
            raise InputError(f"level must be one of {sorted(self.levels)}, got {level!r}",
                             where=f"family {self.name!r}")
        check_fields(self.config_cls, knobs, where=f"family {self.name!r}", what="knob")
        cfg = self.config_cls(**{**self.levels[lvl], **knobs})
        try:
            cfg.validate_common()
            cfg.validate()
        except InputError:
            raise
        except ValueError as exc:
            raise InputError(str(exc), where=f"family {self.name!r}") from None
        return cfg


FAMILIES: dict[str, FamilySpec] = {}


def register_family(
    name: str,
    config_cls: type[FamilyConfig],
    draft: DraftFn,
    *,
    levels: dict[int, dict[str, Any]],
    default_level: int = 3,
    paper: bool = True,
    ood: bool = False,
    math: bool = False,
    description: str = "",
) -> FamilySpec:
    """Add a family to `FAMILIES`. Levels must be exactly 1-5, and every level's config must validate."""
    if name in FAMILIES:
        raise ValueError(f"family {name!r} is already registered")
    if sorted(levels) != [1, 2, 3, 4, 5]:
        raise ValueError(f"family {name!r}: levels must be 1..5, got {sorted(levels)}")
    spec = FamilySpec(
        name=name,
        config_cls=config_cls,
        draft=draft,
        levels=levels,
        default_level=default_level,
        paper=paper,
        ood=ood,
        math=math,
        description=description,
    )
    for lvl in levels:
        spec.config(lvl)  # fail at import time, not at generation time
    FAMILIES[name] = spec
    return spec


def item_seed(seed: int, family: str, mode: str, idx: int) -> int:
    """Stable 64-bit seed for one item; independent of Python's hash randomisation and of run order."""
    digest = hashlib.sha256(f"cfcode|{seed}|{family}|{mode}|{idx}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def item_rng(seed: int, family: str, mode: str, idx: int) -> Random:
    return Random(item_seed(seed, family, mode, idx))


def get_family(name: str) -> FamilySpec:
    """A registered family (`import generators` registers every built-in family: generators.families)."""
    if name not in FAMILIES:
        raise InputError(f"unknown family {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name]
