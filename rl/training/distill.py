"""Teacher traces for SFT: sample an endpoint, keep only what the env's verifier accepts.

Rejection sampling: each training problem gets `samples_per_problem` teacher completions; those whose
reward reaches `min_reward` are kept (at most `keep_per_problem`, first in sample order). The output
is a JSONL of prompt/completion conversations that `SFTRunConfig(traces=PATH)` trains on. The file is
written in batches and a rerun skips problems already done, so an interrupted run loses nothing.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from envs import make_reward_fn
from generators import InputError
from rl.inference.engines import RolloutEngine, SamplingConfig, make_engine
from rl.training.config import TomlConfig
from rl.training.data import ProblemSource, problem_messages


@dataclass
class DistillConfig(ProblemSource, TomlConfig):
    _required = ("endpoint",)

    endpoint: str = ""  # engine spec: openai:BASE_URL#MODEL (or vllm:PATH / hf:PATH for a local teacher)
    out: str = "runs/distill/traces.jsonl"
    samples_per_problem: int = 4
    keep_per_problem: int = 1
    max_tokens: int = 2048
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0
    reward: str = "exact"
    min_reward: float = 1.0
    batch_size: int = 32  # problems per request batch (also the unit written to disk)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.endpoint:
            raise ValueError("DistillConfig: 'endpoint' is required (e.g. openai:BASE_URL#MODEL)")
        if self.samples_per_problem < 1 or self.keep_per_problem < 1 or self.batch_size < 1:
            raise ValueError("samples_per_problem, keep_per_problem and batch_size must be >= 1")


@dataclass
class DistillReport:
    out: str
    problems: int  # problems sampled in this run
    skipped: int  # already in the output file from an earlier run
    samples: int
    kept: int
    problems_with_trace: int

    @property
    def acceptance_rate(self) -> float:
        return self.kept / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acceptance_rate": self.acceptance_rate}


def _done_ids(out: Path) -> set[str]:
    if not out.is_file():
        return set()
    done = set()
    with out.open("rb") as fh:  # the kept traces of an earlier run with this `out`: what to resume from
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                problem_id = row["problem_id"]
                if not isinstance(problem_id, str):
                    raise TypeError(f"problem_id is {type(problem_id).__name__}")
            except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:  # another file
                raise InputError(f"expected a trace record of an earlier distill run to resume from (a JSON "
                                 f"object with a problem_id), got {type(exc).__name__}: {exc}",
                                 where=f"{out}:{lineno}", field="out") from None
            done.add(problem_id)
    progress = out.with_suffix(out.suffix + ".done")
    if progress.is_file():  # problems sampled without a kept trace are recorded here
        done.update(x for x in progress.read_text(encoding="utf-8").splitlines() if x)
    return done


def run_distill(cfg: DistillConfig, *, problems: Sequence[Any] | None = None,
                engine: RolloutEngine | None = None) -> DistillReport:
    if problems is None:
        problems = cfg.load_problems()
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done_ids(out)
    todo = [p for p in problems if p.id not in done]
    reward_fn = make_reward_fn(cfg.reward)
    sampling = SamplingConfig(max_tokens=cfg.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                              n=cfg.samples_per_problem, seed=cfg.seed)
    report = DistillReport(out=str(out), problems=len(todo), skipped=len(problems) - len(todo), samples=0,
                           kept=0, problems_with_trace=0)
    own_engine = engine is None
    engine = engine or make_engine(cfg.endpoint)
    try:
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start:start + cfg.batch_size]
            prompts = [problem_messages(p) for p in batch]
            groups = engine.generate(prompts, sampling)
            flat = [(p, prompt, c) for p, prompt, g in zip(batch, prompts, groups, strict=True) for c in g]
            rewards = reward_fn(
                completions=[c.text for _, _, c in flat], problem=[p.to_json() for p, _, _ in flat]
            )
            kept: dict[str, int] = {}
            lines = []
            for (problem, prompt, completion), reward in zip(flat, rewards, strict=True):
                report.samples += 1
                if (
                    reward is None
                    or reward < cfg.min_reward
                    or kept.get(problem.id, 0) >= cfg.keep_per_problem
                ):
                    continue
                kept[problem.id] = kept.get(problem.id, 0) + 1
                lines.append(
                    json.dumps(
                        {
                            "problem_id": problem.id,
                            "reward": reward,
                            "prompt": prompt,
                            "completion": [{"role": "assistant", "content": completion.text}],
                        },
                        sort_keys=True,
                        ensure_ascii=False,
                    )
                )
            with out.open("a", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in lines)
            with out.with_suffix(out.suffix + ".done").open("a", encoding="utf-8") as fh:
                fh.writelines(p.id + "\n" for p in batch)
            report.kept += len(lines)
            report.problems_with_trace += len(kept)
    finally:
        if own_engine:
            engine.close()
    return report
