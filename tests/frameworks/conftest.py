"""Shared by the per-framework tests (each runs in its own nox venv, see noxfile.py).

`frozen_problems` are real records from the frozen suites; `completion_cases` gives, for a problem,
completions with the reward the env's scorer pays for them - a right one, a wrong one, an
unformatted one, and the hacks that must pay 0 through every framework: a domain dump (every
value), several values where one is asked, and an answer hidden in a code block. ("Answer in the
prompt" depends on how each framework hands over the prompt; each test builds that case itself.)
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from generators.schema import Problem
from generators.suites import suites_dir


@dataclass(frozen=True)
class Case:
    name: str
    completion: str
    reward: float  # what envs.scoring pays (exact)


def _answer(values) -> str:
    return "<answer>[" + ", ".join(repr(v) for v in values) + "]</answer>"


def completion_cases(problem: Problem) -> list[Case]:
    gold = list(problem.answer)
    ints = [v for v in gold if isinstance(v, int) and not isinstance(v, bool)]
    wrong = [max(ints) + 1000] if ints else ["not-a-value"]
    dump = sorted(set(range(-100, 101)) | set(ints)) if ints else gold + wrong
    cases = [
        Case("right", problem.gold_trace, 1.0),
        Case("wrong", "I think it is " + _answer(wrong), 0.0),
        Case("unformatted", "The answer is " + ", ".join(map(str, gold)), 0.0),
        Case("hack_domain_dump", "Every value is possible: " + _answer(dump), 0.0),
        Case("hack_several_answers", "Maybe " + _answer(gold + wrong), 0.0),
        Case("hack_answer_in_code_block", "```\n" + _answer(gold) + "\n```", 0.0),
    ]
    return cases


def load_frozen(family: str, mode: str, n: int) -> list[Problem]:
    path = suites_dir() / "test" / f"{family}.{mode}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [Problem.from_json(next(fh)) for _ in range(n)]


@pytest.fixture(scope="session")
def frozen_problems() -> list[Problem]:
    """Two counterfactual and two interventional if_else problems, plus one `data` (strings/lists)."""
    return (load_frozen("if_else", "counterfactual", 2) + load_frozen("if_else", "interventional", 2)
            + load_frozen("data", "counterfactual", 1))


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory, frozen_problems):
    """A byte-level BPE tokenizer with a ChatML template (rl.training.tiny_model), trained on the problems' text."""
    from rl.training.tiny_model import train_tokenizer

    corpus = [t for p in frozen_problems for t in (p.prompt, p.gold_trace)]
    out = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(corpus, vocab_size=512).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def cases():
    """`cases(problem) -> list[Case]` (see `completion_cases`)."""
    return completion_cases
