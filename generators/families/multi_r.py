"""multi_r: OOD test family - three latents and for-loops.

    def f(x, r1, r2, r3):    # shown as: r1 = random.randint(0, 4) ... r3 = random.randint(0, 4)
        y = x + r1
        for i in range(r2 + 1):
            y = y + i * r3
        if y > 9:
            y = y - r1
        return y % 6
"""
from __future__ import annotations

from dataclasses import dataclass
from random import Random

from generators.codegen import (
    Assign,
    BinOp,
    Const,
    For,
    Function,
    If,
    Var,
    distinct_pair,
    final_return,
    rand_arith,
    rand_condition,
)
from generators.family import Draft, FamilyConfig, register_family


@dataclass
class MultiRConfig(FamilyConfig):
    num_latents: int = 3  # the paper's family has three
    latent_max: int = 4  # each latent in 0..latent_max
    x_max: int = 20
    const_max: int = 9
    loop_max: int = 6  # constant loop counts are at most this; latent counts at most latent_max + 1
    loops: int = 1  # number of for-loops
    modulus_max: int = 7

    def validate(self) -> None:
        self.check_ranges(num_latents=(2, 4), latent_max=(1, 12), x_max=(1, 1000), const_max=(2, 100),
                          loop_max=(1, 50), loops=(1, 3), modulus_max=(2, 50), zero_ok=("modulus_max",))
        if (self.latent_max + 1) ** self.num_latents > 4096:
            raise ValueError("latent domain too large: (latent_max + 1) ** num_latents must be <= 4096")


LEVELS = {
    1: {"num_latents": 3, "latent_max": 2, "x_max": 10, "const_max": 5, "loop_max": 4, "loops": 1,
        "modulus_max": 5},
    2: {"num_latents": 3, "latent_max": 3, "x_max": 15, "const_max": 7, "loop_max": 5, "loops": 1,
        "modulus_max": 6},
    3: {"num_latents": 3, "latent_max": 4, "x_max": 20, "const_max": 9, "loop_max": 6, "loops": 1,
        "modulus_max": 7},
    4: {"num_latents": 3, "latent_max": 5, "x_max": 30, "const_max": 12, "loop_max": 8, "loops": 2,
        "modulus_max": 9},
    5: {"num_latents": 3, "latent_max": 7, "x_max": 40, "const_max": 15, "loop_max": 10, "loops": 2,
        "modulus_max": 11},
}


def draft(rng: Random, cfg: MultiRConfig) -> Draft:
    latents = [f"r{k + 1}" for k in range(cfg.num_latents)]
    names = ["x"] + latents
    body: list = [Assign("y", rand_arith(rng, names, cfg.const_max, 1, must_use="x"))]
    used = set()
    for loop in range(cfg.loops):
        counter = latents[(loop + rng.randrange(len(latents))) % len(latents)]
        count = (
            BinOp("+", Var(counter), Const(rng.randint(0, 2)))
            if rng.random() < 0.6
            else Const(rng.randint(2, cfg.loop_max))
        )
        i = "ij"[loop]
        update = rand_arith(rng, [i] + names, cfg.const_max, 1, must_use=rng.choice(latents))
        body.append(For(i, count, [Assign("y", BinOp(rng.choice(["+", "-"]), Var("y"), update))]))
        used.add(counter)
    # a final branch mixes in a latent the loops may not have used
    rest = [r for r in latents if r not in used] or latents
    body.append(
        If(
            rand_condition(rng, ["y", "x"], max(cfg.const_max, cfg.x_max // 2)),
            [Assign("y", BinOp(rng.choice(["+", "-"]), Var("y"), Var(rng.choice(rest))))],
            [Assign("y", BinOp("+", Var("y"), BinOp("*", Var(rng.choice(rest)), Const(rng.randint(1, 3)))))],
        )
    )
    body.append(final_return(rng, "y", cfg.modulus_max))
    fn = Function("f", ["x"] + latents, body)
    x0, x1 = distinct_pair(rng, 0, cfg.x_max)
    domain = list(range(cfg.latent_max + 1))
    return Draft(
        program=fn.source(),
        entry="f",
        inputs=["x"],
        latents={r: list(domain) for r in latents},
        observations=[{"x": x0}],
        intervention={"x": x1},
        true_latents={r: rng.randint(0, cfg.latent_max) for r in latents},
        template_id=f"multi_r/loops{cfg.loops}",
        explain=lambda args, lat: fn.narrate({**args, **lat}),
    )


register_family("multi_r", MultiRConfig, draft, levels=LEVELS, default_level=3, paper=True, ood=True,
                description="three latents and for-loops (OOD)")
