"""gsm: OOD test family - GSM8K-style word problems built from the same causal structures
(an observed quantity, a random hidden quantity, a threshold branch, a many-to-one step such as
"left over after packing into boxes"). The prompt is the story only; the executable program travels
with the record and gives the ground truth.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from generators.family import Draft, FamilyConfig, PromptContext, register_family
from generators.render import value_text


@dataclass
class GsmConfig(FamilyConfig):
    latent_max: int = 8  # the hidden random quantity is at most this (at least 1)
    x_max: int = 30  # the observed quantity is at most this
    const_max: int = 12  # thresholds, prices, counts
    modulus_max: int = 8  # box / packet sizes are at most this
    extra_step: bool = False  # one more arithmetic step in the story

    def validate(self) -> None:
        self.check_ranges(latent_max=(2, 40), x_max=(5, 500), const_max=(4, 100), modulus_max=(3, 30))


LEVELS = {
    1: {"latent_max": 4, "x_max": 15, "const_max": 6, "modulus_max": 4, "extra_step": False},
    2: {"latent_max": 6, "x_max": 20, "const_max": 9, "modulus_max": 6, "extra_step": False},
    3: {"latent_max": 8, "x_max": 30, "const_max": 12, "modulus_max": 8, "extra_step": False},
    4: {"latent_max": 10, "x_max": 50, "const_max": 15, "modulus_max": 10, "extra_step": True},
    5: {"latent_max": 15, "x_max": 80, "const_max": 20, "modulus_max": 12, "extra_step": True},
}


@dataclass
class _Story:
    """One word problem: the program, its single input and latent, and sentences for the prompt."""

    template: str
    program: str
    entry: str
    x_name: str
    r_name: str
    r_domain: list[int]
    x_lo: int
    setup: str  # the rules of the story; mentions the random quantity but never its value
    observe: Callable[[int, Any], str]  # (x0, y0) -> what happened
    reveal: Callable[[int], str]  # r -> the hidden quantity stated (interventional mode)
    ask: Callable[[int], str]  # x1 -> the counterfactual question
    label: str  # words naming the latent, for the leak filter
    explain: Callable[[int, int], str] | None = None  # (x, r) -> the story's arithmetic, for the gold trace


def _bakery(rng: Random, cfg: GsmConfig) -> _Story:
    t = rng.randint(cfg.x_max // 2, cfg.x_max)
    g = rng.randint(2, min(cfg.const_max, t))  # she never gives away more than she has (total > t >= g)
    b = rng.randint(3, cfg.modulus_max)
    m = rng.randint(2, 3) if cfg.extra_step else 1
    mult = f" * {m}" if m > 1 else ""
    prog = (
        f"def leftover_muffins(morning, afternoon):\n"
        f"    total = morning + afternoon{mult}\n"
        f"    if total > {t}:\n"
        f"        total = total - {g}\n"
        f"    return total % {b}\n"
    )
    batch = f"{m} trays of a random number of muffins each" if m > 1 else "a random number of extra muffins"
    return _Story(
        "bakery",
        prog,
        "leftover_muffins",
        "morning",
        "afternoon",
        list(range(1, cfg.latent_max + 1)),
        1,
        setup=(
            f"Mia bakes muffins in the morning. In the afternoon she bakes {batch} "
            f"(between 1 and {cfg.latent_max}{' per tray' if m > 1 else ''}). "
            f"If she has more than {t} muffins in total, she gives {g} of them to her neighbour. "
            f"She then packs the muffins into boxes of "
            f"{b} and keeps the muffins that do not fill a whole box."
        ),
        observe=lambda x, y: (
            f"One day she baked {_n(x, 'muffin')} in the morning and kept {_n(y, 'muffin')}."
        ),
        reveal=lambda r: f"That afternoon she baked {_n(r, 'muffin')}{' per tray' if m > 1 else ''}.",
        ask=lambda x: (
            f"How many muffins would she have kept if she had baked {_n(x, 'muffin')} in the morning, "
            "with the same afternoon baking?"
        ),
        label="afternoon",
        explain=lambda x, r: _steps(f"total = {x} + {r}{mult}", x + r * m, t, g, f"% {b}", lambda v: v % b),
    )


def _savings(rng: Random, cfg: GsmConfig) -> _Story:
    chores = rng.randint(2, 4)
    t = rng.randint(cfg.x_max // 2, cfg.x_max)
    price = rng.randint(min(3, t), min(cfg.const_max, t))  # he can afford the book (savings >= t >= price)
    bill = rng.randint(3, cfg.modulus_max)
    bonus = rng.randint(2, cfg.const_max) if cfg.extra_step else 0
    prog = (
        f"def bills(start, per_chore):\n"
        f"    savings = start + per_chore * {chores}{f' + {bonus}' if bonus else ''}\n"
        f"    if savings >= {t}:\n"
        f"        savings = savings - {price}\n"
        f"    return savings // {bill}\n"
    )
    return _Story(
        "savings",
        prog,
        "bills",
        "start",
        "per_chore",
        list(range(1, cfg.latent_max + 1)),
        0,
        setup=(
            f"Leo has some dollars saved. He does {chores} chores, and his aunt pays him "
            f"the same random whole number of dollars for each chore (between 1 and {cfg.latent_max})."
            + (f" His grandmother adds {bonus} dollars." if bonus else "")
            + f" If he then has at least {t} dollars, he buys a book for {price} dollars. Finally he "
            f"exchanges his money for as many {bill}-dollar bills as he can."
        ),
        observe=lambda x, y: (
            f"Leo started with {_n(x, 'dollar')} and ended up with {_n(y, f'{bill}-dollar bill')}."
        ),
        reveal=lambda r: f"His aunt paid him {_n(r, 'dollar')} per chore.",
        ask=lambda x: (
            f"How many {bill}-dollar bills would he have had if he had started with {_n(x, 'dollar')}, "
            "with the same pay per chore?"
        ),
        label="pay per chore",
        explain=lambda x, r: _steps(
            f"savings = {x} + {r} * {chores}{f' + {bonus}' if bonus else ''}",
            x + r * chores + bonus,
            t - 1,
            price,
            f"// {bill}",
            lambda v: v // bill,
        ),
    )


def _bus(rng: Random, cfg: GsmConfig) -> _Story:
    extra, cap = (
        rng.randint(cfg.latent_max, cfg.latent_max + cfg.const_max),
        rng.randint(cfg.x_max // 2, cfg.x_max),
    )
    fare = rng.randint(2, 4) if cfg.extra_step else 1
    ret = f"on_bus * {fare}" if fare > 1 else "on_bus"
    prog = (
        f"def riders(boarded, left):\n"
        f"    on_bus = boarded + {extra} - left\n"
        f"    if on_bus > {cap}:\n"
        f"        on_bus = {cap}\n"
        f"    return {ret}\n"
    )
    what = (
        f"dollars in fares are collected from the riders at the last stop ({fare} dollars each)"
        if fare > 1
        else "people ride to the last stop"
    )
    return _Story(
        "bus",
        prog,
        "riders",
        "boarded",
        "left",
        list(range(cfg.latent_max + 1)),
        0,
        setup=(
            f"Some people board a bus at the first stop. At the second stop {extra} more people board, and "
            f"then a random number of people get off (between 0 and {cfg.latent_max}). The bus only has "
            f"room for {cap} people, so if more than {cap} are on board, the extra people must get off."
        ),
        observe=lambda x, y: (
            f"Today {_people(x)} boarded at the first stop, and "
            + (
                f"{_n(y, 'dollar')} in fares {'was' if y == 1 else 'were'} collected at the last stop."
                if fare > 1
                else f"{_people(y)} rode to the last stop."
            )
        ),
        reveal=lambda r: f"Today {_people(r)} got off at the second stop.",
        ask=lambda x: (
            f"How many {'dollars' if fare > 1 else 'people'} would there have been if {_people(x)} had "
            f"boarded at the first stop, with the same number getting off at the second stop? "
            f"(Count {what}.)"
        ),
        label="got off",
        explain=lambda x, r: _bus_steps(x + extra - r, f"{x} + {extra} - {r}", cap, fare),
    )


def _garden(rng: Random, cfg: GsmConfig) -> _Story:
    packet, t, spare = (
        rng.randint(3, cfg.modulus_max),
        rng.randint(2, cfg.latent_max - 1),
        rng.randint(1, cfg.const_max),
    )
    prog = (
        f"def seeds_left(rows, per_row):\n"
        f"    seeds = rows * per_row\n"
        f"    if per_row > {t}:\n"
        f"        seeds = seeds + {spare}\n"
        f"    return seeds % {packet}\n"
    )

    def explain(x: int, r: int) -> str:
        seeds = x * r + (spare if r > t else 0)
        extra = f"{r} > {t}, so seeds = {x * r} + {spare} = {seeds}" if r > t else f"{r} is not more than {t}"
        return f"seeds = {x} * {r} = {x * r}; {extra}; jar = {seeds} % {packet} = {seeds % packet}"

    return _Story(
        "garden",
        prog,
        "seeds_left",
        "rows",
        "per_row",
        list(range(1, cfg.latent_max + 1)),
        1,
        setup=(
            f"Nora plants rows of beans. She puts the same random number of seeds in every row (between 1 "
            f"and {cfg.latent_max}). If that number is more than {t}, she also plants {spare} spare seeds "
            f"at the end. She counts all the seeds she planted and refills packets of {packet} seeds; the "
            f"leftover seeds go in a jar."
        ),
        observe=lambda x, y: f"This spring she planted {_n(x, 'row')} and {_n(y, 'seed')} went in the jar.",
        reveal=lambda r: f"She put {_n(r, 'seed')} in every row.",
        ask=lambda x: (
            f"How many seeds would have gone in the jar if she had planted {_n(x, 'row')}, with the same "
            "number of seeds per row?"
        ),
        label="seeds in every row",
        explain=explain,
    )


def _game(rng: Random, cfg: GsmConfig) -> _Story:
    star, bonus, t = (
        rng.randint(3, cfg.modulus_max),
        rng.randint(2, cfg.const_max),
        rng.randint(2, cfg.latent_max),
    )
    prog = (
        f"def stars(points, roll):\n"
        f"    if roll >= {t}:\n"
        f"        points = points + roll * 2\n"
        f"    else:\n"
        f"        points = points + {bonus}\n"
        f"    return points // {star}\n"
    )
    return _Story(
        "game",
        prog,
        "stars",
        "points",
        "roll",
        list(range(1, cfg.latent_max + 1)),
        0,
        setup=(
            f"In a board game Sam has some points and then rolls a die numbered 1 to {cfg.latent_max}. "
            f"If the roll is at least {t}, he earns twice the roll in points; otherwise he earns {bonus} "
            f"points. Every {star} points are worth one star."
        ),
        observe=lambda x, y: f"Sam had {_n(x, 'point')} before the roll and finished with {_n(y, 'star')}.",
        reveal=lambda r: f"Sam rolled a {r}.",
        ask=lambda x: (
            f"How many stars would Sam have finished with if he had had {_n(x, 'point')} before the roll, "
            "with the same roll?"
        ),
        label="roll",
        explain=lambda x, r: (
            (
                f"roll {r} >= {t}, so points = {x} + {r} * 2 = {x + 2 * r}; "
                f"stars = {x + 2 * r} // {star} = {(x + 2 * r) // star}"
            )
            if r >= t
            else (
                f"roll {r} < {t}, so points = {x} + {bonus} = {x + bonus}; "
                f"stars = {x + bonus} // {star} = {(x + bonus) // star}"
            )
        ),
    )


def _n(count: int, noun: str) -> str:
    """`1 muffin`, `3 muffins`."""
    return f"{value_text(count)} {noun}{'' if count == 1 else 's'}"


def _people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def _steps(first: str, total: int, threshold: int, cut: int, last: str, finish: Callable[[int], int]) -> str:
    """`total = ... = v; v > threshold, so v - cut = w; w <op> = answer` (the shared story shape)."""
    text = f"{first} = {total}; "
    if total > threshold:
        text += f"{total} > {threshold}, so {total} - {cut} = {total - cut}; "
        total -= cut
    else:
        text += f"{total} is not more than {threshold}; "
    return text + f"{total} {last} = {finish(total)}"


def _bus_steps(on_bus: int, first: str, cap: int, fare: int) -> str:
    text = f"on the bus: {first} = {on_bus}; "
    if on_bus > cap:
        text += f"{on_bus} > {cap}, so only {cap} stay; "
        on_bus = cap
    return text + (f"fares = {on_bus} * {fare} = {on_bus * fare}" if fare > 1 else f"riders = {on_bus}")


TEMPLATES = (_bakery, _savings, _bus, _garden, _game)


def draft(rng: Random, cfg: GsmConfig) -> Draft:
    story = rng.choice(TEMPLATES)(rng, cfg)
    x0 = rng.randint(story.x_lo, cfg.x_max)
    x1 = rng.randint(story.x_lo, cfg.x_max - 1)
    x1 += x1 >= x0

    def render(ctx: PromptContext) -> str:
        obs = ctx.observations[0]
        parts = [story.setup, story.observe(obs["args"][story.x_name], obs["output"])]
        if ctx.mode == "interventional":
            parts.append(story.reveal(ctx.revealed[story.r_name]))  # type: ignore[index]
        parts.append(story.ask(ctx.intervention["args"][story.x_name]))
        if ctx.mode == "counterfactual":
            parts.append("The random quantity is not known, so there may be more than one possible answer.")
        return " ".join(parts)

    return Draft(
        program=story.program,
        entry=story.entry,
        inputs=[story.x_name],
        latents={story.r_name: story.r_domain},
        observations=[{story.x_name: x0}],
        intervention={story.x_name: x1},
        true_latents={story.r_name: rng.choice(story.r_domain)},
        template_id=f"gsm/{story.template}",
        display_program=story.program,
        render_prompt=render,
        latent_labels={story.r_name: story.label},
        explain=(lambda args, lat: story.explain(args[story.x_name], lat[story.r_name]))
        if story.explain
        else None,
    )


register_family("gsm", GsmConfig, draft, levels=LEVELS, default_level=3, paper=True, ood=True, math=True,
                description="GSM8K-style word problems over the same causal structures (OOD); "
                            "program in the record")
