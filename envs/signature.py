"""Argument lists by parameter name: a record's `latents` dict need not follow the signature's order.

Why: records are serialised with sorted keys, so a program `f(s, k, c)` comes back with latents
`{"c": ..., "k": ...}`; positional `inputs + latents` would call `f(s, c, k)`. Reading the
parameter order from the program's own source keeps every call right.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any

from generators import Problem


@lru_cache(maxsize=4096)
def parameters(program: str, entry: str) -> tuple[str, ...]:
    """Parameter names of `entry` in signature order (ValueError if it is not defined)."""
    tree = ast.parse(program)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None:
        raise ValueError(f"program does not define {entry!r}")
    return tuple(a.arg for a in [*fn.args.posonlyargs, *fn.args.args])


def call_args(problem: Problem, args: dict[str, Any], combo: tuple[Any, ...], program: str | None = None
              ) -> list[Any]:
    """`entry`'s arguments for observable `args` and a latent combination (in `problem.latents` order)."""
    values = {**args, **dict(zip(problem.latents, combo))}
    return [values[name] for name in parameters(program or problem.program, problem.entry)]
