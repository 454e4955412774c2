"""The quality filters do what they claim, and their counts move when they fire."""
from __future__ import annotations

import pytest

from generators import FAMILIES, generate, write_problems
from generators.filters import find_latent_leaks, program_hash, skeleton_hash
from generators.pipeline import Exclusions, generate_with_stats

A = "def f(x, r):\n    if x > 3:\n        y = x + r\n    else:\n        y = x * r\n    return y % 5\n"
A_RENAMED = ("def g(a, b):\n    # comment\n    if a > 3:\n        out = a + b\n"
             "    else:\n        out = a * b\n    return out % 5\n")
A_OTHER_CONST = A.replace("% 5", "% 7")


def test_program_hash_ignores_names_and_comments_not_constants():
    assert program_hash(A) == program_hash(A_RENAMED)
    assert program_hash(A) != program_hash(A_OTHER_CONST)
    assert skeleton_hash(A) == skeleton_hash(A_OTHER_CONST) == skeleton_hash(A_RENAMED)
    assert skeleton_hash(A) != skeleton_hash(A.replace("x + r", "x - r"))


def test_leak_detector():
    assert find_latent_leaks("we know r = 3 here", {"r": 3})
    assert find_latent_leaks("the value of r is 3.", {"r": 3})
    assert find_latent_leaks("He rolled: roll: 4", {"roll": 4})
    assert find_latent_leaks("The bonus was 'ab'", {"b": "ab"}, {"b": "bonus"})
    assert not find_latent_leaks("    if r == 3:\n        y = 1", {"r": 3})
    assert not find_latent_leaks("r = random.randint(0, 9)", {"r": 3})
    assert not find_latent_leaks("r = 31", {"r": 3})


def test_dedupe_counts_duplicates(sandbox):
    # gsm at level 1 has a small program space, so duplicates occur and are dropped
    result = generate_with_stats(
        "gsm", "counterfactual", 60, seed=0, level=1, sandbox=sandbox, exclusions=Exclusions()
    )
    assert result.stats.rejected["duplicate"] > 0
    hashes = [p.meta["program_hash"] for p in result.problems]
    assert len(set(hashes)) == len(hashes) == 60
    assert result.stats.accepted == 60


def test_no_abduction_filter_counts(sandbox):
    result = generate_with_stats(
        "if_else", "counterfactual", 40, seed=1, sandbox=sandbox, exclusions=Exclusions()
    )
    assert result.stats.rejected["no_abduction"] > 0
    interventional = generate_with_stats(
        "if_else", "interventional", 40, seed=1, sandbox=sandbox, exclusions=Exclusions()
    )
    assert interventional.stats.rejected["no_abduction"] == 0


def test_train_split_excludes_test_programs(sandbox):
    test = generate("if_else", "counterfactual", 30, seed=5, split="test", sandbox=sandbox)
    excl = Exclusions(program_hashes=frozenset(p.meta["program_hash"] for p in test))
    train = generate_with_stats(
        "if_else", "counterfactual", 30, seed=5, split="train", sandbox=sandbox, exclusions=excl
    )
    # same seed and mode draft the same programs, so every test program is met and refused
    assert train.stats.rejected["test_overlap"] >= 30
    assert not {p.meta["program_hash"] for p in train.problems} & excl.program_hashes


def test_default_exclusions_read_frozen_suites(sandbox, tmp_path, monkeypatch):
    test = generate("if_else", "counterfactual", 10, seed=8, split="test", sandbox=sandbox)
    write_problems(tmp_path / "test" / "if_else.counterfactual.jsonl", test)
    monkeypatch.setenv("CFCODE_SUITES_DIR", str(tmp_path))
    train = generate_with_stats("if_else", "counterfactual", 10, seed=8, split="train", sandbox=sandbox)
    assert train.stats.rejected["test_overlap"] >= 10
    assert not {p.meta["program_hash"] for p in train.problems} & {p.meta["program_hash"] for p in test}


def test_ood_templates_are_refused(sandbox):
    first = generate("while", "counterfactual", 10, seed=2, sandbox=sandbox)
    excl = Exclusions(skeleton_hashes=frozenset(p.meta["skeleton_hash"] for p in first))
    again = generate_with_stats("while", "counterfactual", 10, seed=2, sandbox=sandbox, exclusions=excl)
    assert again.stats.rejected["train_template"] >= 10


def test_ood_families_share_no_template_with_training(sandbox):
    train = [
        p
        for level in range(1, 6)
        for p in generate("if_else", "counterfactual", 60, seed=level, level=level, sandbox=sandbox)
    ]
    train_skeletons = {p.meta["skeleton_hash"] for p in train}
    for name, spec in sorted(FAMILIES.items()):
        if spec.ood:
            ood = generate(name, "counterfactual", 20, seed=4, sandbox=sandbox)
            assert not {p.meta["skeleton_hash"] for p in ood} & train_skeletons, name
            assert not {p.meta["template_id"] for p in ood} & {p.meta["template_id"] for p in train}, name


@pytest.mark.parametrize("bad", [{"level": 0}, {"level": 6}, {"nesting": 3}, {"latent_max": 0}, {"bogus": 1}])
def test_bad_knobs_raise_clear_errors(bad, sandbox):
    with pytest.raises(ValueError):
        generate("if_else", "counterfactual", 1, 0, sandbox=sandbox, **bad)


def test_bad_arguments_raise(sandbox):
    with pytest.raises(ValueError, match="unknown family"):
        generate("nope", "counterfactual", 1, 0, sandbox=sandbox)
    with pytest.raises(ValueError, match="mode"):
        generate("if_else", "factual", 1, 0, sandbox=sandbox)
    with pytest.raises(ValueError, match="split"):
        generate("if_else", "counterfactual", 1, 0, split="dev", sandbox=sandbox)


def test_answer_size_knobs(sandbox):
    result = generate_with_stats(
        "if_else",
        "counterfactual",
        15,
        seed=6,
        sandbox=sandbox,
        exclusions=Exclusions(),
        min_answer_size=2,
        max_answer_size=3,
    )
    assert all(2 <= len(p.answer) <= 3 for p in result.problems)
    assert result.stats.rejected["answer_size"] > 0
    with pytest.raises(ValueError, match="max_answer_size"):
        generate("if_else", "counterfactual", 1, 0, sandbox=sandbox, min_answer_size=3, max_answer_size=2)


def test_impossible_knobs_end_with_a_clear_error(sandbox):
    with pytest.raises(ValueError, match="knobs too restrictive"):
        generate("if_else", "counterfactual", 1, 0, sandbox=sandbox, latent_max=2, min_answer_size=4)
