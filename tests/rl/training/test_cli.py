"""The training commands: clear errors on bad input (exit code 2), config overrides."""
from __future__ import annotations

from typer.testing import CliRunner

from cfcode_cli import app

runner = CliRunner()


def test_missing_and_bad_configs_exit_with_a_message(tmp_path):
    result = runner.invoke(app, ["train", "sft", str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "no config file" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[grpo]\nmodel = 'm'\nmax_step = 3\n")
    result = runner.invoke(app, ["train", "grpo", str(bad)])
    assert result.exit_code == 2 and "unknown keys ['max_step']" in result.output
    result = runner.invoke(app, ["train", "grpo", str(bad), "--set", "oops"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[sft\n")
    result = runner.invoke(app, ["train", "sft", str(broken)])
    assert result.exit_code == 2 and "invalid TOML" in result.output
    result = runner.invoke(app, ["distill"])
    assert result.exit_code == 2 and "endpoint is required" in result.output


def test_set_overrides_are_typed(tmp_path):
    from rl.training.cli import load_table

    cfg = tmp_path / "c.toml"
    cfg.write_text("[sft]\nmodel = 'm'\nmax_steps = 3\n")
    table = load_table(cfg, "sft", ["max_steps=7", "lora=true", "modes=['interventional']", "model=runs/x"])
    assert table == {"model": "runs/x", "max_steps": 7, "lora": True, "modes": ["interventional"]}


def test_build_tiny_command(tmp_path):
    result = runner.invoke(app, ["model", "build-tiny", str(tmp_path / "m"), "--corpus-problems", "8"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "model.safetensors").is_file() and (tmp_path / "m" / "tokenizer.json").is_file()


def _one_error_line(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfcode: error: "), result.stderr
    return lines[0]


def test_model_commands_bad_paths_are_one_line(tmp_path):
    """A truncated GGUF (struct.error), an OUT that is a file (NotADirectoryError) and a negative
    --corpus-problems (ValueError from the generator) were tracebacks with exit code 1."""
    (tmp_path / "plain").write_text("keep")
    truncated = tmp_path / "t.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00")
    line = _one_error_line(runner.invoke(app, ["model", "import-gguf", str(truncated), str(tmp_path / "m")]))
    assert "t.gguf: transformers cannot read this GGUF file" in line
    for out in (tmp_path / "plain", tmp_path / "plain" / "m"):
        line = _one_error_line(runner.invoke(app, ["model", "import-gguf", str(truncated), str(out)]))
        assert "OUT: expected a" in line
    line = _one_error_line(runner.invoke(app, ["model", "build-tiny", str(tmp_path / "m"), "--corpus-problems", "-1"]))
    assert "--corpus-problems: expected a positive integer, got -1" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "t.gguf"] and (tmp_path / "plain").read_text() == "keep"


def test_model_cache_that_is_a_file_is_named(tmp_path, monkeypatch):
    """CFCODE_MODEL_CACHE pointing under a file converted the whole GGUF, then died in mkdir (a traceback)."""
    import pytest

    from generators import InputError
    from rl.inference.models import cached_conversion

    (tmp_path / "plain").write_text("keep")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00")
    monkeypatch.setenv("CFCODE_MODEL_CACHE", str(tmp_path / "plain"))
    with pytest.raises(InputError, match="CFCODE_MODEL_CACHE: expected a path under a directory"):
        cached_conversion(gguf)
