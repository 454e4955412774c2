"""if_else_long: OOD test family - deeper nesting (2-4 levels), elif chains, longer branches.

Every program has a spine of nested conditionals at least two deep, so it never shares a
structural template with the training family `if_else` (at most one level).
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
class IfElseLongConfig(FamilyConfig):
    latent_max: int = 9  # r in 0..latent_max
    x_max: int = 30
    const_max: int = 12
    nesting: int = 3  # depth of the nested-conditional spine (>= 2)
    branch_statements: int = 2  # assignments per leaf branch
    elif_prob: float = 0.4  # chance that an else holds an elif chain link
    modulus_max: int = 7  # return y % m, m in 2..modulus_max (0: none)

    def validate(self) -> None:
        self.check_ranges(latent_max=(1, 60), x_max=(1, 1000), const_max=(2, 100), nesting=(2, 6),
                          branch_statements=(1, 5), elif_prob=(0.0, 1.0), modulus_max=(2, 50),
                          zero_ok=("modulus_max",))


LEVELS = {
    1: {"latent_max": 5, "x_max": 15, "const_max": 8, "nesting": 2, "branch_statements": 1, "elif_prob": 0.3,
        "modulus_max": 5},
    2: {"latent_max": 7, "x_max": 20, "const_max": 10, "nesting": 2, "branch_statements": 2, "elif_prob": 0.4,
        "modulus_max": 6},
    3: {"latent_max": 9, "x_max": 30, "const_max": 12, "nesting": 3, "branch_statements": 2, "elif_prob": 0.4,
        "modulus_max": 7},
    4: {"latent_max": 12, "x_max": 40, "const_max": 15, "nesting": 3, "branch_statements": 3,
        "elif_prob": 0.5, "modulus_max": 9},
    5: {"latent_max": 15, "x_max": 60, "const_max": 20, "nesting": 4, "branch_statements": 3,
        "elif_prob": 0.5, "modulus_max": 11},
}


def _leaf(rng: Random, cfg: IfElseLongConfig, names: list[str]) -> list:
    stmts = []
    for k in range(cfg.branch_statements):
        target = "y" if k == cfg.branch_statements - 1 else rng.choice(["a", "b"])
        stmts.append(
            Assign(target, rand_arith(rng, names, cfg.const_max, 1, must_use=rng.choice(["x", "r"])))
        )
        if target not in names:
            names = names + [target]
    return stmts


def _block(rng: Random, cfg: IfElseLongConfig, depth: int, names: list[str]) -> list:
    """A conditional of exactly `depth` nested levels along one spine; other branches are leaves."""
    if depth == 0:
        return _leaf(rng, cfg, names)
    deep_then = rng.random() < 0.5
    then = _block(rng, cfg, depth - 1, names) if deep_then else _leaf(rng, cfg, names)
    orelse = _leaf(rng, cfg, names) if deep_then else _block(rng, cfg, depth - 1, names)
    if deep_then and rng.random() < cfg.elif_prob:
        orelse = [If(rand_condition(rng, names, cfg.const_max), _leaf(rng, cfg, names), orelse)]
    return [If(rand_condition(rng, names, max(cfg.const_max, cfg.x_max // 2)), then, orelse)]


def draft(rng: Random, cfg: IfElseLongConfig) -> Draft:
    names = ["x", "r", "s"]
    body: list = [Assign("s", rand_arith(rng, ["x", "r"], cfg.const_max, 1, must_use="r"))]
    body += _block(rng, cfg, cfg.nesting, names)
    body.append(final_return(rng, "y", cfg.modulus_max))
    fn = Function("f", ["x", "r"], body)
    return single_latent_draft(
        rng, fn, x_max=cfg.x_max, latent_max=cfg.latent_max, template_id=f"if_else_long/depth{cfg.nesting}"
    )


register_family("if_else_long", IfElseLongConfig, draft, levels=LEVELS, default_level=3, paper=True, ood=True,
                description="deeply nested if/elif/else, longer branches (OOD)")
