"""`cfcode export`: every frozen record round-trips through `datasets.load_dataset("parquet")` exactly;
verl rows carry what `compute_score` needs; the lm-eval folder is complete; bad input is one clear line."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from generators.cli import register
from generators.export import export_problems, load_sources
from generators.export.hf import record_from_row
from generators.suites import suites_dir

app = typer.Typer()
register(app)
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    splits = load_sources(["frozen:all"])
    report = export_problems(splits, out, command="cfcode export frozen:all --out X")
    return out, splits, report


def _lines(split: str) -> list[str]:
    return [line for path in sorted((suites_dir() / split).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_hf_parquet_round_trips_every_frozen_record_through_datasets(exported, tmp_path):
    from datasets import load_dataset

    out, splits, _ = exported
    files = {s: str(out / "hf" / "data" / f"{s}-00000-of-00001.parquet") for s in splits}
    ds = load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    for split in splits:
        lines = _lines(split)
        assert len(ds[split]) == len(lines) > 0
        for row, line in zip(ds[split], lines):
            assert record_from_row(row).to_json() == line.rstrip("\n")


def test_json_loader_would_change_records_the_parquet_keeps(tmp_path):
    """Why JSON-string columns: the `datasets` JSON loader widens mixed columns (here 1 -> 1.0)."""
    from datasets import load_dataset

    path = tmp_path / "mixed.jsonl"
    path.write_text('{"meta": {"p": 1}}\n{"meta": {"p": 0.3}}\n')
    loaded = load_dataset("json", data_files=str(path), cache_dir=str(tmp_path / "cache"))["train"]
    assert [json.dumps(r["meta"]["p"]) for r in loaded] != ["1", "0.3"]  # type inference changed the data


def test_card_lists_splits_families_versions_and_true_checksums(exported):
    from generators.export.core import sha256_file

    out, splits, _ = exported
    card = (out / "hf" / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0")
    for split, problems in splits.items():
        assert f"num_examples: {len(problems)}" in card
        sha = sha256_file(out / "hf" / "data" / f"{split}-00000-of-00001.parquet")
        assert sha in card
    for family in {p.family for ps in splits.values() for p in ps}:
        assert f"| {family} | counterfactual |" in card
    assert "Generator version: 1." in card and "cfcode export frozen:all" in card


def test_verl_and_openrlhf_rows_carry_the_record(exported):
    import pyarrow.parquet as pq

    out, splits, _ = exported
    rows = pq.read_table(out / "verl" / "test.parquet").to_pylist()
    assert len(rows) == len(splits["test"])
    for row, problem in zip(rows, splits["test"]):
        assert row["data_source"] == f"counterfactual_code/{problem.family}/{problem.mode}"
        assert row["prompt"] == [{"role": "user", "content": problem.prompt}]
        assert row["reward_model"] == {"style": "rule", "ground_truth": problem.to_json()}
        assert row["ability"] == "counterfactual_reasoning" and row["extra_info"]["id"] == problem.id
    flat = pq.read_table(out / "openrlhf" / "test.parquet").to_pylist()  # OpenRLHF: data[label_key], flat
    assert [r["label"] for r in flat] == [p.to_json() for p in splits["test"]]
    assert all(r["prompt"] == [{"role": "user", "content": p.prompt}] for r, p in zip(flat, splits["test"]))


def test_lm_eval_folder_has_one_task_per_suite_and_mode_and_a_group(exported):
    out, splits, _ = exported
    folder = out / "lm_eval"
    groups = {(s, p.family, p.mode) for s, ps in splits.items() for p in ps}
    tasks = sorted(folder.glob("counterfactual_code_*.yaml"))
    assert len(tasks) == len(groups)
    group = (folder / "counterfactual_code.yaml").read_text()
    assert all(f"  - {t.stem}\n" in group for t in tasks)
    assert (folder / "utils.py").is_file()
    docs = [json.loads(line) for line in (folder / "data" / "test.if_else.counterfactual.jsonl").read_text().splitlines()]
    assert all(isinstance(v, str) for d in docs for v in d.values())  # no loader type inference


def test_export_from_a_generated_file_and_errors(tmp_path):
    src = suites_dir() / "test" / "while.interventional.jsonl"
    small = tmp_path / "small.jsonl"
    small.write_text("".join(src.read_text().splitlines(keepends=True)[:5]))
    ok = runner.invoke(app, ["export", str(small), "--out", str(tmp_path / "o"), "--format", "verl,hf"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output.strip().splitlines()[-1])["counts"] == {"test": 5}
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["hf", "verl"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(small.read_text() + "{not json\n")
    for args, needle in (([str(bad)], "bad.jsonl:6"), ([str(tmp_path / "none.jsonl")], "no such JSONL file"),
                         (["frozen:nope"], "unknown suite name"), ([str(small), "--format", "csv"], "unknown"),
                         ([str(small), str(small)], "twice")):
        res = runner.invoke(app, ["export", *args, "--out", str(tmp_path / "never")])
        assert res.exit_code == 2 and needle in res.output, (args, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())


def test_failed_writer_leaves_nothing_half_written(tmp_path, monkeypatch):
    from generators.export import verl

    splits = load_sources([str(suites_dir() / "test" / "while.interventional.jsonl")])
    export_problems(splits, tmp_path, formats=["verl"])
    before = (tmp_path / "verl" / "test.parquet").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(verl, "write", boom)
    with pytest.raises(RuntimeError):
        export_problems(splits, tmp_path, formats=["verl"])
    assert (tmp_path / "verl" / "test.parquet").read_bytes() == before  # the old export is intact
    assert [p.name for p in tmp_path.iterdir()] == ["verl"]  # no temp directory left behind


@pytest.mark.parametrize("case", ["out_is_a_file", "out_under_a_file", "format_dir_is_a_file", "name_escapes",
                                  "name_breaks_yaml"])
def test_bad_out_or_name_is_one_line_and_writes_nothing_outside(tmp_path, case):
    """`--out` a file (or under one) and `--out/verl` a file raised tracebacks; `--name ../../x` wrote the
    lm-eval YAML files outside the output directory and a name with ': ' or a newline broke the YAML."""
    src = tmp_path / "src"
    src.mkdir()
    small = src / "small.jsonl"
    small.write_text("".join((suites_dir() / "test" / "while.interventional.jsonl").read_text()
                             .splitlines(keepends=True)[:3]))
    (src / "file").write_text("keep me")
    out, extra = tmp_path / "o" / "p" / "q", []
    if case == "out_is_a_file":
        out = src / "file"
    elif case == "out_under_a_file":
        out = src / "file" / "x"
    elif case == "format_dir_is_a_file":
        out = tmp_path / "o"
        out.mkdir()
        (out / "verl").write_text("keep me too")
    else:
        extra = ["--name", "../../../escaped" if case == "name_escapes" else 'a: "b"\nc']
    before = sorted(p for p in tmp_path.rglob("*"))
    res = runner.invoke(app, ["export", str(small), "--out", str(out), "--format", "verl,lm_eval", *extra])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfcode: error: "), res.stderr
    assert "--out" in lines[0] or "--name" in lines[0], lines[0]
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written, nothing clobbered
    assert (src / "file").read_text() == "keep me"


def test_an_export_interrupted_after_some_formats_changes_nothing(tmp_path, monkeypatch):
    """Formats were moved into place one by one: Ctrl-C during the third left the first two replaced (a mix
    of old and new formats), and an interrupted first export left an empty OUT directory behind."""
    from generators.export import lm_eval

    splits = load_sources([str(suites_dir() / "test" / "while.interventional.jsonl")])
    old_splits = load_sources([str(suites_dir() / "test" / "if_else.interventional.jsonl")])
    export_problems(old_splits, tmp_path / "o", formats=["verl", "lm_eval"])
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(lm_eval, "write", interrupted)
    for out in (tmp_path / "o", tmp_path / "new" / "deeper"):
        with pytest.raises(KeyboardInterrupt):
            export_problems(splits, out, formats=["verl", "lm_eval"])
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["lm_eval", "verl"]
