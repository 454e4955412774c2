"""if_else: the paper's training family (and in-distribution test).

    def f(x, r):            # shown as: r = random.randint(0, 9)
        if x > 6:
            y = x + r
        else:
            y = x * r
        return y % 5

At most one level of nesting; the latent `r` is one integer from a small range.
"""
from __future__ import annotations

from dataclasses import dataclass
from random import Random

from generators.codegen import (
    Assign,
    Function,
    If,
    final_return,
    rand_arith,
    rand_condition,
    single_latent_draft,
)
from generators.family import Draft, FamilyConfig, register_family


@dataclass
class IfElseConfig(FamilyConfig):
    latent_max: int = 9  # r in 0..latent_max
    x_max: int = 20  # inputs in 0..x_max
    const_max: int = 9  # constants in conditions and expressions
    nesting: int = 1  # 0: one if/else; 1: a branch may hold one nested if/else
    expr_depth: int = 1  # depth of the arithmetic expressions
    modulus_max: int = 6  # return y % m with m in 2..modulus_max (0: no modulus)

    def validate(self) -> None:
        self.check_ranges(latent_max=(1, 60), x_max=(1, 1000), const_max=(2, 100), expr_depth=(1, 3),
                          modulus_max=(2, 50), zero_ok=("modulus_max",))
        if self.nesting not in (0, 1):
            raise ValueError(f"if_else allows nesting 0 or 1 (deeper is if_else_long), got {self.nesting}")


LEVELS = {
    1: {"latent_max": 4, "x_max": 10, "const_max": 5, "nesting": 0, "expr_depth": 1, "modulus_max": 4},
    2: {"latent_max": 6, "x_max": 15, "const_max": 7, "nesting": 0, "expr_depth": 1, "modulus_max": 5},
    3: {"latent_max": 9, "x_max": 20, "const_max": 9, "nesting": 1, "expr_depth": 1, "modulus_max": 6},
    4: {"latent_max": 14, "x_max": 30, "const_max": 12, "nesting": 1, "expr_depth": 2, "modulus_max": 8},
    5: {"latent_max": 19, "x_max": 50, "const_max": 15, "nesting": 1, "expr_depth": 2, "modulus_max": 10},
}


def _branch(rng: Random, cfg: IfElseConfig, names: list[str]) -> list:
    return [
        Assign("y", rand_arith(rng, names, cfg.const_max, cfg.expr_depth, must_use=rng.choice(["x", "r"])))
    ]


def draft(rng: Random, cfg: IfElseConfig) -> Draft:
    names = ["x", "r"]
    body: list = []
    shape = "flat"
    if rng.random() < 0.3:
        body.append(Assign("t", rand_arith(rng, names, cfg.const_max, 1)))
        names = names + ["t"]
        shape = "pre"
    then, orelse = _branch(rng, cfg, names), _branch(rng, cfg, names)
    if cfg.nesting == 1 and rng.random() < 0.7:
        inner = If(
            rand_condition(rng, names, cfg.const_max), _branch(rng, cfg, names), _branch(rng, cfg, names)
        )
        if rng.random() < 0.5:
            then, shape = [inner], shape + "_nested_then"
        else:
            orelse, shape = [inner], shape + "_nested_else"
    body.append(If(rand_condition(rng, names, max(cfg.const_max, cfg.x_max // 2)), then, orelse))
    body.append(final_return(rng, "y", cfg.modulus_max))
    shape += "_mod" if cfg.modulus_max else ""
    fn = Function("f", ["x", "r"], body)
    return single_latent_draft(
        rng, fn, x_max=cfg.x_max, latent_max=cfg.latent_max, template_id=f"if_else/{shape}"
    )


register_family("if_else", IfElseConfig, draft, levels=LEVELS, default_level=3, paper=True, ood=False,
                description="one if/else (at most one nested level), one latent; the training family")
