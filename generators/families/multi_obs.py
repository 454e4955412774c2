"""multi_obs (beyond the paper, OOD): several observations of the same hidden latents.

    def f(x, a, b):           # shown as: a = random.randint(0, 5); b = random.randint(0, 5)
        y = x * a + 3
        if x > 7:
            y = y - b
        else:
            y = y + b * x
        return y % 6

"f(x=1) returned 3, f(x=9) returned 5 and f(x=6) returned 3, all with the same draws; what would
f(x=3) have returned?" Abduction must intersect the evidence: the consistent latents are those that
reproduce *every* observation. Knobs: number of latents (2-3), their domain, number of observations,
input range, branching, modulus.
"""
from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

from generators.codegen import Assign, BinOp, Compare, Const, Function, If, Return, Var
from generators.families.helper_calls import affine
from generators.family import Draft, FamilyConfig, register_family

LATENT_NAMES = ("a", "b", "c")
MAX_COMBINATIONS = 2000


@dataclass
class MultiObsConfig(FamilyConfig):
    n_latents: int = 2  # latents a, b (, c), each in 0..latent_max
    latent_max: int = 7
    n_observations: int = 3  # factual calls with distinct inputs, same latents
    x_max: int = 20  # inputs in 0..x_max
    const_max: int = 6  # constants in expressions and conditions
    branch_prob: float = 0.6  # probability that a latent enters through an if/else
    modulus_max: int = 9  # return y % m with m in 5..modulus_max

    def validate(self) -> None:
        self.check_ranges(n_latents=(2, len(LATENT_NAMES)), latent_max=(1, 30), n_observations=(2, 6),
                     x_max=(self.n_observations + 1, 1000), const_max=(2, 50), branch_prob=(0.0, 1.0),
                     modulus_max=(5, 50))  # x_max > n_observations: the inputs are distinct
        combinations = (self.latent_max + 1) ** self.n_latents
        if combinations > MAX_COMBINATIONS:
            raise ValueError(
                f"(latent_max + 1) ** n_latents must be <= {MAX_COMBINATIONS}, got {combinations}"
            )


LEVELS = {
    1: {"n_latents": 2, "latent_max": 3, "n_observations": 2, "x_max": 10, "const_max": 4, "branch_prob": 0.3,
        "modulus_max": 6},
    2: {"n_latents": 2, "latent_max": 5, "n_observations": 2, "x_max": 15, "const_max": 5, "branch_prob": 0.5,
        "modulus_max": 7},
    3: {"n_latents": 2, "latent_max": 7, "n_observations": 3, "x_max": 20, "const_max": 6, "branch_prob": 0.6,
        "modulus_max": 9},
    4: {"n_latents": 3, "latent_max": 6, "n_observations": 3, "x_max": 30, "const_max": 8, "branch_prob": 0.6,
        "modulus_max": 11},
    5: {"n_latents": 3, "latent_max": 9, "n_observations": 4, "x_max": 50, "const_max": 9, "branch_prob": 0.7,
        "modulus_max": 13},
}


def _first(rng: Random, cfg: MultiObsConfig, latent: str) -> Any:
    """The first latent scales the input, so observations at different inputs tell different things."""
    x, lat, k = Var("x"), Var(latent), Const(rng.randint(1, cfg.const_max))
    return rng.choice(
        [
            BinOp("+", BinOp("*", x, lat), k),
            BinOp("*", BinOp("+", x, k), lat),
            BinOp("-", BinOp("*", lat, x), k),
        ]
    )


def _input_condition(rng: Random, cfg: MultiObsConfig) -> Any:
    """A branch on the input only (threshold or parity), so different observations can take different
    branches and each tells something about a different latent."""
    x = Var("x")
    if rng.random() < 0.6:
        return Compare(
            rng.choice([">", "<", ">=", "<="]), x, Const(rng.randint(2, max(3, cfg.x_max * 2 // 3)))
        )
    k = rng.randint(2, 3)
    return Compare(rng.choice(["==", "!="]), BinOp("%", x, Const(k)), Const(rng.randrange(k)))


def _update(rng: Random, cfg: MultiObsConfig, latent: str) -> Any:
    """New y from the old y and a latent, so earlier latents keep flowing to the output."""
    old: Any = Var("y") if rng.random() < 0.7 else BinOp("*", Var("y"), Const(rng.randint(2, 3)))
    term: Any = (
        Var(latent) if rng.random() < 0.5 else BinOp("*", Var(latent), rng.choice([Var("x"), Const(2)]))
    )
    return BinOp(rng.choice(["+", "-"]), old, term)


def draft(rng: Random, cfg: MultiObsConfig) -> Draft:
    latents = list(LATENT_NAMES[: cfg.n_latents])
    body: list = [Assign("y", _first(rng, cfg, latents[0]))]
    shape = ["scale"]
    for name in latents[1:]:  # each further latent enters through an assignment or an if/else on x
        if rng.random() < cfg.branch_prob:
            cond = _input_condition(rng, cfg)
            other = affine(rng, ["y", "x"], cfg.const_max, 1, must_use="y")
            if other == Var("y"):  # `y = y` would be a do-nothing branch
                other = BinOp(rng.choice(["+", "-"]), other, Const(rng.randint(1, cfg.const_max)))
            branches = [[Assign("y", _update(rng, cfg, name))], [Assign("y", other)]]
            rng.shuffle(branches)
            body.append(If(cond, *branches))
            shape.append("branch")
        else:
            body.append(Assign("y", _update(rng, cfg, name)))
            shape.append("assign")
    modulus = rng.randint(5, cfg.modulus_max)
    body.append(Return(BinOp("%", Var("y"), Const(modulus))))
    fn = Function("f", ["x", *latents], body)
    xs = rng.sample(range(cfg.x_max + 1), cfg.n_observations + 1)
    domain = list(range(cfg.latent_max + 1))

    def explain(args: dict[str, Any], values: dict[str, Any]) -> str:
        return fn.narrate({**args, **values})

    return Draft(
        program=fn.source(),
        entry="f",
        inputs=["x"],
        latents={n: list(domain) for n in latents},
        observations=[{"x": x} for x in xs[:-1]],
        intervention={"x": xs[-1]},
        true_latents={n: rng.choice(domain) for n in latents},
        template_id=f"multi_obs/{'_'.join(shape)}",
        explain=explain,
        extra_meta={"n_observations": cfg.n_observations},
    )


register_family("multi_obs", MultiObsConfig, draft, levels=LEVELS, default_level=3, paper=False, ood=True,
                description="several observations of the same hidden latents; abduction intersects them")
