"""helper_calls (beyond the paper, OOD): the entry calls a chain of helper functions.

    def shift(v, k):          # the latent is passed down the chain, sometimes renamed
        w = v * 2 + k
        if w > 9:
            return w - k
        return w

    def scale(v, k):
        return shift(v + 3, k) * 2

    def f(x, r):              # shown as: r = random.randint(0, 9)
        y = scale(x, r)
        return y % 5

Why: the model must follow values across call boundaries (argument binding, renamed parameters,
early returns) before it can abduce the latent. Knobs: chain length, fan-out (a helper calling two
helpers), latent domain, input range, expression depth, modulus.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from generators.codegen import (
    Assign,
    BinOp,
    Call,
    Const,
    Function,
    If,
    Return,
    Var,
    distinct_pair,
    rand_condition,
)
from generators.family import Draft, FamilyConfig, register_family

# ------------------------------------------------------------------------------------------------
# Building blocks shared by the beyond-paper families (recursion, multi_obs, do_internal and data
# import them from here): small expressions, and IR functions that call each other.


def ir_callables(functions: list[Function], log: list[str] | None = None,
                 max_calls: int = 10_000) -> dict[str, Callable[..., Any]]:
    """Python callables for IR functions that call one another (helpers, recursion), so a gold-trace
    explanation can follow calls with the generator's own IR. Supports Assign / If / Return bodies.
    Each finished call is appended to `log` as "name(args) = value"."""
    table: dict[str, Callable[..., Any]] = {}
    budget = [0]

    def make(fn: Function) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            budget[0] += 1
            if budget[0] > max_calls:
                raise RuntimeError("explanation call budget exceeded")
            env: dict[str, Any] = {**table, **dict(zip(fn.params, args))}
            value = _run_body(fn.body, env)
            if log is not None:
                log.append(f"{fn.name}({', '.join(repr(a) for a in args)}) = {value!r}")
            return value
        return call

    for fn in functions:
        table[fn.name] = make(fn)
    return table


_NOT_RETURNED = object()


def _run_body(body: list, env: dict[str, Any]) -> Any:
    for stmt in body:
        if isinstance(stmt, Assign):
            env[stmt.name] = stmt.expr.eval(env)
        elif isinstance(stmt, Return):
            return stmt.expr.eval(env)
        elif isinstance(stmt, If):
            value = _run_body(stmt.body if stmt.cond.eval(env) else stmt.orelse, env)
            if value is not _NOT_RETURNED:
                return value
        else:
            raise TypeError(f"ir_callables supports Assign/If/Return only, got {type(stmt).__name__}")
    return _NOT_RETURNED


def call_chain_text(log: list[str], limit: int = 8) -> str:
    """The finished calls, innermost first, each distinct call once, shortened for the trace."""
    log = list(dict.fromkeys(log))
    if len(log) > limit:
        log = log[: limit - 2] + [f"... {len(log) - limit + 1} more calls ...", log[-1]]
    return ", ".join(log)


def affine(rng: Random, names: list[str], const_max: int, terms: int = 1, must_use: str | None = None) -> Any:
    """`a*2 + b - 3`-style expression: sums of variables scaled by small constants, so values stay small
    enough to follow by hand (no variable times variable)."""
    others = [n for n in names if n != must_use]
    extra = min(len(others), max(terms, 1) - bool(must_use))
    picks = ([must_use] if must_use else []) + rng.sample(others, extra)
    rng.shuffle(picks)
    expr: Any = None
    for name in picks:
        term: Any = Var(name) if rng.random() < 0.6 else BinOp("*", Var(name), Const(rng.randint(2, 3)))
        expr = term if expr is None else BinOp(rng.choice(["+", "-"]), expr, term)
    if rng.random() < 0.7:
        expr = BinOp(rng.choice(["+", "-"]), expr, Const(rng.randint(1, const_max)))
    return expr


def small_arg(rng: Random, names: list[str], const_max: int) -> Any:
    """An argument passed down the chain: a shift or a remainder, so values stay in the range the
    helpers' guards test (otherwise every guard fires at once and the chain is cut short)."""
    v = Var(rng.choice(names))
    return rng.choice([BinOp("+", v, Const(rng.randint(1, const_max))),
                       BinOp("-", v, Const(rng.randint(1, const_max))),
                       BinOp("%", v, Const(rng.randint(5, 12))), v])


def call_graph_draft(rng: Random, cfg: Any, functions: list[Function], entry: Function, template_id: str,
                     extra_meta: dict[str, Any], entry_last: bool = True) -> Draft:
    """Draft for a program of several IR functions with entry `f(x, r)`, x in 0..cfg.x_max and r in
    0..cfg.latent_max; the gold trace lists the calls made (innermost first) and the entry's steps."""
    order = functions + [entry] if entry_last else [entry] + functions
    program = "\n\n".join(fn.source().rstrip("\n") for fn in order) + "\n"
    x0, x1 = distinct_pair(rng, 0, cfg.x_max)

    def explain(args: dict[str, Any], latents: dict[str, Any]) -> str:
        log: list[str] = []
        steps = entry.narrate({**args, **latents, **ir_callables(functions, log)})
        return f"calls, innermost first: {call_chain_text(log)}; then {steps}"

    return Draft(
        program=program, entry=entry.name, inputs=["x"], latents={"r": list(range(cfg.latent_max + 1))},
        observations=[{"x": x0}], intervention={"x": x1}, true_latents={"r": rng.randint(0, cfg.latent_max)},
        template_id=template_id, explain=explain, extra_meta=extra_meta,
    )


# ------------------------------------------------------------------------------------------------
# The helper_calls family

HELPER_NAMES = ("shift", "scale", "clip", "fold", "mix", "bump", "wrap", "squash", "twist", "nudge", "blend",
                "tweak")
LATENT_ALIASES = ("k", "s", "t", "p", "q")


@dataclass
class HelperCallsConfig(FamilyConfig):
    latent_max: int = 9  # r in 0..latent_max
    x_max: int = 20  # inputs in 0..x_max
    const_max: int = 6  # constants in helper bodies
    chain: int = 3  # number of helpers on the call chain below the entry
    fan_out: float = 0.3  # probability that a helper also calls a second helper further down
    expr_depth: int = 1  # depth of helper arithmetic
    modulus_max: int = 7  # entry returns y % m with m in 3..modulus_max

    def validate(self) -> None:
        self.check_ranges(latent_max=(1, 60), x_max=(1, 1000), const_max=(2, 50), chain=(1, 6),
                     fan_out=(0.0, 1.0), expr_depth=(1, 3), modulus_max=(3, 50))


LEVELS = {
    1: {"latent_max": 4, "x_max": 10, "const_max": 4, "chain": 1, "fan_out": 0.0, "expr_depth": 1,
        "modulus_max": 4},
    2: {"latent_max": 6, "x_max": 15, "const_max": 5, "chain": 2, "fan_out": 0.0, "expr_depth": 1,
        "modulus_max": 5},
    3: {"latent_max": 9, "x_max": 20, "const_max": 6, "chain": 3, "fan_out": 0.3, "expr_depth": 1,
        "modulus_max": 7},
    4: {"latent_max": 12, "x_max": 30, "const_max": 8, "chain": 4, "fan_out": 0.4, "expr_depth": 2,
        "modulus_max": 9},
    5: {"latent_max": 15, "x_max": 50, "const_max": 9, "chain": 5, "fan_out": 0.5, "expr_depth": 2,
        "modulus_max": 11},
}


def _helper(rng: Random, cfg: HelperCallsConfig, name: str, alias: str, callees: list[str]) -> Function:
    """One helper `name(v, alias)`: optional local, optional early return, a return that calls `callees`."""
    names = ["v", alias]
    body: list = []
    if rng.random() < 0.5:
        body.append(Assign("w", affine(rng, names, cfg.const_max, cfg.expr_depth, must_use="v")))
        names = ["w", alias] if rng.random() < 0.5 else ["v", "w", alias]
    if rng.random() < 0.5:
        # guards test the running value or the latent itself (threshold, parity, comparison)
        guard = rand_condition(rng, names, max(3, cfg.x_max // 2))
        body.append(If(guard, [Return(affine(rng, names, cfg.const_max, 1, must_use=alias))]))
    plain = [n for n in names if n != alias]
    result: Any = None
    for callee in callees:
        call = Call(callee, (small_arg(rng, plain, cfg.const_max), Var(alias)))
        result = call if result is None else BinOp(rng.choice(["+", "-"]), result, call)
    if result is None:  # the leaf must use the latent, otherwise the output would not depend on it
        result = affine(rng, names, cfg.const_max, cfg.expr_depth + 1, must_use=alias)
    elif rng.random() < 0.5:
        result = BinOp(rng.choice(["+", "-"]), result, affine(rng, names, cfg.const_max, 1))
    return Function(name, ["v", alias], body + [Return(result)])


def draft(rng: Random, cfg: HelperCallsConfig) -> Draft:
    names = rng.sample(HELPER_NAMES, cfg.chain)
    aliases = [rng.choice(LATENT_ALIASES) if rng.random() < 0.5 else "r" for _ in names]
    fan = 0
    helpers: list[Function] = []
    for i in reversed(range(cfg.chain)):  # build bottom-up so callees exist
        callees = [names[i + 1]] if i + 1 < cfg.chain else []
        if i + 2 < cfg.chain and rng.random() < cfg.fan_out:
            callees.append(names[rng.randint(i + 2, cfg.chain - 1)])
            fan += 1
        helpers.insert(0, _helper(rng, cfg, names[i], aliases[i], callees))
    start = Call(names[0], (small_arg(rng, ["x"], cfg.const_max), Var("r")))
    modulus = rng.randint(3, cfg.modulus_max)
    entry = Function("f", ["x", "r"], [Assign("y", start), Return(BinOp("%", Var("y"), Const(modulus)))])
    return call_graph_draft(
        rng,
        cfg,
        helpers,
        entry,
        f"helper_calls/chain{cfg.chain}_fan{fan}",
        {"helpers": names, "fan_out_calls": fan},
        entry_last=rng.random() < 0.7,
    )


register_family("helper_calls", HelperCallsConfig, draft, levels=LEVELS, default_level=3, paper=False,
                ood=True,
                description="the entry calls a chain of helper functions that pass the latent along")
