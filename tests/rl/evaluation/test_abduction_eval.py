"""`cfcode eval --question abduce_predict`: abduction accuracy per suite beside exact match; the
oracle states the consistent set (100%), prior the whole domain (0% wherever abduction narrows it)."""
from __future__ import annotations

import json

from rl.evaluation import evaluate, save_eval
from rl.evaluation.report import eval_markdown
from tests.rl.conftest import eval_config

FAMILIES = ["if_else", "multi_r", "multi_obs", "data"]


def test_oracle_abduces_exactly_and_prior_names_the_whole_domain(mini_suites, local_sandbox, tmp_path):
    oracle, records = evaluate(eval_config(mini_suites, "oracle", suites=FAMILIES, question="abduce_predict"),
                               sandbox=local_sandbox)
    for g in oracle.groups:
        assert g.exact_match.mean == 1.0 and g.abduction_exact.mean == 1.0 and g.abduction_f1.mean == 1.0, g
    assert all("<latents>" in r.text and r.abduction_correct for r in records)
    prior, records = evaluate(eval_config(mini_suites, "prior", suites=FAMILIES, question="abduce_predict"),
                              sandbox=local_sandbox)
    for g in prior.groups:
        # counterfactual: the observation always narrows the latents; interventional: they are revealed
        assert g.abduction_exact.mean == 0.0 and g.abduction_f1.mean == 0.0, g
    out = save_eval(tmp_path / "prior", prior, records)
    summary = json.loads((out / "eval.json").read_text())
    assert "abduction_exact" in summary["groups"][0] and summary["config"]["question"] == "abduce_predict"
    assert "| exact match | abduction |" in eval_markdown(prior)


def test_predict_eval_is_unchanged(mini_suites, local_sandbox, tmp_path):
    result, records = evaluate(eval_config(mini_suites, "oracle", suites=["if_else"]), sandbox=local_sandbox)
    assert all(g.abduction_exact is None for g in result.groups) and "<latents>" not in records[0].text
    out = save_eval(tmp_path / "o", result, records)
    assert "abduction" not in (out / "eval.json").read_text() and "abduction |" not in eval_markdown(result)


def test_compare_on_abduction_accuracy(mini_suites, local_sandbox, tmp_path):
    from rl.evaluation.compare import write_comparison
    from rl.evaluation.report import comparison_markdown

    results = [evaluate(eval_config(mini_suites, m, suites=["if_else"], question="abduce_predict"),
                        sandbox=local_sandbox)[0] for m in ("oracle", "prior")]
    predict_only = evaluate(eval_config(mini_suites, "oracle", suites=["if_else"], label="plain"),
                            sandbox=local_sandbox)[0]
    table = comparison_markdown([*results, predict_only], "abduction_exact")
    row = next(line for line in table.splitlines() if line.startswith("| if_else"))
    assert row.startswith("| if_else (ID) | 100.0") and row.endswith("| 0.0 [0.0, 0.0] | - |")
    assert write_comparison(tmp_path / "cmp", results, "abduction_exact")
