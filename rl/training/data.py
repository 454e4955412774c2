"""Training data: problems (from a suite file or the generators) as TRL datasets.

GRPO rows carry the chat prompt plus the serialized problem, which TRL hands to the reward function
as a keyword column; SFT rows are prompt/completion conversations (the completion is a reasoning trace).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from envs import render_prompt, trl_rows
from generators import TRACE_STYLES, InputError, Problem, compact_trace, describe, generate, load_problems
from rl.inference.engines import plain_prompt


def problem_messages(problem: Problem) -> list[dict[str, str]]:
    """The chat prompt a policy sees for a problem: the env's rendering, so training matches evaluation."""
    return render_prompt(problem, "chat")


@dataclass
class ProblemSource:
    """Where training problems come from: a JSONL file (e.g. the frozen train set) or the generators."""

    train_file: str | None = None
    family: str = "if_else"
    modes: list[str] = field(default_factory=lambda: ["counterfactual"])
    n_problems: int = 256  # per mode, when generating
    data_seed: int = 0
    level: int | None = None

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in ("counterfactual", "interventional")]
        if bad or not self.modes:
            raise ValueError(f"modes must be a non-empty subset of counterfactual/interventional, "
                             f"got {self.modes}")

    def load_problems(self) -> list[Problem]:
        return load_train_problems(self.train_file, self.family, self.modes, self.n_problems, self.data_seed,
                                   self.level)


def load_train_problems(train_file: str | None, family: str, modes: Sequence[str], n_problems: int,
                        data_seed: int, level: int | None = None) -> list[Problem]:
    """Problems from `train_file` (filtered to `modes`) or freshly generated (`n_problems` per mode)."""
    if train_file:
        problems = [p for p in load_problems(train_file) if p.mode in modes]
        if not problems:
            raise ValueError(f"{train_file}: no problems in modes {list(modes)}")
        return problems

    problems = []
    for mode in modes:
        problems.extend(generate(family, mode, n_problems, data_seed, level=level, split="train"))
    return problems


def grpo_rows(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Chat prompt + the columns `envs.make_reward_fn` reads (the env's own `trl_rows`)."""
    return trl_rows(problems, style="chat")


def gold_sft_rows(problems: Sequence[Problem], style: str = "full") -> list[dict[str, Any]]:
    """Conversational prompt/completion rows from the generators' gold traces (`style` "compact":
    without the per-combination evaluations of the abduction table, see generators.render)."""
    if style not in TRACE_STYLES:
        raise ValueError(f"trace style must be one of {list(TRACE_STYLES)}, got {style!r}")
    missing = [p.id for p in problems if not p.gold_trace.strip()]
    if missing:
        raise ValueError(f"{len(missing)} problems have no gold trace (first: {missing[:3]})")
    shape = compact_trace if style == "compact" else (lambda t: t)
    return [{"prompt": problem_messages(p), "completion": [{"role": "assistant", "content": shape(p.gold_trace)}]}
            for p in problems]


def rows_for_tokenizer(rows: list[dict[str, Any]], tokenizer: Any) -> list[dict[str, Any]]:
    """Conversational rows as they are when the tokenizer has a chat template (TRL applies it); for a
    model without one, the raw-prompt path the engines use: the prompt text (rl.inference.engines.plain_prompt)
    and the completion text, to which TRL appends the eos token."""
    if getattr(tokenizer, "chat_template", None):
        return rows

    out = []
    for row in rows:
        row = dict(row)
        if isinstance(row.get("prompt"), list):
            row["prompt"] = plain_prompt(row["prompt"]) + "\n\n"
        if isinstance(row.get("completion"), list):
            row["completion"] = "".join(str(m["content"]) for m in row["completion"])
        out.append(row)
    return out


def load_trace_rows(path: str | Path) -> list[dict[str, Any]]:
    """Teacher traces written by `cfcode distill` (JSONL of prompt/completion conversations)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no trace file at {path}")
    rows = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not (isinstance(row, dict) and isinstance(row.get("prompt"), list)
                        and isinstance(row.get("completion"), list)):
                    raise ValueError("needs 'prompt' and 'completion' message lists")
                for key in ("prompt", "completion"):  # the chat template met them after torch had loaded
                    for i, message in enumerate(row[key]):
                        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                                and isinstance(message.get("content"), str)):
                            raise ValueError(f"{key}[{i}]: expected a message {{role: str, content: str}}, "
                                             f"got {describe(message)}")
                        message["content"].encode("utf-8")  # a lone surrogate: the tokenizer refused it
            except (ValueError, RecursionError) as exc:  # UnicodeError too: not UTF-8, or a lone surrogate
                raise InputError(f"not a trace record: {exc}", where=f"{path}:{lineno}") from None
            rows.append({"prompt": row["prompt"], "completion": row["completion"]})
    if not rows:
        raise ValueError(f"{path}: no traces")
    return rows


def to_dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    return Dataset.from_list(rows)
