"""`cfcode generate` and `cfcode suites` through Typer's test runner (the real commands)."""
from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from generators import load_problems
from generators.cli import register

app = typer.Typer()
register(app)
runner = CliRunner()


def test_generate_writes_identical_files_for_the_same_seed(tmp_path):
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        result = runner.invoke(app, ["generate", "--family", "while", "--mode", "interventional", "--n", "7",
                                     "--seed", "3", "--level", "2", "--out", str(tmp_path / name),
                                     "--backend", "local"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output.strip().splitlines()[-1])
        assert summary["count"] == 7 and summary["filter_counts"]["accepted"] == 7
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    problems = load_problems(tmp_path / "a.jsonl")
    assert [p.level for p in problems] == [2] * 7 and {p.family for p in problems} == {"while"}


def test_generate_knob_override(tmp_path):
    result = runner.invoke(app, ["generate", "-f", "if_else", "-n", "3", "-o", str(tmp_path / "k.jsonl"),
                                 "--knob", "latent_max=3", "--backend", "local"])
    assert result.exit_code == 0, result.output
    assert all(p.latents == {"r": [0, 1, 2, 3]} for p in load_problems(tmp_path / "k.jsonl"))


def test_generate_bad_input_is_a_clear_error(tmp_path):
    out = tmp_path / "never.jsonl"
    for args, message in [
        (["-f", "nope"], "unknown family"),
        (["-f", "if_else", "-m", "factual"], "mode"),
        (["-f", "if_else", "--level", "9"], "level"),
        (["-f", "if_else", "-k", "nesting"], "NAME=VALUE"),
    ]:
        result = runner.invoke(app, ["generate", *args, "-n", "2", "-o", str(out), "--backend", "local"])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert not out.exists()


def test_suites_verify_command():
    result = runner.invoke(app, ["suites", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK")


def test_bench_command_reports_json():
    result = runner.invoke(app, ["suites", "bench", "--json", "--n", "30", "--backend", "local"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["family"] == "if_else" and report["filter_counts"]["accepted"] == 30
    assert report["problems_per_s"] > 0 and report["target_problems_per_s"] == 200.0


def test_suites_build_bad_options_fail_before_any_work(tmp_path):
    """`--family nope` built the whole 5,000-problem training set first; `--out-dir FILE` was a traceback;
    `--test-size -1` named no option."""
    (tmp_path / "plain").write_text("keep")
    for args, message in [
        (["--family", "if_else", "--family", "nope"], "unknown family 'nope'"),
        (["--test-size", "-1"], "--test-size: expected a positive integer, got -1"),
        (["--train-size", "-1"], "--train-size: expected a non-negative integer, got -1"),
        (["--out-dir", str(tmp_path / "plain")], "--out-dir: expected a directory path, got a file"),
    ]:
        if "--out-dir" not in args:
            args = [*args, "--out-dir", str(tmp_path / "never")]
        result = runner.invoke(app, ["suites", "build", "--backend", "local", "--train-size", "3", *args])
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"] and (tmp_path / "plain").read_text() == "keep"


def test_suites_commands_refuse_an_unknown_backend_before_any_work(tmp_path):
    """`suites verify --rebuild --backend x` and `suites bench --backend x` ended in a ValueError traceback
    (verify only after checking every file)."""
    for args in (["verify", "--rebuild"], ["bench", "--n", "1"], ["build", "--out-dir", str(tmp_path / "never")]):
        result = runner.invoke(app, ["suites", *args, "--backend", "bogus"])
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert result.stderr.strip() == "cfcode: error: --backend: expected one of auto, docker, local, got 'bogus'"
    assert list(tmp_path.iterdir()) == []


def test_generate_with_a_suites_dir_that_does_not_exist(tmp_path, monkeypatch):
    """CFCODE_SUITES_DIR naming no directory (a typo) meant 'no frozen programs to avoid': the training
    run went ahead and could repeat test-suite programs."""
    monkeypatch.setenv("CFCODE_SUITES_DIR", str(tmp_path / "no-such-suites"))
    out = tmp_path / "g.jsonl"
    result = runner.invoke(app, ["generate", "-f", "if_else", "-n", "2", "-o", str(out), "--backend", "local"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.strip() == (f"cfcode: error: CFCODE_SUITES_DIR: expected an existing directory of frozen "
                                     f"suites, got '{tmp_path / 'no-such-suites'}'")
    assert not out.exists()


def test_generate_with_a_suites_dir_that_holds_no_test_suites(tmp_path, monkeypatch):
    """CFCODE_SUITES_DIR naming an existing but empty (or wrong) directory also meant 'no frozen programs to
    avoid': the training run went ahead and could repeat test-suite programs."""
    (tmp_path / "suites").mkdir()
    monkeypatch.setenv("CFCODE_SUITES_DIR", str(tmp_path / "suites"))
    out = tmp_path / "g.jsonl"
    result = runner.invoke(app, ["generate", "-f", "if_else", "-n", "2", "-o", str(out), "--backend", "local"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.strip() == (f"cfcode: error: CFCODE_SUITES_DIR: expected frozen test suites "
                                     f"({tmp_path / 'suites' / 'test'}/*.jsonl), found none")
    assert not out.exists()
