"""reasoning-gym 0.1.25 for real: every family registered, a CompositeDataset mixing a family with the
built-in `basic_arithmetic`, scores equal to `envs.scoring` (the path of `cfcode eval`), hacks paying 0."""
from __future__ import annotations

import pytest
import reasoning_gym
from reasoning_gym.composite import CompositeConfig, CompositeDataset, DatasetSpec
from reasoning_gym.factory import DATASETS
from reasoning_gym.utils import extract_answer

from envs.adapters.reasoning_gym_env import DATASET_NAMES, register_all
from envs.scoring import score_completion
from generators import FAMILIES, load_suite
from tests.frameworks.hack_cases import answer_block, hack_completions, hackable_problems


def _composite(seed: int = 0, size: int = 40) -> CompositeDataset:
    return CompositeDataset(CompositeConfig(size=size, seed=seed, datasets=[
        DatasetSpec("counterfactual_if_else", 1.0, {"suite": "frozen:test", "reward": "f1",
                                                     "sandbox_backend": "local"}),
        DatasetSpec("basic_arithmetic", 1.0, {})]))


def test_every_family_is_registered_once():
    assert DATASET_NAMES == ["counterfactual_" + f for f in FAMILIES]
    assert all(name in DATASETS for name in DATASET_NAMES)
    assert register_all() == DATASET_NAMES  # idempotent


def test_composite_mixes_with_a_builtin_dataset_and_scores_like_the_env():
    data = _composite()
    entries = list(data)
    sources = {e["metadata"]["source_dataset"] for e in entries}
    assert sources == {"counterfactual_if_else", "basic_arithmetic"}
    suite = {p.id: p for p in load_suite("if_else", "counterfactual")}
    for e in entries:
        if e["metadata"]["source_dataset"] == "basic_arithmetic":
            assert data.score_answer(e["answer"], e) == 1.0  # the built-in scorer, untouched
            continue
        p = suite[e["metadata"]["problem_id"]]
        assert e["question"] == p.prompt
        for completion in (p.gold_trace, "no answer", answer_block(p.answer + [99]), answer_block([99])):
            want = score_completion(p, completion, reward="f1", sandbox_backend="local").reward
            assert data.score_answer(completion, e) == want
            extracted = extract_answer(completion)  # reasoning-gym's own pipeline passes the tag content
            assert data.score_answer(extracted, e) == (want if extracted is not None else 0.0)
        assert data.score_answer(e["answer"], e) == 1.0


def test_same_seed_same_items():
    a, b, c = _composite(seed=3), _composite(seed=3), _composite(seed=4)
    assert [x["question"] for x in a] == [x["question"] for x in b]
    assert [x["question"] for x in a] != [x["question"] for x in c]


@pytest.mark.parametrize("hack", ["domain_dump", "prompt_copy", "several_answers"])
def test_hacks_pay_zero(hack):
    for reward in ("exact", "f1"):
        data = reasoning_gym.create_dataset("counterfactual_if_else", seed=0, size=300, suite="frozen:test",
                                            reward=reward, sandbox_backend="local")
        by_id = {e["metadata"]["problem_id"]: e for e in data}
        for p in hackable_problems(n=3):
            completion = hack_completions(p)[hack]
            assert data.score_answer(completion, by_id[p.id]) == 0.0, (p.id, hack, reward)
            extracted = extract_answer(completion)
            assert data.score_answer(extracted, by_id[p.id]) == 0.0, (p.id, hack, reward, "extracted")


def test_generated_problems_from_the_seed():
    data = reasoning_gym.create_dataset("counterfactual_while", seed=5, size=3, sandbox_backend="local")
    ids = [e["metadata"]["problem_id"] for e in data]
    assert len(set(ids)) == 3 and all(i.startswith("while:counterfactual:train:5:") for i in ids)
    e = data[0]
    assert data.score_answer(e["answer"], e) == 1.0 and data.score_answer("[]", e) == 0.0


def test_bad_config_fails_clearly():
    with pytest.raises(ValueError, match="mode must be one of"):
        reasoning_gym.create_dataset("counterfactual_if_else", mode="bogus")


class _FormatsToGold(str):
    """A str whose text is a wrong answer but whose format() (an f-string) says the gold one."""

    gold = ""

    def __format__(self, spec):
        return self.gold


def test_score_answer_reads_the_plain_characters():
    data = reasoning_gym.create_dataset("counterfactual_while", seed=5, size=1, sandbox_backend="local")
    e = data[0]
    lying = _FormatsToGold("[123456789]")
    lying.gold = f"<answer>{e['answer']}</answer>"
    assert data.score_answer(lying, e) == 0.0 and data.score_answer(e["answer"], e) == 1.0


def test_a_completion_with_a_closing_tag_but_no_opening_one_is_not_wrapped():
    """Text with `</answer>` is a whole completion (reasoning-gym's extract_answer never returns one): it was
    wrapped in tags anyway, so "[gold]</answer> [wrong]" (no answer block: 0 in the env) paid 1.0."""
    data = reasoning_gym.create_dataset("counterfactual_while", seed=5, size=1, sandbox_backend="local")
    e = data[0]
    for text in (e["answer"] + "</answer> [123456]", e["answer"] + "</ANSWER>", e["answer"] + "< /answer >"):
        assert data.score_answer(text, e) == 0.0, text
    assert data.score_answer(e["answer"], e) == 1.0
