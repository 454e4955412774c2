"""Draft -> Problem: execute over the full latent domain in the sandbox (batched), compute the answer,
apply the quality filters with counts, render prompt and gold trace.

Item `idx` is drafted from `item_rng(seed, family, mode, idx)` and either becomes a problem or is
rejected for a counted reason; a run keeps the first `n` accepted indices. Every problem records
its `idx`, so it can be rebuilt on its own (`build_item`).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from generators.family import Draft, ExecutedDraft, FamilySpec, get_family, item_rng
from generators.filters import FilterStats, find_latent_leaks, program_hashes
from generators.frozen import test_program_hashes, train_program_hashes, train_skeleton_hashes
from generators.render import build_prompt, canonical, display_program, gold_trace
from generators.schema import MODES, Problem, latent_combinations, sort_answer
from generators.version import GENERATOR_VERSION
from sandbox import UNSUPPORTED, CallStatus, Job, Sandbox, make_sandbox, run_jobs

MAX_DRAFTS_PER_PROBLEM = 60  # give up (clear error) if the knobs make acceptable problems this rare


@dataclass
class GenerationResult:
    problems: list[Problem]
    stats: FilterStats
    python_version: str


@dataclass
class Exclusions:
    """Programs and templates a run must not produce (train/test separation, OOD templates)."""

    program_hashes: frozenset[str] = frozenset()
    skeleton_hashes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Run:
    """What every item of one run shares: the family, mode, seed, knobs and split it is drafted for."""

    spec: FamilySpec
    mode: str
    seed: int
    cfg: Any
    split: str
    level: int | None
    exclusions: Exclusions


@dataclass
class _Candidate:
    idx: int
    draft: Draft
    phash: str
    shash: str
    jobs: list[Job] = field(default_factory=list)


def generate(family: str, mode: str, n: int, seed: int, level: int | None = None, split: str = "train",
             sandbox: Sandbox | None = None, **knobs: Any) -> list[Problem]:
    """`n` problems of `family` in `mode`, deterministic in (family, mode, n, seed, level, knobs, version)."""
    return generate_with_stats(
        family, mode, n, seed, level=level, split=split, sandbox=sandbox, **knobs
    ).problems


CHUNK_SIZE = 10_000  # problems per chunk; a run of up to this many problems is one chunk
CHUNK_STRIDE = 10**9  # chunk c drafts items c * CHUNK_STRIDE, c * CHUNK_STRIDE + 1, ... (disjoint streams)
MAX_CHUNKS = 1_000_000  # a run's plan is a list of chunks: --n 1e23 must be refused, not exhaust memory


def chunk_plan(n: int, chunk_size: int = CHUNK_SIZE, shard: tuple[int, int] = (0, 1)) -> list[tuple[int, int]]:
    """(chunk, problems) of shard I of N: a contiguous block of the run's chunks, so the N shards'
    outputs concatenated in order are the unsharded run, byte for byte.

    Why chunks: item `idx` is accepted or rejected only after running it, so where problem k of a
    run starts is unknown until everything before it has run. A chunk draws from its own index
    stream, so shards generate their chunks without each other. A run of at most `chunk_size`
    problems is one chunk, the plain sequential run; duplicate programs are removed within a chunk.
    """
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be I/N with 0 <= I < N, got {index}/{count}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if -(-n // chunk_size) > MAX_CHUNKS:
        raise ValueError(f"n must be at most {MAX_CHUNKS:,} chunks of {chunk_size:,} problems "
                         f"({MAX_CHUNKS * chunk_size:,}), got {n:,}")
    chunks = [(c, min(chunk_size, n - c * chunk_size)) for c in range(-(-n // chunk_size))]
    return chunks[index * len(chunks) // count:(index + 1) * len(chunks) // count]


def generate_with_stats(
    family: str,
    mode: str,
    n: int,
    seed: int,
    level: int | None = None,
    split: str = "train",
    sandbox: Sandbox | None = None,
    exclusions: Exclusions | None = None,
    batch_size: int = 256,
    shard: tuple[int, int] = (0, 1),
    chunk_size: int = CHUNK_SIZE,
    **knobs: Any,
) -> GenerationResult:
    """Like `generate`, also returning per-run filter/rejection counts.

    For the train split, programs of the frozen test suites (and, for OOD families, the templates of
    the training set) are excluded automatically unless `exclusions` is given. `shard=(I, N)` makes
    only shard I's chunks of the run (see `chunk_plan`).
    """
    spec = get_family(family)
    _check_args(spec, mode, n, split, seed)
    plan = chunk_plan(n, chunk_size, shard)
    cfg = spec.config(level, **knobs)
    if exclusions is None:
        exclusions = default_exclusions(spec, split)
    with _borrowed(sandbox) as sb:
        stats = FilterStats()
        problems: list[Problem] = []
        run = _Run(spec, mode, seed, cfg, split, level, exclusions)
        for chunk, count in plan:
            problems += _generate_chunk(run, count, chunk * CHUNK_STRIDE, sb, stats, batch_size)
        return GenerationResult(problems, stats, sb.python_version)


def _generate_chunk(run: _Run, n: int, offset: int, sb: Sandbox, total: FilterStats,
                    batch_size: int) -> list[Problem]:
    """The first `n` accepted items of the index stream starting at `offset`."""
    stats = FilterStats()
    problems: list[Problem] = []
    seen: set[str] = set()
    idx = offset
    while len(problems) < n:
        if stats.drafted >= MAX_DRAFTS_PER_PROBLEM * n + 100:
            overlap = stats.rejected["test_overlap"] * 2 > stats.drafted
            why = (f"this seed drafts the frozen {'test' if run.split == 'train' else 'train'} suites' programs, "
                   f"which a {run.split} run never produces: use another seed" if overlap
                   else "knobs too restrictive?")
            raise ValueError(
                f"{run.spec.name}/{run.mode}: only {len(problems)} of {n} problems after "
                f"{stats.drafted} drafts; {why} counts={stats.to_dict()}"
            )
        rate = stats.accepted / stats.drafted if stats.drafted else 0.6
        want = min(batch_size, max(8, math.ceil(1.15 * (n - len(problems)) / max(rate, 0.05))))
        batch = range(idx, idx + want)
        idx += want
        for problem in _build_batch(run, batch, sb, stats, seen):
            if len(problems) < n:
                problems.append(problem)
                stats.accepted += 1
    total.merge(stats)
    return problems


def build_item(
    family: str,
    mode: str,
    seed: int,
    idx: int,
    level: int | None = None,
    split: str = "train",
    sandbox: Sandbox | None = None,
    **knobs: Any,
) -> Problem | None:
    """Rebuild item `idx` alone (None if that index is rejected by a per-item filter)."""
    spec = get_family(family)
    _check_args(spec, mode, 1, split, seed)
    cfg = spec.config(level, **knobs)
    with _borrowed(sandbox) as sb:
        out = _build_batch(_Run(spec, mode, seed, cfg, split, level, Exclusions()), [idx], sb, FilterStats(), set())
    return out[0] if out else None


@contextlib.contextmanager
def _borrowed(sandbox: Sandbox | None) -> Iterator[Sandbox]:
    """The caller's sandbox (left open), or a fresh "auto" one closed afterwards."""
    if sandbox is not None:
        yield sandbox
        return
    with make_sandbox("auto") as own:
        yield own


def draft_item(family: str, mode: str, seed: int, idx: int, level: int | None = None, **knobs: Any) -> Draft:
    """The raw draft of item `idx` (including its true latents): for tests and debugging."""
    spec = get_family(family)
    return spec.draft(item_rng(seed, family, mode, idx), spec.config(level, **knobs))


def _check_args(spec: FamilySpec, mode: str, n: int, split: str, seed: int = 0) -> None:
    if mode not in MODES or mode not in spec.modes:
        raise ValueError(f"mode must be one of {list(spec.modes)}, got {mode!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):  # '7' or 1.5 drafted another run, silently
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def default_exclusions(spec: FamilySpec, split: str) -> Exclusions:
    """Train runs avoid every frozen test program and test runs every frozen training program; OOD
    families avoid every template of the frozen training set."""
    return Exclusions(
        program_hashes=test_program_hashes() if split == "train" else train_program_hashes(),
        skeleton_hashes=train_skeleton_hashes() if spec.ood else frozenset(),
    )


def _build_batch(run: _Run, indices: Iterable[int], sandbox: Sandbox, stats: FilterStats,
                 seen: set[str]) -> list[Problem]:
    spec, exclusions = run.spec, run.exclusions
    candidates: list[_Candidate] = []
    for idx in indices:
        draft = spec.draft(item_rng(run.seed, spec.name, run.mode, idx), run.cfg)
        _check_draft(spec.name, draft)
        stats.drafted += 1
        cand = _Candidate(idx, draft, *program_hashes(draft.program, draft.intervention_program))
        # Cheap filters first, so no sandbox time is spent on programs we would drop anyway.
        if cand.phash in seen:
            stats.reject("duplicate")
            continue
        if cand.phash in exclusions.program_hashes:
            stats.reject("test_overlap")
            continue
        if cand.shash in exclusions.skeleton_hashes:
            stats.reject("train_template")
            continue
        seen.add(cand.phash)
        combos = [list(c) for c in latent_combinations(draft.latents)]
        for obs in draft.observations:
            cand.jobs.append(Job(draft.program, draft.entry, [_args(draft, obs) + c for c in combos], group=idx))
        cand.jobs.append(
            Job(
                draft.intervention_program or draft.program,
                draft.entry,
                [_args(draft, draft.intervention) + c for c in combos],
                group=idx,  # the jobs of one draft share a child process, no other draft's
            )
        )
        candidates.append(cand)
    results = run_jobs(sandbox, [job for c in candidates for job in c.jobs])
    problems, pos = [], 0
    version = sandbox.python_version
    for cand in candidates:
        mine = results[pos : pos + len(cand.jobs)]
        pos += len(cand.jobs)
        bad = next((r for r in mine if r.status != "ok"), None)
        if bad is not None:
            stats.reject(
                "unsupported_output" if bad.error_type == UNSUPPORTED
                else "program_error" if bad.status is CallStatus.ERROR
                else "program_timeout"
            )
            continue
        executed = _execute(run, cand.draft, [r.values for r in mine], stats)
        problem = None if executed is None else _assemble(run, cand, executed, version, stats)
        if problem is not None:
            problems.append(problem)
    return problems


def _args(draft: Draft, args: dict[str, Any]) -> list[Any]:
    return [args[name] for name in draft.inputs]


def _check_draft(family: str, draft: Draft) -> None:
    """Family bugs should fail loudly, not turn into odd problems."""
    for obs in [*draft.observations, draft.intervention]:
        if list(obs) != list(draft.inputs):
            raise ValueError(
                f"{family}: args {list(obs)} must name exactly the inputs {draft.inputs} in order"
            )
    if not draft.observations:
        raise ValueError(f"{family}: a draft needs at least one observation")
    if set(draft.true_latents) != set(draft.latents):
        raise ValueError(f"{family}: true_latents must assign every latent")
    for name, value in draft.true_latents.items():
        if value not in draft.latents[name]:
            raise ValueError(f"{family}: true value {value!r} of {name} is outside its domain")


def _execute(run: _Run, draft: Draft, outputs: list[list[Any]], stats: FilterStats) -> ExecutedDraft | None:
    """The observations and answer the sandbox's outputs give (observation calls first, the intervened
    call last), or None, counted, when the abduction filters refuse the draft."""
    names = list(draft.latents)
    combos = latent_combinations(draft.latents)
    true_k = combos.index(tuple(draft.true_latents[n] for n in names))
    factual, intervened = outputs[:-1], outputs[-1]
    observed = [f[true_k] for f in factual]
    consistent = [
        k
        for k in range(len(combos))
        if all(canonical(f[k]) == canonical(y) for f, y in zip(factual, observed))
    ]
    if run.mode == "counterfactual":
        answer = sort_answer(intervened[k] for k in consistent)
        if len(answer) >= len(sort_answer(intervened)):
            stats.reject("no_abduction")
            return None
        cfg = run.cfg
        if len(answer) < cfg.min_answer_size or (cfg.max_answer_size and len(answer) > cfg.max_answer_size):
            stats.reject("answer_size")
            return None
        revealed = None
    else:
        answer = [intervened[true_k]]
        revealed = dict(draft.true_latents)
    observations = [{"args": dict(a), "output": y} for a, y in zip(draft.observations, observed)]
    intervention: dict[str, Any] = {"args": dict(draft.intervention)}
    if draft.internal is not None:
        intervention["internal"] = dict(draft.internal)
    if draft.intervention_program is not None:
        intervention["program"] = draft.intervention_program
    return ExecutedDraft(draft, run.mode, combos, factual, intervened, observations, intervention, consistent,
                         answer, revealed)


def _assemble(run: _Run, cand: _Candidate, ex: ExecutedDraft, python_version: str,
              stats: FilterStats) -> Problem | None:
    """The problem record of an executed draft, or None, counted, when its prompt leaks a latent."""
    spec, mode, seed, draft = run.spec, run.mode, run.seed, ex.draft
    shown = draft.display_program or display_program(draft.program, draft.entry, draft.latents)
    prompt = build_prompt(draft, ex.prompt_context(shown))
    if mode == "counterfactual" and find_latent_leaks(prompt, draft.true_latents, draft.latent_labels):
        stats.reject("latent_leak")
        return None
    trace = gold_trace(ex)
    meta = {
        "idx": cand.idx,
        "seed": seed,
        "template_id": draft.template_id,
        "knobs": run.cfg.knobs(),
        "program_hash": cand.phash,
        "skeleton_hash": cand.shash,
        "n_latent_combinations": len(ex.combos),
        "n_consistent": len(ex.consistent),
        "role": _role(spec),
        **({"unconditioned_answer_size": len(sort_answer(ex.intervened))} if mode == "counterfactual" else {}),
        **draft.extra_meta,
    }
    return Problem(
        id=f"{spec.name}:{mode}:{run.split}:{seed}:{cand.idx}",
        family=spec.name,
        mode=mode,
        split=run.split,
        level=spec.default_level if run.level is None else run.level,
        program=draft.program,
        entry=draft.entry,
        inputs=list(draft.inputs),
        latents={k: list(v) for k, v in draft.latents.items()},
        observations=ex.observations,
        intervention=ex.intervention,
        answer=ex.answer,
        prompt=prompt,
        python_version=python_version,
        revealed=ex.revealed,
        meta=meta,
        gold_trace=trace,
        generator_version=GENERATOR_VERSION,
    )


def _role(spec: FamilySpec) -> str:
    return ("ood" if spec.ood else "in_distribution") + ("/paper" if spec.paper else "/beyond_paper")
