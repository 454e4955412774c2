"""reasoning-gym (0.1.25): every family registered as a procedural dataset, `counterfactual_<family>`.

    import reasoning_gym, envs.adapters.reasoning_gym_env    # registers the datasets (idempotent)
    data = reasoning_gym.create_dataset("counterfactual_while", seed=0, size=50, suite="frozen:test")
    entry = data[0]                                           # question, answer, metadata
    data.score_answer(completion, entry)                      # 1.0 / 0.0 (or set F1 with reward="f1")

    from reasoning_gym.composite import CompositeConfig, CompositeDataset, DatasetSpec
    mix = CompositeDataset(CompositeConfig(size=100, seed=0, datasets=[
        DatasetSpec("counterfactual_if_else", 1.0, {"suite": "frozen:test"}),
        DatasetSpec("basic_arithmetic", 1.0, {})]))

Config (`CounterfactualConfig`): `seed`, `size` (reasoning-gym's), `mode`, `level`, `suite` (None:
`size` problems generated on the fly from `seed`, of `split`; or a JSONL path / "frozen:test" / "frozen:train", sampled
by `seed`), `reward` ("exact" | "f1"), `sandbox_backend`. Problems come from the same pools as
`CounterfactualCode-v0` (`envs.sources`) and are loaded on first access, so a composite is cheap to build.

`score_answer(answer, entry)`: `answer` is the model's whole completion (the parser's rules apply:
last `<answer>` block outside code fences) or, as reasoning-gym's `extract_answer` returns it, the
text inside the tags (then scored as `<answer>{answer}</answer>`). Scoring is `envs.scoring`'s.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from random import Random
from typing import Any

from reasoning_gym.dataset import ProceduralDataset
from reasoning_gym.factory import DATASETS, register_dataset

from envs.adapters._labels import problem_from_label, problem_label
from envs.code_env import CounterfactualCodeEnv
from envs.parsing import _CLOSE_TAG, _OPEN_TAG
from envs.scoring import score_completion
from generators import FAMILIES, MODES, sort_answer

PREFIX = "counterfactual_"


@dataclass
class CounterfactualConfig:
    """One family's dataset; `family` is fixed by the registered name (`counterfactual_<family>`)."""

    family: str = "if_else"
    mode: str = "counterfactual"
    level: int | None = None
    suite: str | None = None
    split: str = "train"  # of generated problems (suite=None); "train" excludes the frozen test programs
    reward: str = "exact"
    sandbox_backend: str = "auto"
    seed: int | None = None
    size: int = 500

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be a positive integer, got {self.size!r}")
        if self.reward not in ("exact", "f1"):
            raise ValueError(f"reward must be 'exact' or 'f1', got {self.reward!r}")


class CounterfactualDataset(ProceduralDataset):
    """Item `idx`: a problem of the family (generated pool: in order; suite: a seeded permutation)."""

    def __init__(self, config: CounterfactualConfig) -> None:
        super().__init__(config=config, seed=config.seed, size=config.size)
        self._env = CounterfactualCodeEnv(
            families=[config.family], mode=config.mode, split=config.split,
            suite=config.suite, level=config.level, reward=config.reward, sandbox_backend=config.sandbox_backend,
            num_problems=config.size, generation_seed=self.seed)
        self._order: list[int] | None = None

    def _items(self):
        pool = self._env.pool(self.config.family)
        if self._order is None:
            order = list(range(len(pool)))
            if self.config.suite is not None:
                Random(self.seed).shuffle(order)
            self._order = order
        return pool

    def __getitem__(self, idx: int) -> dict[str, Any]:
        pool = self._items()
        item = pool[self._order[idx % len(pool)]]  # type: ignore[index]
        p = item.problem
        return {
            "question": item.prompt,
            "answer": _answer_text(p.answer),
            "metadata": {
                "source_dataset": PREFIX + self.config.family,
                "source_index": idx,
                "problem": problem_label(p),
                "problem_id": p.id,
                "family": p.family,
                "mode": p.mode,
                "difficulty": {"level": p.level},
            },
        }

    def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
        if not isinstance(answer, str):
            return 0.0
        answer = str.__str__(answer)  # a str subclass as its plain characters (its __format__ could lie)
        if not answer.strip():
            return 0.0
        # text inside the tags (extract_answer's output holds no tag) is wrapped; a text with either tag is a
        # whole completion, scored as it stands ("[2]</answer> [9]" has no answer block)
        text = answer if _OPEN_TAG.search(answer) or _CLOSE_TAG.search(answer) else f"<answer>{answer}</answer>"
        problem = problem_from_label(entry["metadata"]["problem"])
        score = score_completion(problem, text, reward=self.config.reward,
                                 sandbox_backend=self.config.sandbox_backend)
        return 0.0 if score.verifier_error is not None else float(score.reward)


def _answer_text(values: list[Any]) -> str:
    import json

    return json.dumps(sort_answer(values))


def register_all() -> list[str]:
    """Register `counterfactual_<family>` for every family (idempotent); returns the names."""
    names = []
    for family in FAMILIES:
        name = PREFIX + family
        if name not in DATASETS:
            config_cls = dataclasses.make_dataclass(
                f"Counterfactual_{family}_Config", [("family", str, dataclasses.field(default=family))],
                bases=(CounterfactualConfig,))
            register_dataset(name, CounterfactualDataset, config_cls)
        names.append(name)
    return names


DATASET_NAMES = register_all()
