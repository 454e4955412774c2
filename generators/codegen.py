"""A tiny program IR shared by the code families: build a program as data, render it to Python source,
and narrate one run of it for the gold trace.

Why an IR rather than string templates: the same object gives the executable source (ground truth is
still computed by running that source in the sandbox) and the generator's own step-by-step
explanation ("x=4 > 3, so y = x + r = 6"), so traces never drift from programs.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from random import Random
from typing import Any

from generators.family import Draft

_BIN = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
_CMP = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}
_PREC = {"+": 1, "-": 1, "*": 2, "//": 2, "%": 2}


@dataclass(frozen=True)
class Var:
    name: str

    def text(self) -> str:
        return self.name

    def eval(self, env: dict[str, Any]) -> Any:
        return env[self.name]


@dataclass(frozen=True)
class Const:
    value: Any

    def text(self) -> str:
        return repr(self.value)

    def eval(self, env: dict[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr

    def text(self) -> str:
        return f"{_wrap(self.left, self.op, False)} {self.op} {_wrap(self.right, self.op, True)}"

    def eval(self, env: dict[str, Any]) -> Any:
        return _BIN[self.op](self.left.eval(env), self.right.eval(env))


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr

    def text(self) -> str:
        return f"{self.left.text()} {self.op} {self.right.text()}"

    def eval(self, env: dict[str, Any]) -> bool:
        return _CMP[self.op](self.left.eval(env), self.right.eval(env))


@dataclass(frozen=True)
class Call:
    """Call of a builtin (min, max, abs, len) or of a helper defined in the same program."""

    func: str
    args: tuple[Expr, ...]

    def text(self) -> str:
        return f"{self.func}({', '.join(a.text() for a in self.args)})"

    def eval(self, env: dict[str, Any]) -> Any:
        fn = {"min": min, "max": max, "abs": abs, "len": len}.get(self.func) or env[self.func]
        return fn(*(a.eval(env) for a in self.args))


Expr = Var | Const | BinOp | Compare | Call


def _wrap(e: Expr, parent: str, right: bool) -> str:
    if isinstance(e, BinOp) and (_PREC[e.op] < _PREC[parent] or (right and _PREC[e.op] == _PREC[parent])):
        return f"({e.text()})"
    return e.text()


@dataclass
class Assign:
    name: str
    expr: Expr


@dataclass
class If:
    cond: Expr
    body: list[Stmt]
    orelse: list[Stmt] = field(default_factory=list)  # may hold a single If, rendered as elif


@dataclass
class While:
    cond: Expr
    body: list[Stmt]


@dataclass
class For:
    var: str
    count: Expr  # for var in range(count)
    body: list[Stmt]


@dataclass
class Return:
    expr: Expr


Stmt = Assign | If | While | For | Return


@dataclass
class Function:
    name: str
    params: list[str]
    body: list[Stmt]

    def source(self) -> str:
        lines = [f"def {self.name}({', '.join(self.params)}):"]
        _render(self.body, 1, lines)
        return "\n".join(lines) + "\n"

    def narrate(self, args: dict[str, Any], max_steps: int = 10) -> str:
        """A short account of one run: branch decisions, assignments, loop counts, the return."""
        steps: list[str] = []
        env = dict(args)
        try:
            value = _run(self.body, env, steps, [0])
        except _Return as ret:
            value = ret.value
        if len(steps) > max_steps:
            steps = steps[: max_steps - 2] + [f"... ({len(steps) - max_steps + 2} more steps)", steps[-1]]
        return "; ".join(steps) if steps else f"returns {value!r}"


def _render(body: list[Stmt], depth: int, lines: list[str]) -> None:
    pad = "    " * depth
    for s in body:
        if isinstance(s, Assign):
            lines.append(f"{pad}{s.name} = {s.expr.text()}")
        elif isinstance(s, Return):
            lines.append(f"{pad}return {s.expr.text()}")
        elif isinstance(s, If):
            lines.append(f"{pad}if {s.cond.text()}:")
            _render(s.body, depth + 1, lines)
            orelse = s.orelse
            while len(orelse) == 1 and isinstance(orelse[0], If):
                lines.append(f"{pad}elif {orelse[0].cond.text()}:")
                _render(orelse[0].body, depth + 1, lines)
                orelse = orelse[0].orelse
            if orelse:
                lines.append(f"{pad}else:")
                _render(orelse, depth + 1, lines)
        elif isinstance(s, While):
            lines.append(f"{pad}while {s.cond.text()}:")
            _render(s.body, depth + 1, lines)
        elif isinstance(s, For):
            lines.append(f"{pad}for {s.var} in range({s.count.text()}):")
            _render(s.body, depth + 1, lines)
        else:
            raise TypeError(f"unknown statement {s!r}")


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def run_body(body: list[Stmt], env: dict[str, Any], branches: dict[int, set[bool]] | None = None) -> Any:
    """Run IR statements on `env` (updated in place) without narrating; the returned value, or None.
    `branches` collects, per `id(If)`, the outcomes its condition took (to find dead branches)."""
    try:
        return _run(body, env, [], [0], branches)
    except _Return as ret:
        return ret.value


def dead_branches(fn: Function, arg_sets: list[dict[str, Any]]) -> int:
    """How many if-statements of `fn` never take one of their two sides over `arg_sets` (e.g. `if r >= 14`
    with r in 0..9), counting an if that is never reached as dead too."""
    ifs = _ifs(fn.body)
    seen: dict[int, set[bool]] = {}
    for args in arg_sets:
        if all(len(seen.get(id(s), ())) == 2 for s in ifs):
            break
        run_body(fn.body, dict(args), seen)
    return sum(len(seen.get(id(s), ())) < 2 for s in ifs)


def _ifs(body: list[Stmt]) -> list[If]:
    found: list[If] = []
    for s in body:
        if isinstance(s, If):
            found += [s, *_ifs(s.body), *_ifs(s.orelse)]
        elif isinstance(s, (While, For)):
            found += _ifs(s.body)
    return found


def _run(body: list[Stmt], env: dict[str, Any], steps: list[str], budget: list[int],
         branches: dict[int, set[bool]] | None = None) -> Any:
    for s in body:
        budget[0] += 1
        if budget[0] > 100_000:
            raise RuntimeError("narration step budget exceeded")
        if isinstance(s, Assign):
            env[s.name] = s.expr.eval(env)
            shown = "" if isinstance(s.expr, Const) else f" = {env[s.name]!r}"
            steps.append(f"{s.name} = {s.expr.text()}{shown}")
        elif isinstance(s, Return):
            value = s.expr.eval(env)
            steps.append(f"return {s.expr.text()} = {value!r}")
            raise _Return(value)
        elif isinstance(s, If):
            taken = bool(s.cond.eval(env))
            steps.append(f"{s.cond.text()} is {taken}")
            if branches is not None:
                branches.setdefault(id(s), set()).add(taken)
            _run(s.body if taken else s.orelse, env, steps, budget, branches)
        elif isinstance(s, While):
            n, inner = 0, []
            while s.cond.eval(env):
                n += 1
                _run(s.body, env, inner, budget, branches)
            steps.append(f"the while loop runs {n} time{'s' if n != 1 else ''}, leaving "
                         + ", ".join(f"{k} = {env[k]!r}" for k in _assigned(s.body) if k in env))
        elif isinstance(s, For):
            count = s.count.eval(env)
            inner: list[str] = []
            for i in range(count):
                env[s.var] = i
                _run(s.body, env, inner, budget, branches)
            steps.append(f"the for loop runs {count} time{'s' if count != 1 else ''}, leaving "
                         + ", ".join(f"{k} = {env[k]!r}" for k in _assigned(s.body) if k in env))
    return None


def _assigned(body: list[Stmt]) -> list[str]:
    names: list[str] = []
    for s in body:
        if isinstance(s, Assign) and s.name not in names:
            names.append(s.name)
        elif isinstance(s, (If, While, For)):
            for n in _assigned(s.body) + _assigned(getattr(s, "orelse", [])):
                if n not in names:
                    names.append(n)
    return names


# ---------------------------------------------------------------- random building blocks


def final_return(rng: Random, var: str, modulus_max: int) -> Return:
    """`return var % m` with m in 2..modulus_max (the many-to-one step that makes abduction matter),
    or `return var` when modulus_max is 0."""
    if modulus_max:
        return Return(BinOp("%", Var(var), Const(rng.randint(2, modulus_max))))
    return Return(Var(var))


def single_latent_draft(rng: Random, fn: Function, *, x_max: int, latent_max: int, template_id: str) -> Draft:
    """The paper's shape: `f(x, r)`, x in 0..x_max, r in 0..latent_max, one observation, one intervention."""
    x0, x1 = distinct_pair(rng, 0, x_max)
    return Draft(
        program=fn.source(), entry=fn.name, inputs=["x"], latents={"r": list(range(latent_max + 1))},
        observations=[{"x": x0}], intervention={"x": x1}, true_latents={"r": rng.randint(0, latent_max)},
        template_id=template_id, explain=lambda args, lat: fn.narrate({**args, **lat}),
    )


def rand_arith(
    rng: Random,
    names: list[str],
    const_max: int,
    depth: int = 1,
    ops: tuple[str, ...] = ("+", "-", "*"),
    must_use: str | None = None,
) -> Expr:
    """Random integer expression over `names` and constants 1..const_max; `must_use` appears in it."""
    expr = _arith(rng, names, const_max, depth, ops)
    if must_use is not None and must_use not in _names(expr):
        expr = (
            BinOp(rng.choice(ops), expr, Var(must_use))
            if rng.random() < 0.5
            else BinOp(rng.choice(ops), Var(must_use), expr)
        )
    return expr


def _arith(rng: Random, names: list[str], const_max: int, depth: int, ops: tuple[str, ...]) -> Expr:
    if depth <= 0 or rng.random() < 0.25:
        return Var(rng.choice(names)) if rng.random() < 0.7 else Const(rng.randint(1, const_max))
    left = _arith(rng, names, const_max, depth - 1, ops)
    right = _arith(rng, names, const_max, depth - 1, ops)
    if isinstance(left, Const) and isinstance(right, Const):
        left = Var(rng.choice(names))
    op = rng.choice(ops)
    if op == "-" and left == right:  # x - x is a constant in disguise
        op = "+"
    return BinOp(op, left, right)


def rand_condition(rng: Random, names: list[str], const_max: int) -> Expr:
    """A branch condition: threshold, parity, or comparison of two variables."""
    kind = rng.random()
    a = Var(rng.choice(names))
    if kind < 0.55:
        return Compare(rng.choice([">", "<", ">=", "<="]), a, Const(rng.randint(1, const_max)))
    if kind < 0.8:
        k = rng.randint(2, 3)
        return Compare(rng.choice(["==", "!="]), BinOp("%", a, Const(k)), Const(rng.randrange(k)))
    b = Var(rng.choice([n for n in names if n != a.name] or names))
    return Compare(
        rng.choice([">", "<", ">=", "<="]), BinOp("+", a, Const(rng.randint(0, const_max // 2))), b
    )


def _names(e: Expr) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, (BinOp, Compare)):
        return _names(e.left) | _names(e.right)
    if isinstance(e, Call):
        return set().union(*(_names(a) for a in e.args)) if e.args else set()
    return set()


def names_in(e: Expr) -> set[str]:
    return _names(e)


def distinct_pair(rng: Random, lo: int, hi: int) -> tuple[int, int]:
    """Two different integers from [lo, hi] (factual and counterfactual input)."""
    a = rng.randint(lo, hi)
    b = rng.randint(lo, hi - 1)
    return a, b + (b >= a)
