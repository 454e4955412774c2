"""The problem record: one abduction-intervention-prediction problem, one JSONL line.

Every downstream consumer (env, SFT data, eval) reads these records and nothing else, so the
schema is versioned and serialised canonically (sorted keys, no whitespace variance) so that
the same seed gives byte-identical files.
"""
from __future__ import annotations

import ast
import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from generators.errors import InputError, describe
from generators.family import FAMILIES, MODES, get_family  # noqa: F401  (MODES: part of the record schema)
from generators.typecheck import check_fields

SCHEMA_VERSION = 1

Mode = Literal["counterfactual", "interventional"]
Split = Literal["train", "test"]
SPLITS: tuple[str, ...] = ("train", "test")
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)


class RecordError(InputError):
    """A problem record is malformed; the message names file:line, the field and what was expected."""


@dataclass(frozen=True)
class Observation:
    args: dict[str, Any]
    output: Any


@dataclass(frozen=True)
class Intervention:
    """Shape of `Problem.intervention` (checked on read; the record keeps the plain dict)."""

    args: dict[str, Any]
    internal: dict[str, Any] | None = None  # do_internal: the internal assignment
    program: str | None = None  # do_internal: the rewritten program


@dataclass
class Problem:
    """One problem. `program` is executable Python; latents are parameters of `entry`."""

    id: str
    family: str
    mode: Mode
    split: Split
    level: int  # curriculum level 1-5
    program: str  # executable source; latents are parameters
    entry: str  # function name to call
    inputs: list[str]  # observable argument names
    latents: dict[str, list[Any]]  # latent name -> full domain
    observations: list[dict[str, Any]]  # [{"args": {...}, "output": v}] factual evidence
    intervention: dict[str, Any]  # {"args": {...}}  (do_internal: also "internal": {...})
    answer: list[Any]  # sorted distinct values
    prompt: str
    python_version: str
    revealed: dict[str, Any] | None = None  # latent values, interventional mode only
    meta: dict[str, Any] = field(default_factory=dict)  # knobs, template id, hashes
    gold_trace: str = ""  # step-by-step abduction / intervention / prediction, ends in <answer>...</answer>
    schema_version: int = SCHEMA_VERSION
    generator_version: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes, where: str = "", *, unique_keys: bool = False) -> Problem:
        """Parse and validate one JSONL line; any defect raises RecordError naming `where` and the field.

        `unique_keys` (the file readers): a key given twice in one object is an error; JSON keeps the last
        one silently, so `"answer": [1], ..., "answer": [999]` would change the gold answer unseen."""
        if not isinstance(line, (str, bytes, bytearray)):
            raise RecordError(f"expected a JSON object as text, got {describe(line)}", where=where)
        if isinstance(line, (bytes, bytearray)):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RecordError(f"expected UTF-8 text, got byte {line[exc.start]:#04x} at offset {exc.start}",
                                  where=where) from None
        try:
            data = json.loads(line, object_pairs_hook=_unique_keys) if unique_keys else json.loads(line)
        except _DuplicateKey as exc:
            raise RecordError(f"expected each key once per object, got {exc.args[0]!r} twice", where=where) from None
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"not JSON: {exc}", where=where) from None
        if _SURROGATE_ESCAPE.search(line) or (not line.isascii() and _SURROGATE.search(line)):  # rare: then
            # walk the record for the field that holds one
            _check_no_lone_surrogates(data, where)
        return cls.from_dict(data, where)

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Problem:
        """A validated Problem from a decoded record (every field's type and allowed values)."""
        params = _validate(data, where)
        # Latents in the signature's order: records are written with sorted keys, so a program
        # `f(s, k, c)` reads back as {"c", "k"}; every consumer that builds calls, tuples or
        # prompts from `latents` must see the order the generator used.
        latents = dict(sorted(data["latents"].items(), key=lambda item: params.index(item[0])))
        return cls(**{**data, "latents": latents})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def validate_record(data: Any, where: str = "") -> dict[str, Any]:
    """The one schema check every reader of problem records goes through; returns `data` unchanged.

    Types come from the `Problem` annotations (the same validator as configs and knobs); the rules
    below add what a type cannot say: allowed values, a program that parses and defines `entry`,
    inputs and latents that are parameters of `entry`."""
    _validate(data, where)
    return data


def _validate(data: Any, where: str) -> tuple[str, ...]:
    """`validate_record`'s checks; returns `entry`'s parameter names in signature order."""
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object (one problem record), got {describe(data)}", where=where)
    for field_ in ("answer", "latents", "observations", "intervention", "revealed", "meta"):
        if _too_deep(data.get(field_), MAX_VALUE_DEPTH):  # before any recursive check or comparison key
            raise RecordError(f"expected values nested at most {MAX_VALUE_DEPTH} levels deep", where=where,
                              field=field_)
    check_fields(Problem, data, where=where, what="field", error=RecordError)

    def bad(field_: str, expected: str, got: Any) -> RecordError:
        return RecordError(f"expected {expected}, got {describe(got)}", where=where, field=field_)

    if data["level"] not in LEVELS:
        raise bad("level", "an integer 1-5", data["level"])
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise bad("schema_version", str(SCHEMA_VERSION), data["schema_version"])
    try:
        if data["family"] != "custom":  # records of `cfcode counterfactualize` (user functions)
            get_family(data["family"])
    except ValueError:
        raise bad("family", f"a known family ({', '.join(sorted(FAMILIES))})", data["family"]) from None
    for i, name in enumerate(data["inputs"]):
        if not name.isidentifier():
            raise bad(f"inputs[{i}]", "a parameter name", name)
    if not data["latents"]:
        raise bad("latents", "at least one latent", data["latents"])
    combos = 1
    for name, domain in data["latents"].items():
        if not name.isidentifier():
            raise bad("latents key", "a parameter name", name)
        if not isinstance(domain, list) or not domain:
            raise bad(f"latents.{name}", "a non-empty list of values", domain)
        combos *= len(domain)
    if combos > MAX_LATENT_COMBINATIONS:  # every consumer enumerates them (oracle, verifier, gold trace)
        raise RecordError(f"expected at most {MAX_LATENT_COMBINATIONS} latent combinations, got {combos}",
                          where=where, field="latents")
    params = _check_program(data["program"], data["entry"], "program", where)
    for field_, names in (("inputs", data["inputs"]), ("latents", list(data["latents"]))):
        missing = [n for n in names if n not in params]
        if missing:
            raise bad(field_, f"parameters of {data['entry']}({', '.join(params)})", missing[0])
    if set(data["inputs"]) & set(data["latents"]):
        raise bad("latents", "names distinct from inputs", sorted(set(data["inputs"]) & set(data["latents"])))
    revealed = data.get("revealed")
    if revealed is not None:  # the true latents: what the abduction gold and the prompt are built from
        if set(revealed) != set(data["latents"]):
            raise bad("revealed", f"a value for each latent ({', '.join(data['latents'])}) and nothing else",
                      sorted(revealed))
        for name, value in revealed.items():
            if _json_text(value) not in {_json_text(v) for v in data["latents"][name]}:
                raise bad(f"revealed.{name}", f"a value of latents.{name}", value)
    if not data["observations"]:
        raise bad("observations", "at least one observation", data["observations"])
    for i, obs in enumerate(data["observations"]):
        check_fields(Observation, obs, where=where, what="field", prefix=f"observations[{i}].",
                     error=RecordError)
    check_fields(Intervention, data["intervention"], where=where, what="field", prefix="intervention.",
                 error=RecordError)
    if data["intervention"].get("program") is not None:
        _check_program(data["intervention"]["program"], data["entry"], "intervention.program", where)
    return params


# A surrogate code point, raw or as a JSON escape (`\\ud800`): JSON allows a lone one, Unicode does not, and
# every writer (eval's samples, exports, prompts sent to an engine) fails on it only after all the work.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_no_lone_surrogates(data: Any, where: str) -> None:
    """Raise RecordError naming the first field path (`observations[0].args.x`) whose text (a value or a
    key) is not valid Unicode. Iterative: nesting depth is checked later."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                sub = f"{path}.{key}" if path else str(key)
                if not _is_unicode(key):
                    raise RecordError(f"expected keys without lone UTF-16 surrogates, got {key!r}", where=where,
                                      field=path or "record")
                stack.append((item, sub))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, str) and not _is_unicode(value):
            raise RecordError(f"expected text without lone UTF-16 surrogates (not valid Unicode), got "
                              f"{describe(value)}", where=where, field=path or "record")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


MAX_LATENT_COMBINATIONS = 100_000  # the families make at most ~30,000 (multi_obs: 3 latents of 31 values)
MAX_VALUE_DEPTH = 40  # lists/dicts inside one field of a record (an answer the parser reads is at most 6 deep)


def _too_deep(value: Any, limit: int) -> bool:
    """Nesting deeper than `limit`? Iterative: a hostile record must not exhaust the recursion limit here
    or in whatever reads it later (comparison keys, JSON text)."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, tuple, dict)):
            if depth >= limit:
                return True
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def _json_text(value: Any) -> str:
    """Values compared as JSON text, so True is not 1 (as in `==`)."""
    return json.dumps(value, sort_keys=True)


def _check_program(source: str, entry: str, field_: str, where: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise RecordError(f"expected Python source that parses, got {detail}{line}", where=where,
                          field=field_) from None
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if entry not in defined:
        raise RecordError(f"expected a function defined in program ({', '.join(sorted(defined)) or 'none'}),"
                          f" got {describe(entry)}", where=where, field="entry")
    fn = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry)
    return tuple(a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs])


def latent_combinations(latents: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Every assignment of the latents, in domain order (first latent varies slowest)."""
    return list(itertools.product(*latents.values()))


def sort_answer(values) -> list[Any]:
    """Canonical answer order: distinct values, sorted by (type name, JSON text) so mixed types sort."""
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True), v)
    return [seen[k] for k in sorted(seen, key=lambda k: (type(seen[k]).__name__, _num_key(seen[k]), k))]


def _num_key(v: Any) -> int | float:
    """The number itself (an int of any size compares exactly; float() overflowed past 1e308)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
