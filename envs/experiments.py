"""Experiments on a counterfactual problem: which calls an agent may make, and what they reveal.

An experiment calls the problem's function at inputs of the agent's choice with the episode's true
(hidden) latent values. Its outcome rules out every latent assignment that would have produced a
different outcome, so the consistent set, and with it the gold answer, can only shrink.

Why literal-only parsing: the text protocol (`<run>f(x=5)</run>`) is model output, i.e. attacker
input. `ast.parse` of a length-bounded text in "eval" mode, one call node, and `ast.literal_eval`
per argument: nothing is ever evaluated, imported or looked up. Why a wrapper around the program:
an outcome may be an exception, and exceptions distinguish latents too; the wrapper turns each
call's exception into a value so one sandbox job covers every consistent latent assignment.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Hashable
from dataclasses import dataclass
from random import Random
from typing import Any

from envs.signature import call_args
from envs.values import value_key
from generators import Problem, value_text
from sandbox import Job, JobResult

MAX_RUN_CHARS = 2_000
MAX_STR_CHARS = 64
MAX_LIST_ITEMS = 16
MAX_OUTCOME_CHARS = 1_000  # an outcome's text beyond this is cut (`same_outcome`)
_CUT_END = " characters in all)"
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
_TRY_ENTRY = "_cfcode_try_call"
_TRY_WRAPPER = '''

def _cfcode_try_call(*args):
    try:
        return ["ok", {entry}(*args)]
    except Exception as exc:
        return ["error", type(exc).__name__ + ": " + str(exc)[:120]]
'''


class ExperimentRefused(ValueError):
    """The request is not a call the agent may make (the message says why, for the agent)."""


@dataclass(frozen=True)
class InputRule:
    """What one observable argument may be set to in an experiment."""

    name: str
    like: Any  # a value of the observed type
    int_bound: int = 100  # |int| <= bound (for ints, and ints inside lists)
    domain: tuple[Any, ...] | None = None  # explicit allowed values (custom records with listed domains)
    lo: int | None = None  # inclusive integer range (custom records with lo..hi domains)
    hi: int | None = None

    def check(self, value: Any) -> None:
        if self.domain is not None:
            if value_key(value) not in {value_key(v) for v in self.domain}:
                raise ExperimentRefused(f"{self.name} must be one of {value_text(list(self.domain))[:300]}")
            return
        if self.lo is not None and self.hi is not None:
            if type(value) is not int or not self.lo <= value <= self.hi:
                raise ExperimentRefused(f"{self.name} must be an integer in {self.lo}..{self.hi}")
            return
        _check_like(self.name, value, self.like, self.int_bound, depth=0)

    def describe(self) -> str:
        if self.domain is not None:
            return f"{self.name} in {value_text(list(self.domain))}"
        if self.lo is not None:
            return f"{self.name} in {self.lo}..{self.hi}"
        kind = type(self.like)
        if kind is int:
            return f"{self.name}: an integer in -{self.int_bound}..{self.int_bound}"
        if kind is str:
            return f"{self.name}: a string of at most {MAX_STR_CHARS} characters"
        if kind is list:
            return f"{self.name}: a list of at most {MAX_LIST_ITEMS} items like {value_text(self.like)[:60]}"
        return f"{self.name}: {value_text(self.like)}"


def _check_like(name: str, value: Any, like: Any, bound: int, depth: int) -> None:
    if type(value) is not type(like):
        raise ExperimentRefused(f"{name} must be a {type(like).__name__}, like {value_text(like)[:40]}")
    if type(value) is int and abs(value) > bound:
        raise ExperimentRefused(f"{name} must lie in -{bound}..{bound}")
    if type(value) is str and len(value) > MAX_STR_CHARS:
        raise ExperimentRefused(f"{name} must have at most {MAX_STR_CHARS} characters")
    if type(value) is list:
        if len(value) > MAX_LIST_ITEMS or depth > 2:
            raise ExperimentRefused(f"{name} must have at most {MAX_LIST_ITEMS} items")
        if like:
            for item in value:
                _check_like(name + "[...]", item, like[0], bound, depth + 1)
        elif value:
            raise ExperimentRefused(f"{name} must be an empty list")
    elif type(value) not in (int, str, list) and value_key(value) != value_key(like):
        raise ExperimentRefused(f"{name} can only be {value_text(like)[:40]}")


def input_rules(problem: Problem, int_bound: int = 100) -> list[InputRule]:
    """Rules per input: the declared domain of a custom record, else the observed value's type with
    bounds (ints within +-max(int_bound, 2 x the largest observed magnitude))."""
    declared = (problem.meta.get("knobs") or {}).get("inputs") if isinstance(problem.meta, dict) else None
    seen = [o["args"] for o in problem.observations] + [problem.intervention["args"]]
    biggest = max((abs(v) for args in seen for v in _ints(list(args.values()))), default=0)
    bound = max(int_bound, 2 * biggest)
    rules = []
    for name in problem.inputs:
        like = problem.observations[0]["args"][name]
        spec = declared.get(name) if isinstance(declared, dict) else None
        if isinstance(spec, str) and _RANGE.match(spec):
            lo, hi = (int(g) for g in _RANGE.match(spec).groups())  # type: ignore[union-attr]
            rules.append(InputRule(name, like, bound, lo=lo, hi=hi))
        elif isinstance(spec, list):
            rules.append(InputRule(name, like, bound, domain=tuple(spec)))
        else:
            rules.append(InputRule(name, like, bound))
    return rules


def _ints(values: list[Any]) -> list[int]:
    out = []
    for v in values:
        if type(v) is int:
            out.append(v)
        elif isinstance(v, list):
            out += _ints(v)
    return out


def parse_run(text: str, entry: str, rules: list[InputRule]) -> dict[str, Any]:
    """`f(x=5)` or `f(5)` -> {"x": 5}: one call of `entry` with literal arguments for every input."""
    text = text.strip()
    if len(text) > MAX_RUN_CHARS:
        raise ExperimentRefused(f"the call is longer than {MAX_RUN_CHARS} characters")
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExperimentRefused(f"write one call like {entry}(...) with literal values") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry):
        raise ExperimentRefused(f"only calls of {entry}(...) can be run")
    names = [r.name for r in rules]
    if len(node.args) > len(names) or any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords):
        raise ExperimentRefused(f"{entry} takes the arguments {', '.join(names)}")
    args: dict[str, Any] = {}
    for name, arg in zip(names, node.args):
        args[name] = _literal(arg, name)
    for kw in node.keywords:
        if kw.arg not in names or kw.arg in args:
            raise ExperimentRefused(f"unknown or repeated argument {kw.arg!r}; {entry} takes {', '.join(names)}")
        args[kw.arg] = _literal(kw.value, kw.arg)
    missing = [n for n in names if n not in args]
    if missing:
        raise ExperimentRefused(f"give every argument: missing {', '.join(missing)}")
    for rule in rules:
        rule.check(args[rule.name])
    return {n: args[n] for n in names}


def _literal(node: ast.AST, name: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise ExperimentRefused(f"{name} must be a literal value (a number, string or list)") from None
    if isinstance(value, tuple):
        value = list(value)
    if not _json_like(value, 0):
        raise ExperimentRefused(f"{name} must be a number, string, bool, None or list")
    return value


def _json_like(v: Any, depth: int) -> bool:
    if depth > 4:
        return False
    if v is None or type(v) in (bool, int, str):
        return True
    if type(v) is float:
        return math.isfinite(v)
    if type(v) is list:
        return all(_json_like(x, depth + 1) for x in v)
    return False


def forbidden_args(problem: Problem) -> dict[str, Any] | None:
    """The input no experiment may use: the intervention's, when the question is the function at another
    input. An intervention inside the function (its own `program`, e.g. do_internal) keeps the observed
    input, and the unchanged function there only repeats the observation: every input is then free."""
    return None if problem.intervention.get("program") else problem.intervention["args"]


def same_args(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(value_key(a[k]) == value_key(b[k]) for k in a)


def outcome_job(problem: Problem, args: dict[str, Any], combos: list[tuple[Any, ...]]) -> Job:
    """One sandbox job: `entry(args, combo)` for each combo, each outcome captured as ["ok", v] or
    ["error", "Type: message"]."""
    source = problem.program + _TRY_WRAPPER.format(entry=problem.entry)
    return Job(source, _TRY_ENTRY, [call_args(problem, args, c) for c in combos])


def outcome_keys(result: JobResult, n: int) -> list[Hashable] | None:
    """Per-combo outcome keys, or None when the job as a whole failed (e.g. a timeout)."""
    if result.status != "ok" or not isinstance(result.values, list) or len(result.values) != n:
        return None
    keys: list[Hashable] = []
    for row in result.values:
        if not (isinstance(row, list) and len(row) == 2):
            return None
        keys.append(("ok", value_key(row[1])) if row[0] == "ok" else ("error", str(row[1])))
    return keys


def same_outcome(rows: list[Any], keys: list[Hashable], true_pos: int, shown: str) -> list[bool]:
    """Which combos' outcomes the agent cannot tell from the true one's, `shown` (its `outcome_text`).
    The reply quotes the outcome cut at MAX_OUTCOME_CHARS, so outcomes with the same cut text look the same."""
    if not is_cut(shown):
        return [key == keys[true_pos] for key in keys]
    return [outcome_text(row) == shown for row in rows]


def is_cut(text: str) -> bool:
    return text.endswith(_CUT_END)


def outcome_text(row: list[Any]) -> str:
    """"returned 7" / "raised ValueError: ...", cut at MAX_OUTCOME_CHARS: the agent chooses the inputs, so
    a return value can be as large as the sandbox lets through, and the reply must stay a bounded message."""
    shown = value_text(row[1]) if row[0] == "ok" else str(row[1])
    if len(shown) > MAX_OUTCOME_CHARS:
        shown = f"{shown[:MAX_OUTCOME_CHARS]}... ({len(shown)}{_CUT_END}"
    return f"returned {shown}" if row[0] == "ok" else f"raised {shown}"


@dataclass(frozen=True)
class Experiment:
    """One executed experiment, as `info` reports it."""

    call: str
    args: dict[str, Any]
    outcome: str  # "returned 7" | "raised ZeroDivisionError: ..."
    ruled_out: int  # latent assignments this experiment removed
    remaining: int  # consistent assignments after it

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call, "args": dict(self.args), "outcome": self.outcome,
                "ruled_out": self.ruled_out, "remaining": self.remaining}


def candidate_inputs(problem: Problem, rules: list[InputRule], rng: Random, n: int) -> list[dict[str, Any]]:
    """Up to `n` distinct allowed inputs near the observed and intervened ones (for the baselines),
    never the `forbidden_args`."""
    per_input = []
    seen_args = [o["args"] for o in problem.observations] + [problem.intervention["args"]]
    for rule in rules:
        values: list[Any] = []
        if rule.domain is not None:
            values = list(rule.domain)
        elif rule.lo is not None and rule.hi is not None:
            values = list(range(rule.lo, rule.hi + 1)) if rule.hi - rule.lo <= 400 else [
                rng.randint(rule.lo, rule.hi) for _ in range(64)]
        else:
            for args in seen_args:
                values += _variants(args[rule.name])
        ok = []
        for v in values:
            try:
                rule.check(v)
            except ExperimentRefused:
                continue
            ok.append(v)
        per_input.append(list({value_key(v): v for v in ok}.values()))
    out: dict[Hashable, dict[str, Any]] = {}
    iv = forbidden_args(problem)
    for _ in range(n * 8):
        if len(out) >= n or not all(per_input):
            break
        args = {rule.name: rng.choice(vals) for rule, vals in zip(rules, per_input)}
        if iv is None or not same_args(args, iv):
            out.setdefault(tuple(value_key(args[r.name]) for r in rules), args)
    return list(out.values())


def _variants(v: Any) -> list[Any]:
    if type(v) is int:
        return [v + d for d in range(-8, 9)] + [0, 1, -1, 2 * v]
    if type(v) is str:
        return [v, v[:-1], v[1:], v + v[:1], v[::-1], ""]
    if type(v) is list:
        out = [v, v[:-1], v[1:], v[::-1]]
        if v and type(v[0]) is int:
            out += [[x + 1 for x in v], [x - 1 for x in v], v + [v[0]]]
        return out
    return [v]

