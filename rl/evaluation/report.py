"""Human-readable outputs of evaluations and comparisons: markdown tables and PNG bar charts.

Why separate from evaluation: the same rendering serves `cfcode eval`, `cfcode compare` and the
experiment report, and it must never need a model. matplotlib runs on the Agg backend (no display).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from generators import MODES
from rl.evaluation.suite_selection import is_in_distribution, ordered_suites

if TYPE_CHECKING:
    from rl.evaluation.evaluate import EvalResult
    from rl.evaluation.metrics import Estimate

EVAL_MD, EVAL_PNG = "eval.md", "eval.png"
COMPARE_MD, COMPARE_PNG = "compare.md", "compare.png"


def _pct(e: Estimate) -> str:
    if e.n == 0 or math.isnan(e.mean):
        return "-"
    return f"{100 * e.mean:.1f} [{100 * e.lo:.1f}, {100 * e.hi:.1f}]"


def _num(e: Estimate) -> str:
    return "-" if e.n == 0 or math.isnan(e.mean) else f"{e.mean:.1f}"


def _suite_title(suite: str) -> str:
    return f"{suite} (ID)" if is_in_distribution(suite) else suite


def eval_markdown(result: EvalResult) -> str:
    abduction = any(g.abduction_exact is not None for g in result.groups)  # question "abduce_predict"
    lines = [f"# Evaluation: {result.label}", "", f"Model: `{result.model}`", "",
             ("Exact match, F1 and format rate in %, with 95% bootstrap intervals over problems; "
              "length in tokens (baselines: words)."
              + (" Abduction: the stated latent set equals the consistent set." if abduction else "")), "",
             "| suite | mode | n | exact match | " + ("abduction | " if abduction else "")
             + "F1 | format | length | truncated | verifier errors |",
             "|---|---|---:|---|" + ("---|" if abduction else "") + "---|---|---:|---:|---:|"]
    for suite in ordered_suites({g.suite for g in result.groups}):
        for mode in MODES:
            g = result.group(suite, mode)
            if g is None:
                continue
            abd = (f"{_pct(g.abduction_exact)} | " if g.abduction_exact is not None else "- | ") if abduction else ""
            lines.append(f"| {_suite_title(suite)} | {mode} | {g.n_problems} | {_pct(g.exact_match)} | {abd}"
                         f"{_pct(g.f1)} | {_pct(g.format_rate)} | {_num(g.mean_length)} | {g.truncated} | "
                         f"{g.verifier_errors} |")
    return "\n".join(lines) + "\n"


def comparison_markdown(results: Sequence[EvalResult], metric: str = "exact_match") -> str:
    """The paper-style table: one block per mode, suites as rows, models as columns."""
    labels = [r.label for r in results]
    suites = ordered_suites({g.suite for r in results for g in r.groups})
    lines = [f"# Comparison: {', '.join(labels)}", "",
             (f"Metric: {metric.replace('_', ' ')} in % with 95% bootstrap intervals. "
              "ID = in-distribution (training family); all other suites are out of distribution."), ""]
    for mode in MODES:
        rows = [s for s in suites if any(r.group(s, mode) for r in results)]
        if not rows:
            continue
        lines += [f"## {mode}", "", "| suite | " + " | ".join(labels) + " |",
                  "|---|" + "---|" * len(labels)]
        for suite in rows:
            cells = []
            for r in results:
                g = r.group(suite, mode)
                value = getattr(g, metric) if g else None  # abduction metrics: absent from predict evals
                cells.append(_pct(value) if value is not None else "-")
            lines.append(f"| {_suite_title(suite)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _bar_chart(results: Sequence[EvalResult], path: Path, metric: str, title: str) -> Path:
    """Grouped bars with CI whiskers: one panel per mode, suites on x, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np


    suites = ordered_suites({g.suite for r in results for g in r.groups})
    modes = [m for m in MODES if any(g.mode == m for r in results for g in r.groups)]
    fig, axes = plt.subplots(len(modes), 1, figsize=(max(7.0, 0.35 * len(suites) * len(results) + 3),
                                                     1.0 + 3.2 * len(modes)), squeeze=False, sharex=True)
    width = 0.8 / max(1, len(results))
    x = np.arange(len(suites))
    for ax, mode in zip(axes[:, 0], modes):
        for i, r in enumerate(results):
            means, err_lo, err_hi = [], [], []
            for s in suites:
                g = r.group(s, mode)
                e = getattr(g, metric) if g else None
                ok = e is not None and e.n > 0 and not math.isnan(e.mean)
                means.append(100 * e.mean if ok else 0.0)
                err_lo.append(100 * (e.mean - e.lo) if ok else 0.0)
                err_hi.append(100 * (e.hi - e.mean) if ok else 0.0)
            ax.bar(x + (i - (len(results) - 1) / 2) * width, means, width, label=r.label,
                   yerr=[err_lo, err_hi], capsize=2, error_kw={"linewidth": 0.8})
        ax.set_title(mode, fontsize=10)
        ax.set_ylim(0, 105)
        ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(x, [_suite_title(s) for s in suites], rotation=30, ha="right", fontsize=8)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=min(len(results), 6), fontsize=8,
               bbox_to_anchor=(0.5, 0.96), frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    # No "Software" stamp: the PNG stays byte-identical for the same numbers.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def write_eval_report(out_dir: Path, result: EvalResult) -> None:
    (out_dir / EVAL_MD).write_text(eval_markdown(result), encoding="utf-8")
    _bar_chart([result], out_dir / EVAL_PNG, "exact_match", f"{result.label}: exact match")


def write_comparison_report(out_dir: Path, results: Sequence[EvalResult],
                            metric: str = "exact_match") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / COMPARE_MD
    md.write_text(comparison_markdown(results, metric), encoding="utf-8")
    png = _bar_chart(results, out_dir / COMPARE_PNG, metric,
                     f"{metric.replace('_', ' ')}: " + " vs ".join(r.label for r in results))
    return [md, png]
