"""while: OOD test family - while-loops (never seen in training).

Every loop terminates by construction (a counter that strictly moves toward a bound, or a value
that at least doubles toward a limit); the sandbox still rejects any draft that times out.

    def f(x, r):             # shown as: r = random.randint(0, 9)
        y = x + 2
        i = 0
        while i < r + 1:
            y = y + i * 3
            i = i + 1
        return y % 7
"""
from __future__ import annotations

from dataclasses import dataclass
from random import Random

from generators.codegen import (
    Assign,
    BinOp,
    Compare,
    Const,
    Function,
    If,
    Var,
    While,
    final_return,
    rand_arith,
    rand_condition,
    single_latent_draft,
)
from generators.family import Draft, FamilyConfig, register_family


@dataclass
class WhileConfig(FamilyConfig):
    latent_max: int = 9  # r in 0..latent_max
    x_max: int = 20
    const_max: int = 9
    loop_bound: int = 30  # loops run at most about this many times / limits are at most this
    body_statements: int = 1  # extra assignments in the loop body
    branch_in_loop: bool = False  # an if/else inside the loop body
    modulus_max: int = 7  # return y % m, m in 2..modulus_max (0: none)

    def validate(self) -> None:
        self.check_ranges(latent_max=(1, 60), x_max=(1, 1000), const_max=(2, 100), loop_bound=(4, 1000),
                          body_statements=(0, 4), modulus_max=(2, 50), zero_ok=("modulus_max",))


LEVELS = {
    1: {"latent_max": 5, "x_max": 10, "const_max": 5, "loop_bound": 10, "body_statements": 0,
        "branch_in_loop": False, "modulus_max": 5},
    2: {"latent_max": 7, "x_max": 15, "const_max": 7, "loop_bound": 20, "body_statements": 1,
        "branch_in_loop": False, "modulus_max": 6},
    3: {"latent_max": 9, "x_max": 20, "const_max": 9, "loop_bound": 30, "body_statements": 1,
        "branch_in_loop": False, "modulus_max": 7},
    4: {"latent_max": 12, "x_max": 30, "const_max": 12, "loop_bound": 50, "body_statements": 2,
        "branch_in_loop": True, "modulus_max": 9},
    5: {"latent_max": 15, "x_max": 40, "const_max": 15, "loop_bound": 80, "body_statements": 2,
        "branch_in_loop": True, "modulus_max": 11},
}


def _body_updates(rng: Random, cfg: WhileConfig, names: list[str]) -> list:
    stmts = [
        Assign(
            "y",
            BinOp(
                rng.choice(["+", "-"]),
                Var("y"),
                rand_arith(rng, names, cfg.const_max, 1, must_use=rng.choice(names)),
            ),
        )
    ]
    for _ in range(cfg.body_statements):
        stmts.append(Assign("z", rand_arith(rng, names + ["y"], cfg.const_max, 1, must_use="y")))
        stmts.append(
            Assign(
                "y",
                BinOp(
                    "%", BinOp("+", Var("y"), Var("z")), Const(rng.randint(cfg.const_max, 3 * cfg.const_max))
                ),
            )
        )
    if cfg.branch_in_loop:
        stmts.append(
            If(
                rand_condition(rng, names + ["y"], cfg.const_max),
                [Assign("y", BinOp("+", Var("y"), Const(rng.randint(1, cfg.const_max))))],
                [Assign("y", BinOp("-", Var("y"), Var(rng.choice(names))))],
            )
        )
    return stmts


def draft(rng: Random, cfg: WhileConfig) -> Draft:
    shape = rng.choice(["count_up", "count_down", "grow"])
    body: list = [Assign("y", rand_arith(rng, ["x", "r"], cfg.const_max, 1))]
    if shape == "count_up":
        # i runs 0, step, ... up to a bound that depends on x or r (both bounded): terminates.
        step = rng.randint(1, 3)
        bound = BinOp("+", Var(rng.choice(["x", "r"])), Const(rng.randint(1, cfg.const_max)))
        loop_names = ["x", "r", "i"]
        body += [
            Assign("i", Const(0)),
            While(
                Compare("<", Var("i"), bound),
                _body_updates(rng, cfg, loop_names) + [Assign("i", BinOp("+", Var("i"), Const(step)))],
            ),
        ]
    elif shape == "count_down":
        step = rng.randint(1, 4)
        body += [
            Assign("n", BinOp("+", Var("x"), Var("r"))),
            While(
                Compare(">", Var("n"), Const(rng.randint(0, cfg.const_max))),
                _body_updates(rng, cfg, ["x", "r", "n"]) + [Assign("n", BinOp("-", Var("n"), Const(step)))],
            ),
        ]
    else:
        # v at least doubles from >= 1 until it passes the limit: at most log2(limit) + 1 rounds.
        body += [
            Assign("v", BinOp("+", Var(rng.choice(["x", "r"])), Const(1))),
            Assign("k", Const(0)),
            While(
                Compare("<", Var("v"), Const(rng.randint(cfg.loop_bound // 2, cfg.loop_bound * 3))),
                [
                    Assign("v", BinOp("+", BinOp("*", Var("v"), Const(2)), Var("r"))),
                    Assign("k", BinOp("+", Var("k"), Const(1))),
                ],
            ),
            Assign("y", BinOp("+", Var("y"), BinOp("*", Var("k"), Const(rng.randint(1, cfg.const_max))))),
        ]
    body.append(final_return(rng, "y", cfg.modulus_max))
    fn = Function("f", ["x", "r"], body)
    return single_latent_draft(
        rng, fn, x_max=cfg.x_max, latent_max=cfg.latent_max, template_id=f"while/{shape}"
    )


register_family("while", WhileConfig, draft, levels=LEVELS, default_level=3, paper=True, ood=True,
                description="while-loops with latent-dependent bounds or updates (OOD)")
