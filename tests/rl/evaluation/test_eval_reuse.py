"""`evaluate(reuse=...)` / `cfcode eval --reuse`: an extended or interrupted evaluation generates only
the (suite, mode) groups an earlier run with the same generation settings does not cover, and still
scores every completion with today's scorer."""
from __future__ import annotations

import json

from rl.evaluation import evaluate, load_samples, save_eval
from rl.inference.engines import Completion, RolloutEngine, SamplingConfig
from tests.rl.conftest import eval_config


class GoldEngine(RolloutEngine):
    """Answers every prompt with its problem's gold trace and records which prompts it was asked."""

    def __init__(self, problems) -> None:
        self.gold = {p.prompt: p.gold_trace for p in problems}
        self.asked: list[str] = []

    def generate(self, prompts, sampling=None):
        sampling = sampling or SamplingConfig()
        texts = [m[-1]["content"] if isinstance(m, list) else m for m in prompts]
        self.asked.extend(texts)
        return [[Completion(self.gold[t], len(self.gold[t].split()), "stop")] * sampling.n for t in texts]


def _problems(cfg):
    from rl.evaluation.evaluate import load_eval_problems

    return [p for ps in load_eval_problems(cfg).values() for p in ps]


def test_covered_groups_are_rescored_not_generated(mini_suites, local_sandbox):
    first_cfg = eval_config(mini_suites, "vllm:/models/m", suites=["if_else"], limit=3)
    engine = GoldEngine(_problems(eval_config(mini_suites, "x", suites=["if_else", "while"], limit=3)))
    first, first_records = evaluate(first_cfg, engine=engine, sandbox=local_sandbox)
    assert len(engine.asked) == 6 and all(g.exact_match.mean == 1.0 for g in first.groups)

    # The earlier if_else/counterfactual completions are replaced by a wrong answer: if reuse re-scores
    # what it reuses, that group scores 0 while if_else/interventional keeps 1 and `while` is generated.
    tampered = [r if r.mode == "interventional" else
                type(r)(**{**r.__dict__, "text": "<answer>[123456789]</answer>"}) for r in first_records]
    engine.asked.clear()
    cfg = eval_config(mini_suites, "vllm:/models/m", suites=["if_else", "while"], limit=3)
    result, records = evaluate(cfg, engine=engine, sandbox=local_sandbox, reuse=tampered)
    assert len(engine.asked) == 6  # only the two `while` groups
    assert all(p in {q.prompt for q in _problems(eval_config(mini_suites, "x", suites=["while"],
                                                                           limit=3))} for p in engine.asked)
    em = {(g.suite, g.mode): g.exact_match.mean for g in result.groups}
    assert em == {("if_else", "counterfactual"): 0.0, ("if_else", "interventional"): 1.0,
                  ("while", "counterfactual"): 1.0, ("while", "interventional"): 1.0}
    assert [(r.suite, r.mode) for r in records] == sorted((r.suite, r.mode) for r in records)


def test_a_partly_covered_group_is_generated_again(mini_suites, local_sandbox):
    engine = GoldEngine(_problems(eval_config(mini_suites, "x", suites=["if_else"], limit=4)))
    _, earlier = evaluate(eval_config(mini_suites, "vllm:/m", suites=["if_else"], limit=2), engine=engine,
                          sandbox=local_sandbox)
    engine.asked.clear()
    evaluate(eval_config(mini_suites, "vllm:/m", suites=["if_else"], limit=4), engine=engine,
             sandbox=local_sandbox, reuse=earlier)
    assert len(engine.asked) == 8


def test_cli_reuse_extends_an_earlier_run_and_refuses_other_settings(mini_suites, tmp_path):
    from typer.testing import CliRunner

    from cfcode_cli import app

    common = ["--model", "prior", "--limit", "3", "--suites-dir", str(mini_suites), "--sandbox", "local"]
    first = CliRunner().invoke(app, ["eval", *common, "--suites", "if_else", "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    both = CliRunner().invoke(app, ["eval", *common, "--suites", "if_else,while", "--out", str(tmp_path / "b"),
                                    "--reuse", str(tmp_path / "a")])
    assert both.exit_code == 0, both.output
    fresh = CliRunner().invoke(app, ["eval", *common, "--suites", "if_else,while", "--out", str(tmp_path / "c")])
    assert fresh.exit_code == 0, fresh.output
    for name in ("eval.json", "samples.jsonl"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name

    other = CliRunner().invoke(app, ["eval", *common[:2], "--limit", "2", *common[4:], "--suites", "if_else",
                                     "--out", str(tmp_path / "d"), "--reuse", str(tmp_path / "a")])
    assert other.exit_code == 2
    assert "expected an evaluation with limit = 2, got 3" in other.output
    assert not (tmp_path / "d").exists()
    missing = CliRunner().invoke(app, ["eval", *common, "--out", str(tmp_path / "e"), "--reuse",
                                       str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "eval.json" in missing.output
    assert json.loads((tmp_path / "b" / "eval.json").read_text())["config"]["suites"] == ["if_else", "while"]
    assert len(load_samples(tmp_path / "b")) == 12

    samples = tmp_path / "a" / "samples.jsonl"  # a corrupted earlier run: one line naming file:line and field
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    rows[1]["text"] = 5
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    corrupt = CliRunner().invoke(app, ["eval", *common, "--suites", "if_else", "--out", str(tmp_path / "f"),
                                       "--reuse", str(tmp_path / "a")])
    assert corrupt.exit_code == 2 and f"{samples}:2: text: expected str" in corrupt.output
    assert not (tmp_path / "f").exists()


def test_save_eval_of_a_reused_run_round_trips(mini_suites, local_sandbox, tmp_path):
    _, earlier = evaluate(eval_config(mini_suites, "oracle", suites=["if_else"], limit=2), sandbox=local_sandbox)
    result, records = evaluate(eval_config(mini_suites, "oracle", suites=["if_else"], limit=2),
                               sandbox=local_sandbox, reuse=earlier)
    assert records == earlier
    save_eval(tmp_path / "r", result, records)
    assert load_samples(tmp_path / "r") == records


def test_an_interrupted_save_leaves_the_earlier_eval_whole(tmp_path):
    """save_eval wrote samples.jsonl in place: a save interrupted mid-way (Ctrl-C, a full disk; here a record
    that cannot be written) left it truncated beside the old eval.json, and `--reuse DIR --out DIR` lost its
    source."""
    import pytest

    from rl.evaluation.evaluate import EvalResult, SampleRecord, summarize

    def record(i: int) -> SampleRecord:
        return SampleRecord(suite="if_else", mode="counterfactual", problem_id=f"p{i}", sample=0, text="t", n_tokens=1,
                            finish_reason="stop", reward=1.0, correct=True, f1=1.0, format_ok=True,
                            parsed_answer=[1], gold=[1], verifier_error=None)

    records = [record(0), record(1)]
    save_eval(tmp_path, EvalResult(label="x", model="oracle", config={}, groups=summarize(records, seed=0)), records)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError):
        save_eval(tmp_path, EvalResult(label="y", model="oracle", config={}, groups=summarize(records, seed=0)),
                  [record(2), object()])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_problem_whose_content_changed_under_the_same_id_is_generated_again(mini_suites, local_sandbox,
                                                                              tmp_path):
    """Suites regenerated in place (same path, same ids, other programs) or a changed prompt renderer: the
    earlier completions answered other questions, so reusing them would score answers to the old problems
    against the new golds."""
    import shutil

    from generators import load_problems, write_problems

    suites = tmp_path / "suites"
    shutil.copytree(mini_suites, suites)
    path = suites / "test" / "if_else.counterfactual.jsonl"
    old = load_problems(path)
    engine = GoldEngine(old)
    cfg = eval_config(suites, "vllm:/m", suites=["if_else"], modes=["counterfactual"], limit=2)
    _, earlier = evaluate(cfg, engine=engine, sandbox=local_sandbox)

    # the same ids now name the next problems of the file
    renamed = [type(p)(**{**p.__dict__, "id": q.id}) for p, q in zip(old[2:4], old[:2])]
    write_problems(path, renamed + old[2:])
    engine = GoldEngine(renamed)
    result, _ = evaluate(cfg, engine=engine, sandbox=local_sandbox, reuse=earlier)
    assert len(engine.asked) == 2
    assert result.groups[0].exact_match.mean == 1.0


def test_a_model_retrained_in_place_is_not_reused(mini_suites, local_sandbox, tmp_path):
    """`--reuse` compared the model spec only: weights trained again into the same folder (runs/sft/final)
    kept the old completions, so the new model was reported with the old one's numbers."""
    import pytest

    from rl.evaluation import load_eval
    from rl.evaluation.evaluate import check_reusable

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"old weights")
    cfg = eval_config(mini_suites, f"hf:{model}", suites=["if_else"], modes=["counterfactual"], limit=2)
    engine = GoldEngine(_problems(cfg))
    save_eval(tmp_path / "eval", *evaluate(cfg, engine=engine, sandbox=local_sandbox))
    check_reusable(cfg, load_eval(tmp_path / "eval"))  # the same model: reusable
    (model / "model.safetensors").write_bytes(b"new weights!")
    with pytest.raises(ValueError, match="model"):
        check_reusable(cfg, load_eval(tmp_path / "eval"))


def test_a_problem_whose_samples_are_not_each_index_once_is_generated_again(mini_suites, local_sandbox):
    """Reuse counted rows per problem: samples.jsonl holding sample 0 twice (and no sample 1) for samples=2
    passed as complete, one completion standing in for two."""
    cfg = eval_config(mini_suites, "vllm:/m", suites=["if_else"], modes=["counterfactual"], limit=2, samples=2,
                      temperature=1.0)
    engine = GoldEngine(_problems(cfg))
    _, earlier = evaluate(cfg, engine=engine, sandbox=local_sandbox)
    doubled = [r if r.sample == 0 or r.problem_id != earlier[0].problem_id else
               type(r)(**{**r.__dict__, "sample": 0}) for r in earlier]
    engine.asked.clear()
    evaluate(cfg, engine=engine, sandbox=local_sandbox, reuse=doubled)
    assert len(engine.asked) == 2


def test_a_baseline_is_generated_again_not_reused(mini_suites, local_sandbox):
    """A baseline's completions are a function of today's code (its solver and answer rendering), cheap to
    make again: reused ones from an older version would be reported as today's baseline."""
    cfg = eval_config(mini_suites, "oracle", suites=["if_else"], modes=["counterfactual"], limit=2)
    _, earlier = evaluate(cfg, sandbox=local_sandbox)
    stale = [type(r)(**{**r.__dict__, "text": "<answer>[123456789]</answer>"}) for r in earlier]
    result, _ = evaluate(cfg, sandbox=local_sandbox, reuse=stale)
    assert result.groups[0].exact_match.mean == 1.0
