"""data (beyond the paper, OOD): programs over strings and lists, so answers are strings or lists.

    def f(s, k, c):           # shown as: k = random.randint(0, 5); c = random.choice(['a', 'b', 'c'])
        t = s
        t = t[k % len(t):] + t[:k % len(t)]
        t = t.replace(c, c.upper())
        return t[:3]

The program is a pipeline of small operations (rotate, slice, insert, replace, map, filter, sort,
...), each parameterised by the latents. Answers are plain JSON strings / lists and are ordered by
`generators.schema.sort_answer`. Each operation carries its own Python meaning, used only to narrate
the gold trace (the answer itself comes from executing the program in the sandbox).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from generators.family import Draft, FamilyConfig, register_family

ALPHABET = "abcdefghijklmnop"
KINDS = ("str", "list")


@dataclass
class DataConfig(FamilyConfig):
    kind: str = "mixed"  # "str", "list" or "mixed" (either, per problem)
    n_ops: int = 3  # operations in the pipeline
    n_latents: int = 2  # 1: k only; 2: k and a second latent (a character c for strings, j for lists)
    latent_max: int = 5  # k in 0..latent_max (j too)
    length: int = 5  # length of the input string / list
    alphabet: int = 4  # strings use the first `alphabet` letters; c is drawn from them
    value_max: int = 9  # list elements in 0..value_max
    take: int = 3  # answer size knob: the result is cut to its first `take` items (0: never cut)

    def validate(self) -> None:
        if self.kind not in (*KINDS, "mixed"):
            raise ValueError(f"kind must be 'str', 'list' or 'mixed', got {self.kind!r}")
        self.check_ranges(n_ops=(1, 6), n_latents=(1, 2), latent_max=(1, 20), length=(2, 12),
                     alphabet=(2, len(ALPHABET)), value_max=(2, 99), take=(0, 12))


LEVELS = {
    1: {"kind": "mixed", "n_ops": 2, "n_latents": 1, "latent_max": 3, "length": 4, "alphabet": 3,
        "value_max": 5, "take": 0},
    2: {"kind": "mixed", "n_ops": 2, "n_latents": 1, "latent_max": 4, "length": 4, "alphabet": 4,
        "value_max": 9, "take": 3},
    3: {"kind": "mixed", "n_ops": 3, "n_latents": 2, "latent_max": 5, "length": 5, "alphabet": 4,
        "value_max": 9, "take": 3},
    4: {"kind": "mixed", "n_ops": 4, "n_latents": 2, "latent_max": 6, "length": 6, "alphabet": 5,
        "value_max": 12, "take": 4},
    5: {"kind": "mixed", "n_ops": 5, "n_latents": 2, "latent_max": 8, "length": 7, "alphabet": 6,
        "value_max": 15, "take": 4},
}


@dataclass(frozen=True)
class Op:
    """One pipeline step: its source lines (over `t` and the latents) and its meaning for narration."""

    name: str
    lines: tuple[str, ...]
    apply: Callable[[Any, dict[str, Any]], Any]
    uses: frozenset[str]  # latents it reads


def _rot(t: Any, n: int) -> Any:
    return t[n % len(t) :] + t[: n % len(t)] if len(t) else t


def _caesar(t: str, k: int) -> str:
    return "".join(chr((ord(ch) - 97 + k) % 26 + 97) for ch in t)


def _plus(n: int) -> str:
    """` + n` / ` - n` / nothing, for readable constants in generated code."""
    return f" + {n}" if n > 0 else (f" - {-n}" if n < 0 else "")


def _string_ops(rng: Random, second: bool, lowercase: bool) -> list[Op]:
    """String operations available now; none shortens a string to empty (so `len(t)` never is 0).
    Constants vary per draw so that short pipelines still give many distinct programs."""
    n, d, p = rng.randint(1, 3), rng.randint(0, 2), rng.randint(0, 1)
    a, b = rng.sample("xyz", 2)
    k = frozenset({"k"})
    sh = f"(k{_plus(d)})" if d else "k"
    ops = [
        Op("rotate", (f"t = t[{sh} % len(t):] + t[:{sh} % len(t)]",), lambda t, e: _rot(t, e["k"] + d), k),
        Op(
            "reverse_if",
            (f"if k % 2 == {p}:", "    t = t[::-1]"),
            lambda t, e: t[::-1] if e["k"] % 2 == p else t,
            k,
        ),
        Op("prefix", (f"t = t[:k + {n}]",), lambda t, e: t[: e["k"] + n], k),
        rng.choice(
            [
                Op("repeat", ("t = t + t[:k]",), lambda t, e: t + t[: e["k"]], k),
                Op("repeat", ("t = t[:k] + t",), lambda t, e: t[: e["k"]] + t, k),
                Op("repeat", ("t = t[-k:] + t",), lambda t, e: t[-e["k"] :] + t, k),
            ]
        ),  # t[-0:] is all of t
        Op("pick_char", (f"t = t + {a + b!r}[k % 2]",), lambda t, e: t + (a + b)[e["k"] % 2], k),
    ]
    if lowercase:
        ops.append(
            Op(
                "caesar",
                (f"t = ''.join(chr((ord(ch) - 97 + k{_plus(d)}) % 26 + 97) for ch in t)",),
                lambda t, e: _caesar(t, e["k"] + d),
                k,
            )
        )
        ops.append(
            Op(
                "upper_if",
                (f"if k > {n}:", "    t = t.upper()"),
                lambda t, e: t.upper() if e["k"] > n else t,
                k,
            )
        )
    if second:
        kc = frozenset({"k", "c"})
        ops.append(
            Op("insert", ("t = t[:k] + c + t[k:]",), lambda t, e: t[: e["k"]] + e["c"] + t[e["k"] :], kc)
        )
        ops.append(
            Op(
                "upper_char",
                ("t = t.replace(c, c.upper())",),
                lambda t, e: t.replace(e["c"], e["c"].upper()),
                frozenset({"c"}),
            )
        )
        ops.append(
            Op(
                "count_mark",
                (f"t = t + str(t.count(c){_plus(d)})",),
                lambda t, e: t + str(t.count(e["c"]) + d),
                frozenset({"c"}),
            )
        )
    return ops


def _list_ops(rng: Random, second: bool) -> list[Op]:
    m, n, d, p = rng.randint(5, 11), rng.randint(1, 3), rng.randint(-2, 2), rng.randint(0, 1)
    k = frozenset({"k"})
    keep = rng.choice([">", ">=", "!="])
    ops = [
        Op("add", (f"t = [v + k{_plus(d)} for v in t]",), lambda t, e: [v + e["k"] + d for v in t], k),
        Op(
            "scale_mod",
            (f"t = [v * (k + {n}) % {m} for v in t]",),
            lambda t, e: [v * (e["k"] + n) % m for v in t],
            k,
        ),
        Op(
            "filter",
            (f"t = [v for v in t if v {keep} k]",),
            lambda t, e: [v for v in t if {">": v > e["k"], ">=": v >= e["k"], "!=": v != e["k"]}[keep]],
            k,
        ),
        Op("rotate", ("if t:", "    t = t[k % len(t):] + t[:k % len(t)]"), lambda t, e: _rot(t, e["k"]), k),
        Op("append", (f"t = t + [k * {n}]",), lambda t, e: t + [e["k"] * n], k),
        Op(
            "sort_if",
            (f"if k % 2 == {p}:", "    t = sorted(t)" if d >= 0 else "    t = sorted(t, reverse=True)"),
            lambda t, e: sorted(t, reverse=d < 0) if e["k"] % 2 == p else t,
            k,
        ),
        Op("prefix", (f"t = t[:k + {n}]",), lambda t, e: t[: e["k"] + n], k),
    ]
    if second:
        kj = frozenset({"j"})
        ops.append(
            Op(
                "odd_shift",
                (f"t = [v if v % 2 == {p} else v + j for v in t]",),
                lambda t, e: [v if v % 2 == p else v + e["j"] for v in t],
                kj,
            )
        )
        ops.append(
            Op(
                "cap",
                (f"t = [min(v, j + {n}) for v in t]",),
                lambda t, e: [min(v, e["j"] + n) for v in t],
                kj,
            )
        )
        ops.append(
            Op(
                "insert_at",
                ("t = t[:j] + [k] + t[j:]",),
                lambda t, e: t[: e["j"]] + [e["k"]] + t[e["j"] :],
                frozenset({"k", "j"}),
            )
        )
    return ops


def _pipeline(rng: Random, cfg: DataConfig, kind: str) -> list[Op]:
    second = cfg.n_latents == 2
    chosen: list[Op] = []
    lowercase = True
    for _ in range(cfg.n_ops):
        pool = _string_ops(rng, second, lowercase) if kind == "str" else _list_ops(rng, second)
        pool = [op for op in pool if not chosen or op.name != chosen[-1].name]
        op = rng.choice(pool)
        lowercase = lowercase and op.name not in ("upper_if", "upper_char")
        chosen.append(op)
    needed = {"k", "c" if kind == "str" else "j"} if second else {"k"}
    missing = needed - set().union(*(op.uses for op in chosen))
    for name in sorted(missing):  # every latent must be read by some step
        pool = [
            op
            for op in (_string_ops(rng, second, lowercase) if kind == "str" else _list_ops(rng, second))
            if name in op.uses
        ]
        chosen[rng.randrange(len(chosen))] = rng.choice(pool)
    return chosen


def _input_value(rng: Random, cfg: DataConfig, kind: str) -> Any:
    if kind == "str":
        return "".join(rng.choice(ALPHABET[: cfg.alphabet]) for _ in range(cfg.length))
    return [rng.randint(0, cfg.value_max) for _ in range(cfg.length)]


def draft(rng: Random, cfg: DataConfig) -> Draft:
    kind = rng.choice(KINDS) if cfg.kind == "mixed" else cfg.kind
    ops = _pipeline(rng, cfg, kind)
    arg = "s" if kind == "str" else "xs"
    latents: dict[str, list[Any]] = {"k": list(range(cfg.latent_max + 1))}
    if cfg.n_latents == 2:
        if kind == "str":
            latents["c"] = list(ALPHABET[: cfg.alphabet])
        else:
            latents["j"] = list(range(cfg.latent_max + 1))
    ret = f"t[:{cfg.take}]" if cfg.take else "t"
    lines = [
        f"def f({', '.join([arg, *latents])}):",
        f"    t = {arg}" if kind == "str" else f"    t = list({arg})",
    ]
    lines += ["    " + line for op in ops for line in op.lines]
    lines.append(f"    return {ret}")
    x0 = _input_value(rng, cfg, kind)
    x1 = _input_value(rng, cfg, kind)
    while x1 == x0:
        x1 = _input_value(rng, cfg, kind)

    def explain(args: dict[str, Any], values: dict[str, Any]) -> str:
        t = list(args[arg]) if kind == "list" else args[arg]
        steps = [f"t = {t!r}"]
        for op in ops:
            t = op.apply(t, values)
            steps.append(f"{' '.join(line.strip() for line in op.lines)} -> {t!r}")
        result = t[: cfg.take] if cfg.take else t
        return "; ".join(steps) + f"; returns {result!r}"

    return Draft(
        program="\n".join(lines) + "\n",
        entry="f",
        inputs=[arg],
        latents=latents,
        observations=[{arg: x0}],
        intervention={arg: x1},
        true_latents={name: rng.choice(domain) for name, domain in latents.items()},
        template_id=f"data/{kind}_" + "_".join(op.name for op in ops),
        explain=explain,
        extra_meta={"kind": kind, "ops": [op.name for op in ops]},
    )


register_family("data", DataConfig, draft, levels=LEVELS, default_level=3, paper=False, ood=True,
                description="string and list pipelines; answers are strings or lists")
