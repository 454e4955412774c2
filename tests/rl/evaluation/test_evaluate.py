"""Evaluation per suite and mode: outputs, determinism, selection and bad input."""
from __future__ import annotations

import json

import pytest

from rl.evaluation import SampleRecord, evaluate, load_eval, load_samples, save_eval, summarize
from tests.rl.conftest import MINI_SUITE_SIZE, eval_config


def test_eval_writes_json_markdown_png_and_samples(mini_suites, local_sandbox, tmp_path):
    cfg = eval_config(mini_suites, "oracle", suites=["if_else", "while"], limit=5)
    result, records = evaluate(cfg, sandbox=local_sandbox)
    out = save_eval(tmp_path / "oracle", result, records)
    for name in ("eval.json", "eval.md", "eval.png", "samples.jsonl", "timing.json"):
        assert (out / name).is_file(), name
    assert (out / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_eval(out)
    assert {(g.suite, g.mode) for g in loaded.groups} == {
        (s, m) for s in ("if_else", "while") for m in ("counterfactual", "interventional")}
    g = loaded.group("while", "counterfactual")
    assert g.n_problems == 5 and g.exact_match.mean == 1.0 and g.format_rate.mean == 1.0
    assert len(load_samples(out)) == 20
    md = (out / "eval.md").read_text()
    assert "| if_else (ID) | counterfactual | 5 | 100.0 [100.0, 100.0]" in md


def test_same_seed_gives_byte_identical_outputs(mini_suites, local_sandbox, tmp_path):
    cfg = eval_config(mini_suites, "skip-abduction", suites=["all"], limit=4, seed=5)
    for run in ("a", "b"):
        save_eval(tmp_path / run, *evaluate(cfg, sandbox=local_sandbox))
    for name in ("eval.json", "samples.jsonl", "eval.md", "eval.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_all_suites_modes_filter_and_limit(mini_suites, local_sandbox):
    from generators import FAMILIES

    cfg = eval_config(mini_suites, "prior", suites=["all"], modes=["counterfactual"], limit=3)
    result, records = evaluate(cfg, sandbox=local_sandbox)
    assert {g.suite for g in result.groups} == set(FAMILIES)
    assert {g.mode for g in result.groups} == {"counterfactual"}
    assert all(g.n_problems == 3 for g in result.groups)
    assert len(records) == 3 * len(FAMILIES)
    everything, _ = evaluate(eval_config(mini_suites, "prior", suites=["if_else"]), sandbox=local_sandbox)
    assert all(g.n_problems == MINI_SUITE_SIZE for g in everything.groups)


def test_a_jsonl_path_is_a_suite_too(mini_suites, local_sandbox):
    path = mini_suites / "test" / "gsm.counterfactual.jsonl"
    result, _ = evaluate(eval_config(mini_suites, "oracle", suites=[str(path)]), sandbox=local_sandbox)
    assert [(g.suite, g.mode, g.exact_match.mean) for g in result.groups] == [("gsm", "counterfactual", 1.0)]


@pytest.mark.parametrize("kw, message", [
    ({"suites": ["no_such_family"]}, "no frozen suite 'no_such_family'"),
    ({"modes": ["hypothetical"]}, "modes must be a non-empty subset"),
    ({"limit": 0}, "limit must be >= 1"),
    ({"samples": 0}, "samples must be >= 1"),
])
def test_bad_input_is_a_clear_error(mini_suites, kw, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        evaluate(eval_config(mini_suites, "oracle", **kw))


def test_unknown_model_path_is_a_clear_error(mini_suites, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model directory"):
        evaluate(eval_config(mini_suites, str(tmp_path / "missing-model"), suites=["if_else"], limit=1))


def _rec(pid, sample, correct, f1=None, n_tokens=10, fmt=True, finish="stop"):
    return SampleRecord(suite="s", mode="counterfactual", problem_id=pid, sample=sample, text="", n_tokens=n_tokens,
                        finish_reason=finish, reward=float(correct), correct=correct,
                        f1=float(correct) if f1 is None else f1, format_ok=fmt, parsed_answer=None, gold=[1],
                        verifier_error=None)


def test_summary_averages_samples_per_problem_before_bootstrapping():
    records = [_rec("a", 0, True), _rec("a", 1, False, n_tokens=30, finish="length"),
               _rec("b", 0, False, f1=0.5, fmt=False), _rec("b", 1, False, f1=0.5)]
    (g,) = summarize(records, seed=0, resamples=200)
    assert (g.n_problems, g.n_samples, g.truncated) == (2, 4, 1)
    assert g.exact_match.mean == 0.25  # (0.5 + 0.0) / 2
    assert g.f1.mean == 0.5 and g.format_rate.mean == 0.75 and g.mean_length.mean == 15.0
    assert g.exact_match.lo <= 0.25 <= g.exact_match.hi


def test_eval_cli_runs_a_baseline(mini_suites, tmp_path):
    from typer.testing import CliRunner

    from cfcode_cli import app

    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["eval", "--model", "oracle", "--suites", "if_else,multi_obs", "--limit", "3",
                                   "--suites-dir", str(mini_suites), "--sandbox", "local", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "| multi_obs | interventional | 3 | 100.0" in res.output
    data = json.loads((out / "eval.json").read_text())
    assert data["label"] == "oracle" and len(data["groups"]) == 4
    bad = CliRunner().invoke(app, ["eval", "--model", "oracle", "--suites", "nope", "--suites-dir",
                                   str(mini_suites), "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "no frozen suite 'nope'" in bad.output


def test_a_suite_holding_one_problem_id_twice_is_refused(mini_suites, tmp_path):
    """Metrics average samples per problem id: two problems (or one twice) under one id were counted as
    one problem with twice the samples (n_problems and the interval wrong), and two suites of one name
    (a.jsonl/if_else.jsonl and b.jsonl/if_else.jsonl) kept only the last."""
    import shutil

    import pytest

    from rl.evaluation import evaluate as run_eval
    from rl.evaluation.evaluate import load_eval_problems
    from tests.rl.conftest import eval_config

    suites = tmp_path / "suites"
    shutil.copytree(mini_suites, suites)
    path = suites / "test" / "if_else.counterfactual.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines + lines[:1]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"if_else.counterfactual.jsonl.*appears twice"):
        run_eval(eval_config(suites, "oracle", suites=["if_else"], modes=["counterfactual"]))
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(mini_suites / "test" / "while.counterfactual.jsonl", tmp_path / d / "if_else.jsonl")
    with pytest.raises(ValueError, match="if_else.*twice"):
        load_eval_problems(eval_config(suites, "oracle", modes=["counterfactual"],
                                       suites=[str(tmp_path / "a" / "if_else.jsonl"),
                                               str(tmp_path / "b" / "if_else.jsonl")]))


def test_samples_past_any_use_are_refused_before_anything_runs():
    """samples=10**9 passed the checks (<= 2**31 - 1): a baseline built a list of 10**9 completions per
    problem (out of memory), a model engine was asked for n=10**9."""
    import pytest

    from rl.evaluation import EvalConfig
    from rl.evaluation.evaluate import MAX_SAMPLES

    EvalConfig(model="oracle", samples=MAX_SAMPLES)
    with pytest.raises(ValueError, match=r"samples must be at most"):
        EvalConfig(model="oracle", samples=10**9)
    with pytest.raises(ValueError, match=r"bootstrap_resamples must be at most"):  # R x problems int64 indices
        EvalConfig(model="oracle", bootstrap_resamples=10**9)


def test_the_eval_json_readers_shapes_follow_what_is_written():
    """The reader checks eval.json against its own shape classes: a field added to EvalResult or
    GroupMetrics but not to them made every new eval.json unreadable ('unknown fields ['model_sha256']')."""
    from dataclasses import fields

    from rl.evaluation.evaluate import EvalResult, GroupMetrics, _EvalFile, _GroupFile

    assert {f.name for f in fields(_EvalFile)} == {f.name for f in fields(EvalResult)}
    assert {f.name for f in fields(_GroupFile)} == {f.name for f in fields(GroupMetrics)}
