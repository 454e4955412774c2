"""Evaluation: per-suite metrics with confidence intervals, no-model baselines, reports, side-by-side
comparison, reasoning-trace analysis and suite selection (`cfcode eval`, `cfcode compare`,
`cfcode analyze-traces`: rl/evaluation/cli.py).

    from rl.evaluation import EvalConfig, evaluate, save_eval
    result, records = evaluate(EvalConfig(model="oracle", suites=["while"]))
"""
from rl.evaluation.evaluate import (
    SAMPLES_FILE,
    SUMMARY_FILE,
    EvalConfig,
    EvalResult,
    SampleRecord,
    evaluate,
    evaluate_in_subprocess,
    load_eval,
    load_samples,
    save_eval,
    summarize,
)

__all__ = ["SAMPLES_FILE", "SUMMARY_FILE", "EvalConfig", "EvalResult", "SampleRecord", "evaluate",
           "evaluate_in_subprocess", "load_eval", "load_samples", "save_eval", "summarize"]
