"""Side-by-side comparison and the rule-based reasoning-trace analysis."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rl.evaluation import evaluate, save_eval
from rl.evaluation.compare import collect, write_comparison
from rl.evaluation.trace_analysis import (
    _parse_judgement,
    analyze_eval_dirs,
    analyze_samples,
    tag_completion,
    traces_markdown,
)
from tests.rl.conftest import eval_config


@pytest.fixture(scope="module")
def baseline_dirs(mini_suites, local_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("evals")
    dirs = []
    for name in ("oracle", "skip-abduction", "prior"):
        cfg = eval_config(mini_suites, name, suites=["if_else", "while", "multi_r", "gsm"], limit=6)
        dirs.append(save_eval(root / name, *evaluate(cfg, sandbox=local_sandbox)))
    return dirs


def test_comparison_table_and_plot_put_models_side_by_side(baseline_dirs, mini_suites, tmp_path):
    base = eval_config(mini_suites, "")
    results = collect([str(d) for d in baseline_dirs], base, tmp_path)
    files = write_comparison(tmp_path, results)
    assert [f.name for f in files] == ["compare.json", "compare.md", "compare.png"]
    md = (tmp_path / "compare.md").read_text()
    assert "| suite | oracle | skip-abduction | prior |" in md
    cf = md.split("## counterfactual")[1].split("## interventional")[0]
    iv = md.split("## interventional")[1]
    rows = [line.split(" | ")[0].lstrip("| ") for line in cf.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["suite", "if_else (ID)", "if_else_long", "while", "multi_r", "gsm"][0:1] + [
        "if_else (ID)", "while", "multi_r", "gsm"]  # ID first, then the paper's OOD order
    assert "| while | 100.0 [100.0, 100.0] | 100.0 [100.0, 100.0] |" in iv  # skip-abduction exact when revealed
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["label"] for r in data["results"]] == ["oracle", "skip-abduction", "prior"]


def test_compare_evaluates_label_spec_entries_once_and_caches(mini_suites, tmp_path):
    base = eval_config(mini_suites, "", suites=["if_else"], limit=3)
    first = collect(["truth=oracle", "prior"], base, tmp_path)
    assert [r.label for r in first] == ["truth", "prior"]
    stamp = (tmp_path / "evals" / "truth" / "eval.json").stat().st_mtime_ns
    again = collect(["truth=oracle"], base, tmp_path)
    assert (tmp_path / "evals" / "truth" / "eval.json").stat().st_mtime_ns == stamp
    assert again[0].to_dict() == first[0].to_dict()
    with pytest.raises(ValueError, match="duplicate labels"):
        collect(["oracle", "oracle"], base, tmp_path)
    changed = collect(["truth=oracle"], replace(base, limit=2), tmp_path)  # new settings: re-evaluated
    assert changed[0].groups[0].n_problems == 2


def test_tagger_separates_abduction_from_guessing_and_ignoring(mini_suites, local_sandbox):
    from generators import load_problems
    from rl.evaluation.baselines import BaselinePolicy

    problems = load_problems(mini_suites / "test" / "if_else.counterfactual.jsonl")
    for name, full_chain in (("oracle", True), ("skip-abduction", False), ("prior", False)):
        for p, c in zip(problems, BaselinePolicy(name, local_sandbox).complete(problems)):
            tags = tag_completion(c.text, p)
            assert tags.full_chain is full_chain, (name, c.text, tags)
            assert tags.intervention and tags.prediction
    for p in problems:  # the generators' gold traces do all three steps, in order
        tags = tag_completion(p.gold_trace, p)
        assert tags.full_chain and tags.abduction[0] < tags.intervention[0] <= tags.prediction[-1]


def test_tagger_on_free_text():
    text = ("We observed f(x=2) = 5. Since 2 + r must be 5 mod 7, r is consistent only with 3 or 10.\n"
            "Now set x = 4, keeping r fixed.\nThen f(x=4) would be 0 or 7.\n<answer>[0, 7]</answer>")
    tags = tag_completion(text)
    assert tags.abduction == [1] and tags.intervention == [2] and tags.prediction == [3, 4]
    assert not tag_completion("I think the answer is 3. <answer>[3]</answer>").abduction
    assert not tag_completion("").full_chain


def test_trace_report_per_model(baseline_dirs, mini_suites, tmp_path):
    stats = analyze_eval_dirs(baseline_dirs, tmp_path, suites_dir=str(mini_suites))
    by = {(s.label, s.suite, s.mode): s for s in stats}
    assert by[("oracle", "while", "counterfactual")].full_chain == 1.0
    assert by[("prior", "while", "counterfactual")].abduction == 0.0
    assert by[("skip-abduction", "gsm", "counterfactual")].acc_full_chain is None
    md = (tmp_path / "traces.md").read_text()
    assert md == traces_markdown(stats) and "| oracle | if_else | counterfactual | 6 | 100.0 |" in md
    assert json.loads((tmp_path / "traces.json").read_text())[0]["label"] == "oracle"


def test_analyze_samples_accuracy_split_by_chain():
    from rl.evaluation import SampleRecord

    def rec(text, ok):
        return SampleRecord("s", "counterfactual", "p", 0, text, 1, "stop", None, ok, 0.0, True, None, [], None)

    chain = ("The observation fits r = 3 only.\nIntervention: set x = 4.\nTherefore the output would be 2."
             "\n<answer>[2]</answer>")
    (s,) = analyze_samples("m", [rec(chain, True), rec(chain, False), rec("<answer>[2]</answer>", True)])
    assert s.n == 3 and s.full_chain == pytest.approx(2 / 3, abs=1e-6)
    assert s.acc_full_chain == 0.5 and s.acc_without == 1.0


@pytest.mark.parametrize("text, verdict", [
    ('{"abduction": true, "intervention": false, "prediction": true}',
     {"abduction": True, "intervention": False, "prediction": True}),
    ('Sure! ```json\n{"abduction": false, "intervention": true, "prediction": true}\n```',
     {"abduction": False, "intervention": True, "prediction": True}),
    ('{"abduction": "yes", "intervention": true, "prediction": true}', None),
    ("no json here", None),
])
def test_judge_replies_are_parsed_strictly(text, verdict):
    assert _parse_judgement(text) == verdict


class _KeywordJudge:
    """A stand-in judge model behind the real OpenAI-compatible server: it calls a trace 'abductive'
    when the graded reasoning contains the oracle's 'Abduction: trying' line."""

    name = "keyword-judge"

    def generate(self, prompts, sampling=None):
        from rl.inference.engines import Completion

        out = []
        for p in prompts:
            text = p[-1]["content"] if isinstance(p, list) else p
            graded = text.split("Model's reasoning:", 1)[1]
            verdict = {"abduction": "Abduction: trying" in graded, "intervention": True, "prediction": True}
            out.append([Completion(json.dumps(verdict), 10, "stop")])
        return out

    def close(self):
        pass


def test_llm_judge_through_an_openai_compatible_endpoint(baseline_dirs, mini_suites, tmp_path):
    from rl.inference.openai_server import serve_in_thread

    with serve_in_thread(_KeywordJudge(), model_name="judge") as server:
        stats = analyze_eval_dirs(baseline_dirs[:2], tmp_path, judge=server.engine_spec(), judge_limit=3,
                                  suites_dir=str(mini_suites))
    by = {(s.label, s.suite, s.mode): s for s in stats}
    assert by[("oracle", "gsm", "counterfactual")].judge == {"abduction": 1.0, "intervention": 1.0,
                                                             "prediction": 1.0, "n": 3.0}
    assert by[("skip-abduction", "gsm", "counterfactual")].judge["abduction"] == 0.0
    assert "100.0/100.0/100.0" in (tmp_path / "traces.md").read_text()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, mini_suites):
    from generators import load_problems
    from rl.training.tiny_model import build_tiny_model

    problems = load_problems(mini_suites / "test" / "if_else.counterfactual.jsonl")
    corpus = [t for p in problems for t in (p.prompt, p.gold_trace)]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", corpus=corpus, seed=0)


def test_compare_cli_evaluates_a_real_model_next_to_a_baseline(tiny_model, mini_suites, tmp_path):
    from typer.testing import CliRunner

    from cfcode_cli import app

    res = CliRunner().invoke(app, ["compare", f"base=hf:{tiny_model}", "oracle", "--suites", "if_else,while",
                                   "--limit", "2", "--max-tokens", "8", "--suites-dir", str(mini_suites),
                                   "--sandbox", "local", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "| suite | base | oracle |" in res.output
    base = json.loads((tmp_path / "evals" / "base" / "eval.json").read_text())
    assert base["model"] == f"hf:{tiny_model}" and len(base["groups"]) == 4
    for g in base["groups"]:  # a random-weight model never stops within 8 tokens
        assert g["mean_length"]["mean"] == 8.0 and g["truncated"] == 2 and g["exact_match"]["mean"] == 0.0
    samples = (tmp_path / "evals" / "base" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 8
    bad = CliRunner().invoke(app, ["compare", f"x=hf:{tmp_path}/missing", "--suites-dir", str(mini_suites),
                                   "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "no model directory" in bad.output


def test_eval_of_an_openai_compatible_endpoint(tiny_model, mini_suites, tmp_path):
    from rl.inference.engines import make_engine
    from rl.inference.openai_server import serve_in_thread

    with make_engine(f"hf:{tiny_model}") as engine, serve_in_thread(engine, model_name="tiny") as server:
        cfg = eval_config(mini_suites, server.engine_spec(), suites=["gsm"], limit=2, max_tokens=6)
        result, records = evaluate(cfg)
    assert result.label == "tiny" and len(records) == 4
    assert all(r.n_tokens == 6 and r.finish_reason == "length" for r in records)


@pytest.mark.vllm
def test_vllm_evaluation_runs_in_a_child_process(tiny_model, mini_suites, tmp_path):
    from rl.evaluation import evaluate_in_subprocess, load_samples

    cfg = eval_config(mini_suites, f"vllm:{tiny_model}", suites=["if_else", "recursion"], limit=2, max_tokens=8,
                      modes=["counterfactual"])
    result = evaluate_in_subprocess(cfg, tmp_path)
    assert result.label == "base" and len(result.groups) == 2
    assert all(g.mean_length.mean == 8.0 and g.truncated == 2 for g in result.groups)
    samples = load_samples(tmp_path)
    assert len(samples) == 4 and all(s.text and s.finish_reason == "length" for s in samples)


def test_compare_refuses_evals_of_different_problems(mini_suites, local_sandbox, tmp_path):
    """Two evals of one suite on other problems (another --limit, suites regenerated in place) differ by
    what they were asked, not by policy: the table would report that artefact as a difference."""
    import shutil

    from generators import load_problems, write_problems

    suites = tmp_path / "suites"
    shutil.copytree(mini_suites, suites)
    run = lambda name, **kw: save_eval(tmp_path / name, *evaluate(  # noqa: E731
        eval_config(suites, "oracle", suites=["if_else"], modes=["counterfactual"], **kw), sandbox=local_sandbox))
    same_a, same_b, short = run("a", limit=4), run("b", limit=4, label="again"), run("short", limit=2, label="short")
    base = eval_config(suites, "")
    write_comparison(tmp_path / "ok", collect([str(same_a), str(same_b)], base, tmp_path / "ok"))
    with pytest.raises(ValueError, match="different problems.*if_else/counterfactual"):
        write_comparison(tmp_path / "c1", collect([str(same_a), str(short)], base, tmp_path / "c1"))
    path = suites / "test" / "if_else.counterfactual.jsonl"
    problems = load_problems(path)
    write_problems(path, problems[4:] + problems[:4])  # the same file name and limit, other problems
    moved = run("moved", limit=4, label="moved")
    with pytest.raises(ValueError, match="different problems"):
        write_comparison(tmp_path / "c2", collect([str(same_a), str(moved)], base, tmp_path / "c2"))
    assert not (tmp_path / "c1").exists() and not (tmp_path / "c2").exists()


def test_compare_cache_is_not_used_for_suites_changed_in_place(mini_suites, tmp_path):
    """compare reused evals/<label>/eval.json whenever the settings matched: after the suites were rebuilt
    in place, the cached numbers of the old problems were tabulated beside fresh ones."""
    import shutil

    from generators import load_problems, write_problems

    suites = tmp_path / "suites"
    shutil.copytree(mini_suites, suites)
    base = eval_config(suites, "", suites=["if_else"], modes=["counterfactual"], limit=3)
    first = collect(["truth=oracle"], base, tmp_path / "out")
    path = suites / "test" / "if_else.counterfactual.jsonl"
    problems = load_problems(path)
    write_problems(path, problems[3:] + problems[:3])
    again = collect(["truth=oracle"], base, tmp_path / "out")
    assert again[0].groups[0].problems_sha256 != first[0].groups[0].problems_sha256
