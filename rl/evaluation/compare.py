"""Side-by-side comparison of policies (base / SFT / RL / baselines), like the paper's table and plot.

Why evaluations are cached per label: comparing is cheap only if each model's evaluation is done
once; a re-run with the same evaluation settings reuses `evals/<label>/eval.json`.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from generators import staged_dir
from rl.evaluation.baselines import is_baseline
from rl.evaluation.evaluate import (
    EvalConfig,
    EvalResult,
    engine_spec,
    evaluate,
    evaluate_in_subprocess,
    load_eval,
    load_eval_problems,
    model_fingerprint,
    problem_fingerprint,
    problems_fingerprint,
    save_eval,
)
from rl.evaluation.report import write_comparison_report

COMPARE_JSON = "compare.json"
COMPARE_METRICS = ("exact_match", "f1", "format_rate", "abduction_exact", "abduction_f1")


def parse_entry(entry: str) -> tuple[str, str]:
    """`LABEL=SPEC` -> (label, spec); a bare SPEC gets its default label."""
    label, sep, spec = entry.partition("=")
    if sep and label and "/" not in label and ":" not in label:
        return label, spec
    return "", entry


def _same_settings(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k != "label"} == {k: v for k, v in b.items() if k != "label"}


def _same_inputs(cached: EvalResult, cfg: EvalConfig) -> bool:
    """The cached eval measured today's problems (suites rebuilt in place change them) with today's model
    (weights trained again into the same folder change its fingerprint)."""
    if cached.model_sha256 != model_fingerprint(cfg.model):
        return False
    groups = load_eval_problems(cfg)
    if len(groups) != len(cached.groups):
        return False
    for (suite, mode), problems in groups.items():
        g = cached.group(suite, mode)
        if g is None or g.problems_sha256 != problems_fingerprint(problem_fingerprint(p, cfg) for p in problems):
            return False
    return True


def evaluate_cached(cfg: EvalConfig, out_dir: Path, *, sandbox=None) -> EvalResult:
    """Evaluate unless `out_dir` already holds an evaluation with exactly these settings.

    Models are evaluated in a child process each (several vLLM engines in one process do not mix)."""
    summary = out_dir / "eval.json"
    if summary.is_file():
        cached = load_eval(summary)
        if _same_settings(cached.config, asdict(cfg)) and _same_inputs(cached, cfg):
            return cached
    if not is_baseline(cfg.model):
        engine_spec(cfg.model), load_eval_problems(cfg)  # bad input fails here, before a child starts
        return evaluate_in_subprocess(cfg, out_dir)
    result, records = evaluate(cfg, sandbox=sandbox)
    save_eval(out_dir, result, records)
    return result


def collect(entries: Sequence[str], base: EvalConfig, out_dir: Path, *, sandbox=None) -> list[EvalResult]:
    """Each entry is an eval directory / eval.json (loaded) or `[LABEL=]SPEC` (evaluated and cached)."""
    results = []
    for entry in entries:
        path = Path(entry)
        if (path.is_dir() and (path / "eval.json").is_file()) or (path.is_file() and path.name == "eval.json"):
            results.append(load_eval(path))
            continue
        label, spec = parse_entry(entry)
        cfg = replace(base, model=spec, label=label)
        results.append(evaluate_cached(cfg, out_dir / "evals" / cfg.display_label(), sandbox=sandbox))
    labels = [r.label for r in results]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"duplicate labels {dupes}: name entries as LABEL=SPEC")
    return results


# Settings that decide what a policy was asked (without a problems fingerprint: older eval.json files) and,
# between two models, how it answered; a difference under them is an artefact, not the policies'.
PROBLEM_SETTINGS = ("limit", "suites_dir", "question", "prompt_style")
SAMPLING_SETTINGS = ("samples", "max_tokens", "temperature", "top_p")


def check_comparable(results: Sequence[EvalResult]) -> None:
    """ValueError (one line) unless every (suite, mode) group that two results share measured the same
    problems, and two models sampled them alike (baselines do not sample)."""
    for i, a in enumerate(results):
        for b in results[i + 1:]:
            for g in a.groups:
                h = b.group(g.suite, g.mode)
                if h is None:
                    continue
                if g.problems_sha256 and h.problems_sha256:
                    same = g.problems_sha256 == h.problems_sha256
                    why = f"{g.n_problems} and {h.n_problems} problems"
                else:
                    diff = [k for k in PROBLEM_SETTINGS if a.config.get(k) != b.config.get(k)]
                    same = not diff and g.n_problems == h.n_problems
                    why = ", ".join(f"{k} {a.config.get(k)!r} and {b.config.get(k)!r}" for k in diff) or \
                        f"{g.n_problems} and {h.n_problems} problems"
                if not same:
                    raise ValueError(f"cannot compare {a.label!r} and {b.label!r}: they were evaluated on different "
                                     f"problems in {g.suite}/{g.mode} ({why}); evaluate both on the same suites "
                                     f"and --limit")
            if not (is_baseline(a.model) or is_baseline(b.model)):
                diff = [k for k in SAMPLING_SETTINGS if a.config.get(k) != b.config.get(k)]
                if diff:
                    raise ValueError(f"cannot compare {a.label!r} and {b.label!r}: they were sampled differently ("
                                     + ", ".join(f"{k} {a.config.get(k)!r} and {b.config.get(k)!r}" for k in diff)
                                     + ")")


def write_comparison(out_dir: Path, results: Sequence[EvalResult], metric: str = "exact_match") -> list[Path]:
    """compare.json (all numbers), compare.md (paper-style table) and compare.png (grouped bars), only
    for results measured alike (`check_comparable`)."""
    if metric not in COMPARE_METRICS:
        raise ValueError(f"metric must be exact_match, f1, format_rate, abduction_exact or abduction_f1 "
                         f"(the last two: evals with --question abduce_predict), got {metric!r}")
    check_comparable(results)
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as staging:  # all three files or none (a full disk, Ctrl-C)
        js = staging / COMPARE_JSON
        js.write_text(json.dumps({"metric": metric, "results": [r.to_dict() for r in results]}, indent=2,
                                 sort_keys=True, default=repr) + "\n", encoding="utf-8")
        written = [js, *write_comparison_report(staging, results, metric)]
    return [out_dir / p.name for p in written]
