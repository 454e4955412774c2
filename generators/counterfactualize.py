"""`cfcode counterfactualize`: counterfactual problems from any user function, in the suites' schema.

The user gives Python source and, per function, which parameters are latent (finite domains) and
the ranges of the observable ones. The user's code is untrusted: it is only ever executed in the
sandbox, through `sandbox.run_jobs`. Per function:

  1. static preparation (`generators.user_code`): the function and what it needs, a purity policy,
     parameters reordered to `entry(*inputs, *latents)`;
  2. a small probe in the sandbox (a looping or exploding function costs seconds, not a grid);
  3. the grid: up to `max_inputs` input points (all, or a seeded sample) x every latent assignment;
  4. problem selection: seeded draws of (observed input, true latent, intervened input), kept only
     when the generators' filters pass (abduction must matter, answer size, no duplicate, no latent
     value stated in the prompt); prompt and gold trace rendered exactly as the families do.

A function that fails anywhere gets one rejection line; the run goes on with the others.
Deterministic: the same source, spec, seed and interpreter give byte-identical records.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from generators.errors import InputError
from generators.family import Draft, ExecutedDraft
from generators.filters import FilterStats, find_latent_leaks, program_hashes
from generators.render import (
    ambiguous_outputs,
    build_prompt,
    canonical,
    display_program,
    gold_trace,
    unicode_text,
    unwritable_answer,
)
from generators.schema import MODES, Problem, latent_combinations, sort_answer
from generators.toml_files import TomlSyntaxError, read_toml
from generators.user_code import PreparedFunction, Rejection, parse_source, prepare_function
from generators.version import GENERATOR_VERSION
from sandbox import UNSUPPORTED, CallStatus, Job, JobResult, Sandbox, run_jobs

FAMILY = "custom"  # the records' family: problems made from user code
MAX_LATENT_COMBINATIONS = 256
MAX_INPUTS = 200
PROBE_CALLS = 4
# Run after the user's module in the check run of the grid: objects of every small size class are kept alive, so
# the calls' objects lie elsewhere than in the in-order run (an address read through a repr then differs).
HEAP_SHIFT = "\n__cfcode_heap_shift__ = [[None] * (i % 67) for i in range(2011)]\n"
SANDBOX_CHUNK = 7  # jobs per run_jobs call: a chunk of looping functions never looks like a sick sandbox
MAX_BOUND_DIGITS = 100  # digits of a lo..hi bound
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


class SpecError(ValueError):
    """The user's spec is malformed (message names the place and what was expected)."""


@dataclass(frozen=True)
class Domain:
    """An inclusive integer range `lo..hi` or an explicit list of JSON values."""

    values: tuple[Any, ...] | None = None
    lo: int = 0
    hi: int = -1

    @property
    def size(self) -> int:
        return len(self.values) if self.values is not None else self.hi - self.lo + 1

    def at(self, i: int) -> Any:
        return self.values[i] if self.values is not None else self.lo + i

    def listed(self) -> list[Any]:
        return [self.at(i) for i in range(self.size)]

    def describe(self) -> Any:
        return list(self.values) if self.values is not None else f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class FunctionSpec:
    """One function to counterfactualize: inputs and latents in the order they will be passed."""

    name: str
    inputs: dict[str, Domain]
    latents: dict[str, Domain]


def parse_domain(value: Any, where: str) -> Domain:
    """`"lo..hi"` (integers, inclusive), a JSON list text, or a list of JSON values (from TOML)."""
    if isinstance(value, str):
        m = _RANGE.match(value)
        if m:
            if max(len(m.group(1)), len(m.group(2))) > MAX_BOUND_DIGITS + 1:  # int() refuses past 4,300 digits
                raise SpecError(f"{where}: expected lo..hi with integers of at most {MAX_BOUND_DIGITS} digits, "
                                f"got {len(value)} characters")
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise SpecError(f"{where}: empty range {value!r} (expected lo..hi with lo <= hi)")
            return Domain(lo=lo, hi=hi)
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise SpecError(f"{where}: expected lo..hi or a JSON list of values, got {value!r}") from None
        except ValueError as exc:  # an integer past int()'s digit limit
            raise SpecError(f"{where}: expected a JSON list of values, got {str(exc).split(';')[0]}") from None
        except RecursionError:  # was caught as an infrastructure error: "cannot start the Docker sandbox"
            raise SpecError(f"{where}: expected lo..hi or a JSON list of values nested at most a few hundred "
                            f"levels deep, got {len(value)} characters nested deeper") from None
    if not isinstance(value, list) or not value:
        raise SpecError(f"{where}: expected lo..hi or a non-empty list of values, got {value!r}")
    for v in value:
        if not _plain(v):
            raise SpecError(f"{where}: {v!r} is not plain JSON data (numbers, strings, bools, null, lists, "
                            "string-keyed tables) or holds text that is not valid Unicode (a lone surrogate)")
    unique = {json.dumps(v, sort_keys=True): v for v in value}
    if len(unique) != len(value):
        raise SpecError(f"{where}: values must be distinct")
    # Tables in sorted key order: records are written with sorted keys, so the function must run (and the
    # prompt show) the order a reader of the record gets back; {"b": 1, "a": 2} reads back as {"a": 2, "b": 1}.
    return Domain(values=tuple(json.loads(text) for text in unique))


def _plain(v: Any) -> bool:
    if isinstance(v, str):
        return unicode_text(v)
    if v is None or isinstance(v, (bool, int)):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and unicode_text(k) and _plain(x) for k, x in v.items())
    return False


def function_spec(name: str, inputs: dict[str, Any], latents: dict[str, Any], where: str) -> FunctionSpec:
    """Validate one function's declaration (domains parsed, latent grid bounded)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"{where}: function name must be an identifier, got {name!r}")
    for kind, table in (("inputs", inputs), ("latents", latents)):
        if not isinstance(table, dict) or not table:
            raise SpecError(f"{where}.{kind}: expected a non-empty table of name = domain")
    both = set(inputs) & set(latents)
    if both:
        raise SpecError(f"{where}: {sorted(both)} declared both as inputs and latents")
    ins = {k: parse_domain(v, f"{where}.inputs.{k}") for k, v in inputs.items()}
    lats = {k: parse_domain(v, f"{where}.latents.{k}") for k, v in latents.items()}
    combos = math.prod(d.size for d in lats.values())
    if combos > MAX_LATENT_COMBINATIONS:
        raise SpecError(f"{where}.latents: {combos} latent combinations; at most {MAX_LATENT_COMBINATIONS}")
    return FunctionSpec(name, ins, lats)


def load_spec(path: str) -> list[FunctionSpec]:
    """A TOML spec: one `[functions.NAME]` table per function with `inputs` and `latents` tables.

        [functions.caesar]
        inputs = { text = ["abc", "hello"] }
        latents = { shift = "1..5" }
    """
    try:
        data, _ = read_toml(path)  # the project's one TOML reader
    except TomlSyntaxError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc.detail.removeprefix('invalid TOML: ')}") from None
    except InputError as exc:
        raise SpecError(f"{path}: cannot read spec: {exc.detail}") from None
    unknown = set(data) - {"functions"}
    if unknown:
        raise SpecError(f"{path}: unknown top-level keys {sorted(unknown)}; expected [functions.NAME] tables")
    functions = data.get("functions")
    if not isinstance(functions, dict) or not functions:
        raise SpecError(f"{path}: no [functions.NAME] tables")
    specs = []
    for name, table in functions.items():
        where = f"{path}: functions.{name}"
        if not isinstance(table, dict):
            raise SpecError(f"{where}: expected a table with inputs and latents")
        extra = set(table) - {"inputs", "latents"}
        if extra:
            raise SpecError(f"{where}: unknown keys {sorted(extra)}; expected inputs and latents")
        specs.append(function_spec(name, table.get("inputs", {}), table.get("latents", {}), where))
    return specs


@dataclass
class FunctionReport:
    """What became of one declared function."""

    name: str
    problems: int = 0
    rejection: Rejection | None = None
    note: str = ""

    def text(self) -> str:
        if self.rejection is not None:
            return self.rejection.text()
        return f"{self.name}: {self.problems} problem{'s' if self.problems != 1 else ''}" + (
            f" ({self.note})" if self.note else "")


@dataclass
class CounterfactualizeResult:
    problems: list[Problem]
    reports: list[FunctionReport]
    stats: FilterStats
    python_version: str


@dataclass(frozen=True)
class Options:
    """Knobs of a run (recorded in every problem's `meta.knobs`)."""

    n: int = 10  # problems per function
    seed: int = 0
    mode: str = "counterfactual"
    max_inputs: int = 40  # input points per function (all of them when the input space is smaller)
    min_answer_size: int = 1
    max_answer_size: int = 0  # 0: unbounded
    call_timeout_s: float = 0.5

    def validate(self) -> None:
        if self.mode not in MODES:
            raise SpecError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        if not 1 <= self.n <= 10_000:
            raise SpecError(f"n must be in 1..10000, got {self.n}")
        if not 2 <= self.max_inputs <= MAX_INPUTS:
            raise SpecError(f"max_inputs must be in 2..{MAX_INPUTS}, got {self.max_inputs}")
        if self.min_answer_size < 1 or self.max_answer_size < 0 or (
                self.max_answer_size and self.max_answer_size < self.min_answer_size):
            raise SpecError("answer sizes: min >= 1, max 0 (unbounded) or >= min")
        if not 0.05 <= self.call_timeout_s <= 10:
            raise SpecError(f"call_timeout_s must be in 0.05..10, got {self.call_timeout_s}")


@dataclass
class _Work:
    """One function on its way through the stages."""

    spec: FunctionSpec
    report: FunctionReport
    prepared: PreparedFunction | None = None
    points: list[tuple[Any, ...]] = field(default_factory=list)
    combos: list[tuple[Any, ...]] = field(default_factory=list)
    grid: list[list[Any]] = field(default_factory=list)  # grid[point][combo]


def counterfactualize(source: str, specs: Sequence[FunctionSpec], sandbox: Sandbox,
                      options: Options | None = None,
                      log: Callable[[str], None] | None = None) -> CounterfactualizeResult:
    """Problems for every declared function of `source`; rejected functions are reported, not raised.

    Raises `SpecError` for a malformed spec and `sandbox.SandboxFailure` when the
    sandbox itself fails (never for anything the user's code does).
    """
    opts = options or Options()
    opts.validate()
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SpecError(f"functions declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    parsed = parse_source(source)
    works = [_Work(s, FunctionReport(s.name)) for s in specs]
    for w in works:
        prepared = prepare_function(parsed, w.spec.name, list(w.spec.inputs), list(w.spec.latents))
        if isinstance(prepared, Rejection):
            w.report.rejection = prepared
            continue
        w.prepared = prepared
        w.combos = latent_combinations({k: d.listed() for k, d in w.spec.latents.items()})
        w.points = _input_points(w.spec, opts)
        if len(w.points) < 2:
            w.report.rejection = Rejection(w.spec.name, "the inputs allow a single call: an intervention "
                                           "needs at least two input values", prepared.line)
    alive = [w for w in works if w.report.rejection is None]
    _execute(sandbox, alive, opts, probe=True)
    alive = [w for w in alive if w.report.rejection is None]
    _execute(sandbox, alive, opts, probe=False)
    stats = FilterStats()
    problems: list[Problem] = []
    for w in works:
        if w.report.rejection is None:
            problems += _select(w, opts, stats, len(problems), sandbox.python_version)
        if log is not None:
            log(w.report.text())
    stats.accepted = len(problems)
    return CounterfactualizeResult(problems, [w.report for w in works], stats, sandbox.python_version)


def _input_points(spec: FunctionSpec, opts: Options) -> list[tuple[Any, ...]]:
    """Every input combination when there are at most `max_inputs`, else a seeded sample (sorted by
    index, so the grid order does not depend on the draw order)."""
    domains = list(spec.inputs.values())
    total = math.prod(d.size for d in domains)
    if total <= opts.max_inputs:
        indices: list[int] = list(range(total))
    elif total <= sys.maxsize:
        indices = sorted(_rng(opts, spec.name, "inputs").sample(range(total), opts.max_inputs))
    else:  # random.sample needs len(range(total)), a C ssize_t
        rng, drawn = _rng(opts, spec.name, "inputs"), set()
        while len(drawn) < opts.max_inputs:
            drawn.add(rng.randrange(total))
        indices = sorted(drawn)
    points = []
    for index in indices:
        point = []
        for d in reversed(domains):  # mixed radix, last input varies fastest
            index, digit = divmod(index, d.size)
            point.append(d.at(digit))
        points.append(tuple(reversed(point)))
    return points


def _rng(opts: Options, name: str, purpose: str) -> Random:
    digest = hashlib.sha256(f"cfcode-counterfactualize|{opts.seed}|{opts.mode}|{name}|{purpose}".encode())
    return Random(int.from_bytes(digest.digest()[:8], "big"))


def _execute(sandbox: Sandbox, works: list[_Work], opts: Options, probe: bool) -> None:
    """Probe (a few calls) or full grid, a few functions per sandbox round; failures become rejections.

    The grid runs twice, in order and in a shuffled order (after `HEAP_SHIFT`), each run in a process of its
    own: a gold answer must be what a call returns on its own (the env, `cfcode eval` and any reviewer run
    calls in other batches, orders and processes), so a function whose value for a call depends on the
    calls before it (state kept in a module-level list, a counter, a class attribute, a helper's mutable
    default) or on where objects lie in memory (an object's repr) is rejected."""
    runs = 1 if probe else 2
    jobs, orders = [], []
    for w in works:
        assert w.prepared is not None
        calls = [list(p) + list(c) for p in w.points for c in w.combos]
        if probe:
            step = max(1, len(calls) // PROBE_CALLS)
            calls = calls[::step][:PROBE_CALLS]
        jobs.append(Job(w.prepared.program, w.prepared.entry, calls))
        if not probe:
            order = _check_order(len(calls), _rng(opts, w.spec.name, "check"))
            orders.append(order)
            jobs.append(Job(w.prepared.program + HEAP_SHIFT, w.prepared.entry, [calls[i] for i in order]))
    per_round = max(1, SANDBOX_CHUNK // runs)
    for start in range(0, len(works), per_round):
        chunk = works[start:start + per_round]
        results = run_jobs(sandbox, jobs[start * runs:(start + len(chunk)) * runs], call_timeout_s=opts.call_timeout_s)
        for i, w in enumerate(chunk):
            assert w.prepared is not None
            mine = results[i * runs:(i + 1) * runs]
            failed = next((r for r in mine if r.status != "ok"), None)
            if failed is not None:
                w.report.rejection = Rejection(w.spec.name, _failure_text(failed, opts), w.prepared.line)
            elif not probe:
                values = mine[0].values or []
                again: list[Any] = [None] * len(values)
                for position, value in zip(orders[start + i], mine[1].values or []):
                    again[position] = value
                if [canonical(v) for v in values] != [canonical(v) for v in again]:
                    w.report.rejection = Rejection(
                        w.spec.name, "returned different values for the same call depending on the calls run "
                        "before it or on memory addresses (state kept between calls: a module-level list or "
                        "counter, a class attribute, a mutable default; an object's repr): counterfactual "
                        "problems need a pure function",
                        w.prepared.line)
                    continue
                width = len(w.combos)
                w.grid = [values[i * width:(i + 1) * width] for i in range(len(w.points))]


def _check_order(n: int, rng: Random) -> list[int]:
    """The order of the check run: a seeded shuffle (a reversal keeps some patterns, e.g. a counter's parity
    over an odd number of calls), never the in-order run itself."""
    order = list(range(n))
    rng.shuffle(order)
    return order[::-1] if order == sorted(order) else order


def _failure_text(result: JobResult, opts: Options) -> str:
    detail = result.detail.strip()
    if result.status is CallStatus.ERROR and result.error_type != UNSUPPORTED and detail.startswith("MemoryError"):
        return "ran out of memory in the sandbox"
    if result.status is CallStatus.ERROR and result.error_type != UNSUPPORTED:
        if detail.split(":")[0] in ("ImportError", "ModuleNotFoundError", "NameError", "SyntaxError", "SystemExit"):
            return f"raised {detail}"
        return f"raised {detail} (narrow the input ranges or latent domains so that every call succeeds)"
    if result.error_type == UNSUPPORTED:
        return (f"returned a {detail} that cannot be a record value: outputs must be plain JSON data (numbers, "
                "strings, bools, None, lists, dicts with string keys) nested at most 50 levels deep, without NaN, "
                "infinity or ints over 4,300 digits")
    known = {
        "timeout": f"timed out in the sandbox (an endless loop, or slower than {opts.call_timeout_s} s a call)",
        "memory": "ran out of memory in the sandbox",
        "crashed": "crashed the sandboxed interpreter (exit, a fatal signal)",
        "output_too_large": "printed or returned too much output",
    }
    return known.get(result.status.value) or f"failed in the sandbox: {result.status.value} {detail}".strip()


def _select(w: _Work, opts: Options, stats: FilterStats, first_idx: int, python_version: str) -> list[Problem]:
    """Seeded draws of (observed point, true latent, intervened point) until `n` pass the filters."""
    assert w.prepared is not None
    spec, prepared = w.spec, w.prepared
    latents = {k: d.listed() for k, d in spec.latents.items()}
    keys = [[canonical(v) for v in row] for row in w.grid]
    ambiguous = [ambiguous_outputs(row) for row in w.grid]
    reachable = [sort_answer(row) for row in w.grid]
    rng = _rng(opts, spec.name, "problems")
    phash, shash = program_hashes(prepared.program)
    shown = display_program(prepared.program, prepared.entry, latents)
    n_points, n_combos = len(w.points), len(w.combos)
    out: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    tries = 0
    unwritable = ""  # why an answer could not be written, when one could not
    budget = 60 * opts.n + 100
    while len(out) < opts.n and tries < budget:
        tries += 1
        stats.drafted += 1
        i0 = rng.randrange(n_points)
        i1 = rng.randrange(n_points - 1)
        i1 += i1 >= i0
        k = rng.randrange(n_combos)
        if ambiguous[i0] or ambiguous[i1]:  # the gold would depend on whether 3.0 counts as 3
            unwritable = unwritable or "outputs such as 3 and 3.0, which the answer comparison takes as equal"
            stats.reject("unsupported_output")
            continue
        consistent = [j for j in range(n_combos) if keys[i0][j] == keys[i0][k]]
        if opts.mode == "counterfactual":
            answer = sort_answer(w.grid[i1][j] for j in consistent)
            if len(answer) >= len(reachable[i1]):
                stats.reject("no_abduction")
                continue
            if len(answer) < opts.min_answer_size or (opts.max_answer_size and len(answer) > opts.max_answer_size):
                stats.reject("answer_size")
                continue
            dedupe: tuple[Any, ...] = (i0, i1, keys[i0][k])
        else:
            answer = [w.grid[i1][k]]
            dedupe = (i0, i1, k)
        if dedupe in seen:
            stats.reject("duplicate")
            continue
        why = unwritable_answer(answer) or (None if unicode_text(w.grid[i0][k]) else "an observed output "
                                            "that is not valid Unicode")
        if why is not None:  # no completion could earn it
            unwritable = unwritable or why
            stats.reject("unsupported_output")
            continue
        true_latents = dict(zip(latents, w.combos[k]))
        draft = Draft(program=prepared.program, entry=prepared.entry, inputs=list(spec.inputs), latents=latents,
                      observations=[dict(zip(spec.inputs, w.points[i0]))],
                      intervention=dict(zip(spec.inputs, w.points[i1])), true_latents=true_latents,
                      template_id=f"{FAMILY}:{spec.name}")
        observations = [{"args": dict(draft.observations[0]), "output": w.grid[i0][k]}]
        intervention = {"args": dict(draft.intervention)}
        revealed = dict(true_latents) if opts.mode == "interventional" else None
        ex = ExecutedDraft(draft, opts.mode, w.combos, [w.grid[i0]], w.grid[i1], observations, intervention,
                           consistent, answer, revealed)
        prompt = build_prompt(draft, ex.prompt_context(shown))
        if opts.mode == "counterfactual" and find_latent_leaks(prompt, true_latents):
            stats.reject("latent_leak")
            continue
        seen.add(dedupe)
        trace = gold_trace(ex)
        idx = first_idx + len(out)
        meta = {
            "idx": idx, "seed": opts.seed, "template_id": draft.template_id, "function": spec.name,
            "knobs": {"inputs": {k2: d.describe() for k2, d in spec.inputs.items()},
                      "max_inputs": opts.max_inputs, "min_answer_size": opts.min_answer_size,
                      "max_answer_size": opts.max_answer_size},
            "program_hash": phash, "skeleton_hash": shash, "n_latent_combinations": n_combos,
            "n_consistent": len(consistent), "role": "custom",
            **({"unconditioned_answer_size": len(reachable[i1])} if opts.mode == "counterfactual" else {}),
        }
        out.append(Problem(
            id=f"{FAMILY}:{opts.mode}:test:{opts.seed}:{idx}", family=FAMILY, mode=opts.mode, split="test",
            level=3, program=prepared.program, entry=prepared.entry, inputs=list(spec.inputs),
            latents=latents, observations=observations, intervention=intervention, answer=answer,
            prompt=prompt, python_version=python_version, revealed=revealed, meta=meta,
            gold_trace=trace, generator_version=GENERATOR_VERSION))
    w.report.problems = len(out)
    if not out and unwritable:
        w.report.rejection = Rejection(spec.name, f"no problem passed the filters: its answers cannot be written in "
                                       f"or told apart by the answer format ({unwritable})", prepared.line)
    elif not out:
        w.report.rejection = Rejection(
            spec.name, "no problem passed the filters: the observation never narrows the answer "
            "(abduction does not matter for these domains)" if opts.mode == "counterfactual"
            else "no problem passed the filters", prepared.line)
    elif len(out) < opts.n:
        w.report.note = f"only {len(out)} of {opts.n}: few observations narrow the answer"
    return out
