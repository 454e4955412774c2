"""recursion (beyond the paper, OOD): the output comes from a bounded recursive function.

    def walk(n, r):
        if n <= 0:
            return r + 2
        prev = walk(n - 1, r)
        return prev * 2 - n

    def f(x, r):              # shown as: r = random.randint(0, 9)
        n = (x + r) % 5
        y = walk(n, r)
        return y % 7

Shapes: `linear` (one self-call), `accumulate` (tail recursion with an accumulator and a branch),
`halving` (recursion on n // 2), `binary` (two self-calls, Fibonacci-like), `mutual` (two functions
calling each other). The recursion argument is bounded by construction (`% depth` or halving), so no
domain value comes near Python's recursion limit; `meta.max_recursion_depth` states the bound.
"""
from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

from generators.codegen import Assign, BinOp, Call, Compare, Const, Function, If, Return, Var
from generators.families.helper_calls import affine, call_graph_draft
from generators.family import Draft, FamilyConfig, register_family

SHAPES = ("linear", "accumulate", "halving", "binary", "mutual")
REC_NAMES = ("walk", "climb", "descend", "unwind", "step")
MUTUAL_NAMES = (("ping", "pong"), ("even_part", "odd_part"), ("left", "right"))


@dataclass
class RecursionConfig(FamilyConfig):
    latent_max: int = 9  # r in 0..latent_max
    x_max: int = 20  # inputs in 0..x_max
    depth_max: int = 6  # recursion argument n in 0..depth_max-1 (halving: n <= 2 * x_max + latent_max)
    const_max: int = 5  # constants in the recursive step
    modulus_max: int = 7  # entry returns y % m with m in 3..modulus_max
    shapes: str = "linear,accumulate,halving"  # comma-separated subset of SHAPES

    def shape_list(self) -> list[str]:
        return [s for s in self.shapes.split(",") if s]

    def validate(self) -> None:
        # depth_max <= 16 keeps every recursion far below Python's limit
        self.check_ranges(latent_max=(1, 60), x_max=(1, 1000), depth_max=(2, 16), const_max=(2, 50),
                     modulus_max=(3, 50))
        bad = [s for s in self.shape_list() if s not in SHAPES]
        if bad or not self.shape_list():
            raise ValueError(
                f"shapes must be a comma-separated non-empty subset of {SHAPES}, got {self.shapes!r}"
            )


LEVELS = {
    1: {"latent_max": 4, "x_max": 10, "depth_max": 4, "const_max": 3, "modulus_max": 4, "shapes": "linear"},
    2: {"latent_max": 6, "x_max": 15, "depth_max": 5, "const_max": 4, "modulus_max": 5,
        "shapes": "linear,accumulate"},
    3: {"latent_max": 9, "x_max": 20, "depth_max": 6, "const_max": 5, "modulus_max": 7,
        "shapes": "linear,accumulate,halving"},
    4: {"latent_max": 12, "x_max": 30, "depth_max": 8, "const_max": 6, "modulus_max": 9,
        "shapes": "accumulate,halving,binary,mutual"},
    5: {"latent_max": 15, "x_max": 50, "depth_max": 10, "const_max": 7, "modulus_max": 11,
        "shapes": "halving,binary,mutual"},
}

BINARY_DEPTH_CAP = 10  # two self-calls: at most ~180 calls per evaluation


def _base_case(n: Var, op: str, bound: int, value: Any) -> If:
    return If(Compare(op, n, Const(bound)), [Return(value)])


def _linear(rng: Random, cfg: RecursionConfig, name: str) -> list[Function]:
    n, r, prev = Var("n"), Var("r"), Var("prev")
    body: list = [
        _base_case(n, "<=", 0, affine(rng, ["r"], cfg.const_max, 1)),
        Assign("prev", Call(name, (BinOp("-", n, Const(1)), r))),
    ]
    if rng.random() < 0.4:
        body.append(
            If(
                Compare(rng.choice([">", "<"]), prev, Const(rng.randint(3, 12))),
                [Return(affine(rng, ["prev", "n", "r"], cfg.const_max, 2, must_use="prev"))],
            )
        )
    step = affine(rng, ["prev", "n", "r"], cfg.const_max, 2, must_use="prev")
    if rng.random() < 0.5:
        step = BinOp("%", step, Const(rng.randint(7, 20)))  # keeps values small at any depth
    return [Function(name, ["n", "r"], body + [Return(step)])]


def _accumulate(rng: Random, cfg: RecursionConfig, name: str) -> list[Function]:
    n, acc, r = Var("n"), Var("acc"), Var("r")

    def recurse() -> Call:
        return Call(
            name,
            (BinOp("-", n, Const(1)), affine(rng, ["acc", "n", "r"], cfg.const_max, 2, must_use="acc"), r),
        )

    cond = rng.choice(
        [
            Compare("==", BinOp("%", n, Const(2)), Const(0)),
            Compare(rng.choice([">", "<"]), BinOp("+", n, r), Const(rng.randint(2, cfg.depth_max + 4))),
        ]
    )
    body = [_base_case(n, "<=", 0, acc), If(cond, [Return(recurse())]), Return(recurse())]
    return [Function(name, ["n", "acc", "r"], body)]


def _halving(rng: Random, cfg: RecursionConfig, name: str) -> list[Function]:
    n, r, prev = Var("n"), Var("r"), Var("prev")
    bit = BinOp("%", n, Const(2))
    step = rng.choice(
        [
            BinOp("+", BinOp("*", prev, Const(2)), bit),
            BinOp("+", prev, BinOp("*", bit, r)),
            BinOp("-", BinOp("+", prev, n), r),
            BinOp("+", prev, BinOp("%", n, Const(rng.randint(3, 5)))),
        ]
    )
    body = [
        _base_case(n, "<", 2, affine(rng, ["n", "r"], cfg.const_max, 2, must_use="r")),
        Assign("prev", Call(name, (BinOp("//", n, Const(2)), r))),
        Return(step),
    ]
    return [Function(name, ["n", "r"], body)]


def _binary(rng: Random, cfg: RecursionConfig, name: str) -> list[Function]:
    n, r = Var("n"), Var("r")
    left = Call(name, (BinOp("-", n, Const(1)), r))
    right = Call(name, (BinOp("-", n, Const(2)), r))
    combined = BinOp(rng.choice(["+", "-"]), left, right)
    if rng.random() < 0.5:
        combined = BinOp("+", combined, Const(rng.randint(1, cfg.const_max)))
    body = [_base_case(n, "<", 2, affine(rng, ["n", "r"], cfg.const_max, 2, must_use="r")), Return(combined)]
    return [Function(name, ["n", "r"], body)]


def _mutual(rng: Random, cfg: RecursionConfig, names: tuple[str, str]) -> list[Function]:
    n, r = Var("n"), Var("r")
    out = []
    for me, other in (names, names[::-1]):
        call = Call(other, (BinOp("-", n, Const(1)), r))
        step = rng.choice(
            [
                BinOp("+", call, affine(rng, ["n", "r"], cfg.const_max, 1)),
                BinOp("-", BinOp("*", call, Const(2)), Var("n")),
                BinOp("%", BinOp("+", call, r), Const(rng.randint(7, 15))),
            ]
        )
        base = affine(rng, ["r"], cfg.const_max, 1) if not out else Const(rng.randint(0, cfg.const_max))
        out.append(Function(me, ["n", "r"], [_base_case(n, "<=", 0, base), Return(step)]))
    return out


def draft(rng: Random, cfg: RecursionConfig) -> Draft:
    shape = rng.choice(cfg.shape_list())
    x, r = Var("x"), Var("r")
    depth = min(cfg.depth_max, BINARY_DEPTH_CAP) if shape == "binary" else cfg.depth_max
    if shape == "halving":
        depth_expr = rng.choice([BinOp("+", x, r), BinOp("+", BinOp("*", x, Const(2)), r)])
        n_bound = 2 * cfg.x_max + cfg.latent_max
        max_depth = n_bound.bit_length() + 1
    else:
        inner = rng.choice([x, BinOp("+", x, r), BinOp("+", x, BinOp("*", r, Const(2)))])
        depth_expr = BinOp("%", inner, Const(depth))
        max_depth = depth + 1
    if shape == "mutual":
        pair = rng.choice(MUTUAL_NAMES)
        functions = _mutual(rng, cfg, pair)
        call = Call(pair[0], (Var("n"), r))
    else:
        name = rng.choice(REC_NAMES)
        functions = {"linear": _linear, "accumulate": _accumulate, "halving": _halving, "binary": _binary}[
            shape
        ](rng, cfg, name)
        start = Const(rng.randint(0, cfg.const_max))
        call = Call(name, (Var("n"), start, r) if shape == "accumulate" else (Var("n"), r))
    modulus = rng.randint(3, cfg.modulus_max)
    entry = Function(
        "f",
        ["x", "r"],
        [Assign("n", depth_expr), Assign("y", call), Return(BinOp("%", Var("y"), Const(modulus)))],
    )
    return call_graph_draft(
        rng, cfg, functions, entry, f"recursion/{shape}", {"shape": shape, "max_recursion_depth": max_depth}
    )


register_family("recursion", RecursionConfig, draft, levels=LEVELS, default_level=3, paper=False, ood=True,
                description="bounded recursive functions (linear, accumulator, halving, binary, mutual)")
