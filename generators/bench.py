"""Throughput benchmark: problems per second including ground truth through the sandbox."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from generators.pipeline import Exclusions, generate_with_stats
from sandbox import Job, make_sandbox, run_jobs

TARGET_PROBLEMS_PER_S = 200.0


@dataclass
class BenchConfig:
    family: str = "if_else"
    mode: str = "counterfactual"
    n: int = 2000
    seed: int = 12345
    level: int | None = None  # None: the family's default difficulty
    sandbox_backend: str = "docker"


def _isolation_cost(sandbox, records: int = 200) -> dict:
    """What a process per record costs: `records` one-call records vs one record of as many calls,
    through the same sandbox back to back (the difference is fork, copy-on-write and exit)."""
    source = "def f(x, r):\n    return (x * r + 3) % 7\n"
    args = [[x, 2] for x in range(records)]
    run_jobs(sandbox, [Job(source, "f", args[:2])] * 2)  # warm
    t0 = time.perf_counter()
    run_jobs(sandbox, [Job(source, "f", args)])
    t1 = time.perf_counter()
    run_jobs(sandbox, [Job(source, "f", [a]) for a in args], pack_groups=records)
    t2 = time.perf_counter()
    return {"records": records, "one_record_s": round(t1 - t0, 4), "separate_records_s": round(t2 - t1, 4),
            "ms_per_record": round((t2 - t1 - (t1 - t0)) / records * 1000, 3)}


def run_benchmark(cfg: BenchConfig) -> dict:
    """Time `generate` end to end on an already-started sandbox (start-up is reported separately)."""
    t0 = time.perf_counter()
    with make_sandbox(cfg.sandbox_backend) as sandbox:
        generate_with_stats(cfg.family, cfg.mode, 8, cfg.seed + 1, level=cfg.level, sandbox=sandbox,
                            exclusions=Exclusions())  # warm the pool
        startup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = generate_with_stats(cfg.family, cfg.mode, cfg.n, cfg.seed, level=cfg.level, sandbox=sandbox,
                                     exclusions=Exclusions())
        seconds = time.perf_counter() - t1
        isolation = _isolation_cost(sandbox)
    rate = len(result.problems) / seconds if seconds > 0 else float("inf")
    return {**asdict(cfg), "seconds": round(seconds, 3), "startup_seconds": round(startup_s, 3),
            "isolation": isolation,
            "problems_per_s": round(rate, 1), "drafts_per_s": round(result.stats.drafted / seconds, 1),
            "target_problems_per_s": TARGET_PROBLEMS_PER_S, "meets_target": rate >= TARGET_PROBLEMS_PER_S,
            "python_version": result.python_version, "filter_counts": result.stats.to_dict()}
