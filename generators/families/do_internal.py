"""do_internal (beyond the paper, OOD): the intervention forces an internal variable, not an input.

    def f(x, r):              # shown as: r = random.randint(0, 9)  (levels 4-5: a second latent s)
        a = x + r
        if a > 6:
            b = a - 4
        else:
            b = a * 2
        c = b + r * 2
        return c % 5

"We called f(x=3) and got 2. What would it have returned had `b` been forced to 7 (same x, same r)?"
This is Pearl's do(b = 7): the statement computing `b` is replaced by `b = 7`, everything upstream of
`b` stops mattering, and the latent still acts downstream. The record carries the rewritten program
(`intervention.program`), which the pipeline executes for every latent value. At higher levels the
input changes as well (`do(x = x1, b = 7)`). Programs whose ifs never take one side over the whole
input x latent domain are redrawn, and the forced value always differs from the observed one.
The gold trace narrates the original program for abduction and the rewritten one for prediction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product
from random import Random
from typing import Any

from generators.codegen import (
    Assign,
    BinOp,
    Const,
    Function,
    If,
    Return,
    Var,
    dead_branches,
    names_in,
    rand_condition,
    run_body,
)
from generators.families.helper_calls import affine
from generators.family import Draft, FamilyConfig, PromptContext, register_family
from generators.render import code_prompt

VAR_NAMES = ("a", "b", "c", "d", "e", "g")
LATENT_NAMES = ("r", "s")


@dataclass
class DoInternalConfig(FamilyConfig):
    n_latents: int = 1  # r (and s), each in 0..latent_max
    latent_max: int = 9
    x_max: int = 20  # inputs in 0..x_max
    const_max: int = 6  # constants in expressions and conditions
    steps: int = 3  # internal variables computed one after another (the last one is returned % m)
    branch_prob: float = 0.5  # probability that a step is an if/else rather than one assignment
    modulus_max: int = 7  # return v % m with m in 3..modulus_max
    change_input: float = 0.0  # probability that the intervention also changes the input x

    def validate(self) -> None:
        # 3+ steps: with 2, the program could mirror the if_else "pre" template
        self.check_ranges(n_latents=(1, len(LATENT_NAMES)), latent_max=(1, 40), x_max=(1, 1000),
                     const_max=(2, 50), steps=(3, len(VAR_NAMES)),
                     branch_prob=(0.0, 1.0), modulus_max=(3, 50), change_input=(0.0, 1.0))


LEVELS = {
    1: {"n_latents": 1, "latent_max": 4, "x_max": 10, "const_max": 4, "steps": 3, "branch_prob": 0.2,
        "modulus_max": 4, "change_input": 0.0},
    2: {"n_latents": 1, "latent_max": 6, "x_max": 15, "const_max": 5, "steps": 3, "branch_prob": 0.3,
        "modulus_max": 5, "change_input": 0.0},
    3: {"n_latents": 1, "latent_max": 9, "x_max": 20, "const_max": 6, "steps": 3, "branch_prob": 0.5,
        "modulus_max": 7, "change_input": 0.0},
    4: {"n_latents": 2, "latent_max": 9, "x_max": 30, "const_max": 8, "steps": 4, "branch_prob": 0.6,
        "modulus_max": 9, "change_input": 0.5},
    5: {"n_latents": 2, "latent_max": 12, "x_max": 50, "const_max": 9, "steps": 5, "branch_prob": 0.6,
        "modulus_max": 11, "change_input": 0.7},
}


MAX_BODY_ATTEMPTS = 20  # redraws of a body with a dead branch; the last attempt has no branches
MAX_COVERAGE_RUNS = 2000  # argument sets tried when looking for dead branches


def _step(rng: Random, cfg: DoInternalConfig, var: str, names: list[str], must_use: str, branch: bool) -> Any:
    """One statement defining `var`: an assignment, or an if/else whose branches both assign `var`."""
    if not branch or rng.random() >= cfg.branch_prob:
        return Assign(var, affine(rng, names, cfg.const_max, 2, must_use=must_use))
    cond = rand_condition(rng, names, cfg.const_max + cfg.x_max // 2)
    return If(
        cond,
        [Assign(var, affine(rng, names, cfg.const_max, 2, must_use=must_use))],
        [Assign(var, affine(rng, names, cfg.const_max, 1, must_use=must_use))],
    )


def _body(
    rng: Random,
    cfg: DoInternalConfig,
    variables: list[str],
    latents: list[str],
    target: int,
    second_at: int,
    branch: bool,
) -> list:
    body: list = []
    for i, var in enumerate(variables):
        names = ["x", *latents] + variables[:i]
        # Chain each step to the previous one; right after the target the latent must act again and
        # the target must be read, so both the forced value and the latent reach the output.
        must_use = "x" if i == 0 else ("r" if i == target + 1 else variables[i - 1])
        stmt = _step(rng, cfg, var, names, must_use, branch)
        if i == target + 1 and not _mentions(stmt, variables[target]):
            stmt = _with_extra_term(stmt, variables[target])
        if i == second_at and len(latents) > 1 and not _mentions(stmt, latents[1]):
            stmt = _with_extra_term(stmt, latents[1])
        body.append(stmt)
    return body


def _coverage_args(cfg: DoInternalConfig, domains: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Inputs x over 0..x_max (strided when large) times every latent combination."""
    combos = list(product(*domains.values()))
    stride = max(1, -(-(cfg.x_max + 1) * len(combos) // MAX_COVERAGE_RUNS))
    return [{"x": x, **dict(zip(domains, c))} for x in range(0, cfg.x_max + 1, stride) for c in combos]


def draft(rng: Random, cfg: DoInternalConfig) -> Draft:
    variables = list(VAR_NAMES[: cfg.steps])
    latents = list(LATENT_NAMES[: cfg.n_latents])
    domains = {name: list(range(cfg.latent_max + 1)) for name in latents}
    target = rng.randrange(cfg.steps - 1)  # never the returned variable: the latent must act after it
    second_at = rng.randrange(target + 1, cfg.steps)  # where a second latent acts (downstream of the target)
    modulus = rng.randint(3, cfg.modulus_max)
    ret = Return(BinOp("%", Var(variables[-1]), Const(modulus)))
    coverage = _coverage_args(cfg, domains)
    for attempt in range(MAX_BODY_ATTEMPTS):  # no dead branches such as `if r >= 14` with r in 0..9
        body = _body(rng, cfg, variables, latents, target, second_at, attempt < MAX_BODY_ATTEMPTS - 1)
        original = Function("f", ["x", *latents], body + [ret])
        if not dead_branches(original, coverage):
            break
    x0 = rng.randint(0, cfg.x_max)
    x1 = x0
    if rng.random() < cfg.change_input:
        x1 = rng.choice([v for v in range(cfg.x_max + 1) if v != x0])
    true_latents = {name: rng.randint(0, cfg.latent_max) for name in latents}
    var = variables[target]
    factual = {"x": x0, **true_latents}
    run_body(body[: target + 1], factual)
    # Never a no-op: the forced value differs from what `var` held in the observed run.
    forced_value = rng.choice([v for v in range(cfg.const_max + cfg.x_max // 2 + 1) if v != factual[var]])
    rewritten = Function(
        "f",
        ["x", *latents],
        [Assign(var, Const(forced_value)) if k == target else s for k, s in enumerate(body)] + [ret],
    )

    def render(ctx: PromptContext) -> str:
        same_args = ctx.intervention["args"] == ctx.observations[0]["args"]
        shown = replace(
            ctx, intervention={k: v for k, v in ctx.intervention.items() if not (same_args and k == "args")}
        )
        keep = f"the same argument x={x0}" if same_args else f"the argument x={x1}"
        return (
            code_prompt(shown, "f", domains)
            + "\n"
            + f"Forcing {var} = {forced_value} means the statement that computes {var} is replaced by "
            f"`{var} = {forced_value}`; the call uses {keep} and everything else runs as written."
        )

    return Draft(
        program=original.source(),
        entry="f",
        inputs=["x"],
        latents=domains,
        observations=[{"x": x0}],
        intervention={"x": x1},
        true_latents=true_latents,
        template_id=f"do_internal/steps{cfg.steps}_target{target}",
        intervention_program=rewritten.source(),
        internal={var: forced_value},
        render_prompt=render,
        explain=lambda args, lat: original.narrate({**args, **lat}),
        explain_intervention=lambda args, lat: rewritten.narrate({**args, **lat}),
        extra_meta={"intervened_variable": var, "forced_value": forced_value, "input_changed": x1 != x0},
    )


def _mentions(stmt: Any, name: str) -> bool:
    if isinstance(stmt, Assign):
        return name in names_in(stmt.expr)
    return name in names_in(stmt.cond) or any(_mentions(s, name) for s in stmt.body + stmt.orelse)


def _with_extra_term(stmt: Any, name: str) -> Any:
    """Make the statement read `name` (the intervened variable, a latent) so it reaches the output."""
    if isinstance(stmt, Assign):
        return Assign(stmt.name, BinOp("+", stmt.expr, Var(name)))
    return If(
        stmt.cond,
        [_with_extra_term(s, name) for s in stmt.body],
        [_with_extra_term(s, name) for s in stmt.orelse],
    )


register_family(
    "do_internal",
    DoInternalConfig,
    draft,
    levels=LEVELS,
    default_level=3,
    paper=False,
    ood=True,
    description="the intervention forces an internal variable (do(v = c)); "
    "the rewritten program travels with the record",
)
