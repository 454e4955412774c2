"""One validator for every dataclass filled from user input: TOML configs, family knobs, JSONL records.

Why derive the checks from the dataclass field types: a new field is checked the moment it is
declared, and the configs, the knobs and the problem records cannot drift into three validators.
Supported annotations: int, float (an int is accepted), str, bool, None, Any, X | Y, Literal[...],
list[T], tuple[T, ...], dict[K, V]; other classes are checked with isinstance. `bool` is never an int
here (`max_steps = true` is an error, not 1).
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from generators.errors import InputError, describe


@cache
def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's init fields, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


@cache
def required_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
                 and f.default_factory is dataclasses.MISSING)


def type_name(tp: Any) -> str:
    """Human words for an annotation: `int`, `list of str`, `int or None`, `one of 'a', 'b'`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any value"
    if tp is type(None) or tp is None:
        return "None"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        inner = [a for a in args if a is not Ellipsis]
        return f"{origin.__name__} of {type_name(inner[0])}" if inner and inner[0] is not Any else origin.__name__
    if origin is dict:
        return f"dict of {type_name(args[0])} -> {type_name(args[1])}" if args else "dict"
    if tp is float:
        return "number"
    return getattr(tp, "__name__", str(tp))


def check_value(tp: Any, value: Any, field: str, where: str = "") -> None:
    """Raise InputError naming `where` and the field path (`latents.r[2]`) when `value` is not a `tp`."""
    _strict(tp)(value, field, where)


Check = Callable[[Any, str, str], bool]
Strict = Callable[[Any, str, str], None]


@cache
def _strict(tp: Any) -> Strict:
    """`_checker(tp)` that raises the InputError itself (compiled once per annotation: hashing a
    typing alias costs more than checking a value, so nested checks hold these, not the annotations)."""
    test, name = _checker(tp), type_name(tp)

    def run(value: Any, field: str, where: str) -> None:
        if not test(value, field, where):
            raise InputError(f"expected {name}, got {describe(value)}", where=where, field=field)

    return run


@cache
def _field_checks(cls: type) -> dict[str, Strict]:
    return {name: _strict(tp) for name, tp in field_types(cls).items()}


def _ok(value: Any, field: str, where: str) -> bool:
    return True


@cache
def _checker(tp: Any) -> Check:
    """A compiled check for one annotation (cached: records are checked by the thousand)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return _ok
    if tp is type(None) or tp is None:
        return lambda v, f, w: v is None
    if tp is bool:
        return lambda v, f, w: isinstance(v, bool)
    if tp is int:
        return lambda v, f, w: isinstance(v, int) and not isinstance(v, bool)
    if tp is float:
        return lambda v, f, w: isinstance(v, (int, float)) and not isinstance(v, bool)
    if origin is typing.Literal:
        return lambda v, f, w: any(v == a and type(v) is type(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        options = [_checker(a) for a in args]
        return lambda v, f, w: any(c(v, f, w) for c in options)
    if origin in (list, tuple, set, frozenset):
        kinds = (list, tuple) if origin in (list, tuple) else (origin, list)
        if len(args) > 1 and args[1] is not Ellipsis:  # fixed-length tuple[A, B]
            parts = [_strict(a) for a in args]

            def fixed(v: Any, f: str, w: str) -> bool:
                if not isinstance(v, kinds) or len(v) != len(parts):
                    return False
                for i, (check, item) in enumerate(zip(parts, v, strict=True)):
                    check(item, f"{f}[{i}]", w)
                return True
            return fixed
        inner = args[0] if args else Any
        if inner is Any:
            return lambda v, f, w: isinstance(v, kinds)
        each = _strict(inner)

        def items(v: Any, f: str, w: str) -> bool:
            if not isinstance(v, kinds):
                return False
            for i, item in enumerate(v):
                each(item, f"{f}[{i}]", w)
            return True
        return items
    if origin is dict or tp is dict:
        key_t, val_t = args if args else (Any, Any)
        if key_t is Any and val_t is Any:
            return lambda v, f, w: isinstance(v, dict)
        if key_t is str and val_t is Any:
            return lambda v, f, w: isinstance(v, dict) and all(isinstance(k, str) for k in v)

        key_check, val_check = _strict(key_t), _strict(val_t)

        def entries(v: Any, f: str, w: str) -> bool:
            if not isinstance(v, dict):
                return False
            for k, item in v.items():
                key_check(k, f"{f} key", w)
                val_check(item, f"{f}.{k}", w)
            return True
        return entries
    if origin is not None:
        return lambda v, f, w: isinstance(v, origin)
    if isinstance(tp, type):
        return lambda v, f, w: isinstance(v, tp)
    return _ok  # an annotation we cannot check (a Callable, a TypeVar): the dataclass decides


def check_fields(cls: type, data: Any, *, where: str = "", locate: Callable[[str], str] | None = None,
                 what: str = "key", prefix: str = "", error: type[InputError] = InputError) -> dict[str, Any]:
    """Validate a mapping against `cls`'s fields: unknown keys, missing required keys, every value's type.

    `locate(key)` may return a more precise `where` for one key (a TOML file's `path:line`); `prefix`
    is prepended to field names (`observations[0].`); `error` is the InputError subclass raised."""
    try:
        return _check_fields(cls, data, where, locate or (lambda key: where), what, prefix)
    except InputError as exc:
        if type(exc) is error or error is InputError:
            raise
        raise error(exc.detail, where=exc.where, field=exc.field) from None


def _check_fields(cls: type, data: Any, where: str, at: Callable[[str], str], what: str,
                  prefix: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        label = f"a table of {getattr(cls, '__name__', cls)} {what}s" if not prefix else "an object"
        raise InputError(f"expected {label}, got {describe(data)}", where=where, field=prefix.rstrip("."))
    types_ = field_types(cls)
    unknown = [str(key) for key in data if key not in types_]
    if unknown:
        raise InputError(f"unknown {what}s {[prefix + k for k in unknown]}; known {what}s: {sorted(types_)}",
                         where=at(unknown[0]))
    for key in required_fields(cls):
        if key not in data:
            raise InputError(f"missing required {what}", where=where, field=prefix + key)
    checks = _field_checks(cls)
    for key, value in data.items():
        checks[key](value, prefix + key, at(key))
    return dict(data)


def build_dataclass(cls: type, data: Any, *, where: str = "", locate: Callable[[str], str] | None = None,
          what: str = "key") -> Any:
    """`cls(**data)` after `check_fields`; a ValueError of the class's own checks becomes an InputError."""
    kwargs = check_fields(cls, data, where=where, locate=locate, what=what)
    try:
        return cls(**kwargs)
    except InputError:
        raise
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc), where=where) from exc


MAX_COUNT = 2**31 - 1  # sizes and counts (batch, steps between saves, samples): what a 32-bit int holds


def check_count(value: int, field: str, least: int = 1, where: str = "") -> int:
    """A count (`--n`, `--episodes`, `n_train`) in least..MAX_COUNT: one line naming the option, not a
    traceback from deep inside or a run without end (`--episodes 10**23`)."""
    if not least <= value <= MAX_COUNT:
        raise InputError(f"expected an integer in {least}..{MAX_COUNT}, got {value}", where=where, field=field)
    return value


def check_ranges(cfg: Any, *, at_least_1: Sequence[str] = (), seeds: Sequence[str] = (),
                 positive: Sequence[str] = (), non_negative: Sequence[str] = (),
                 probabilities: Sequence[str] = ()) -> None:
    """Ranges a type cannot say, for every config's __post_init__: ValueErrors that start with the
    field's name (so `build_dataclass` can point at its line). None (an optional field unset) passes;
    every float check also refuses NaN."""
    def bad(name: str, ok: Callable[[Any], bool]) -> bool:
        value = getattr(cfg, name)
        return value is not None and not ok(value)

    for name in at_least_1:
        if bad(name, lambda v: v >= 1):
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
        if bad(name, lambda v: v <= MAX_COUNT):  # 10**20 passed and failed deep in the trainer (islice)
            raise ValueError(f"{name} must be at most {MAX_COUNT}, got {getattr(cfg, name)}")
    for name in seeds:  # numpy (used by every trainer's set_seed and the bootstrap) takes 0 .. 2**32 - 1
        if bad(name, lambda v: 0 <= v < 2**32):
            raise ValueError(f"{name} must be in 0..{2**32 - 1}, got {getattr(cfg, name)}")
    for name in positive:
        if bad(name, lambda v: 0.0 < v < math.inf):
            raise ValueError(f"{name} must be a finite number > 0, got {getattr(cfg, name)}")
    for name in non_negative:
        if bad(name, lambda v: 0.0 <= v < math.inf):
            raise ValueError(f"{name} must be a finite number >= 0, got {getattr(cfg, name)}")
    for name in probabilities:  # top_p: 0 keeps no token
        if bad(name, lambda v: 0.0 < v <= 1.0):
            raise ValueError(f"{name} must be in (0, 1], got {getattr(cfg, name)}")
