"""Learning curves of a training run: the trainer's log history saved beside its checkpoints, read
back (from the file or the latest checkpoint) and drawn as one PNG of panels per run (reward, KL,
loss, format rate, ...), with a markdown section for the experiment report."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

LOG_HISTORY = "log_history.json"
CURVES: dict[str, tuple[tuple[str, str], ...]] = {
    # kind -> (log key, panel title); a panel is drawn only when its key was logged.
    "sft": (("loss", "training loss"), ("mean_token_accuracy", "token accuracy"),
            ("grad_norm", "gradient norm")),
    "grpo": (("reward", "reward (mean over completions)"), ("envs/format_ok", "format rate"),
             ("completions/mean_length", "completion length (tokens)"), ("kl", "KL to the reference"),
             ("reward_std", "reward std within groups"), ("completions/clipped_ratio", "truncated fraction")),
}

RATE_KEYS = frozenset({"reward", "envs/format_ok", "completions/clipped_ratio", "mean_token_accuracy"})


def write_log_history(trainer, output_dir: str | Path) -> Path:
    """The trainer's whole log history (a resumed run carries the earlier steps), for learning curves."""
    path = Path(output_dir) / LOG_HISTORY
    path.write_text(json.dumps(trainer.state.log_history, indent=1, sort_keys=True, default=repr) + "\n",
                    encoding="utf-8")
    return path


def read_log_history(run_dir: str | Path) -> list[dict]:
    """`log_history.json` of a finished run, else the newest checkpoint's trainer_state (interrupted run)."""
    run_dir = Path(run_dir)
    path = run_dir / LOG_HISTORY
    if not path.is_file():
        states = sorted(run_dir.glob("checkpoint-*/trainer_state.json"),
                        key=lambda p: int(p.parent.name.split("-")[-1]))
        if not states:
            return []
        return json.loads(states[-1].read_text(encoding="utf-8")).get("log_history", [])
    return json.loads(path.read_text(encoding="utf-8"))


def curve_series(history: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one logged key, skipping the end-of-training summary entry."""
    steps, values = [], []
    for h in history:
        v = h.get(key)
        if isinstance(v, (int, float)) and "step" in h and "train_runtime" not in h and math.isfinite(v):
            steps.append(int(h["step"]))
            values.append(float(v))
    return steps, values


def plot_learning_curves(history: Sequence[dict], kind: str, path: Path, title: str) -> Path | None:
    """One panel per logged quantity of `CURVES[kind]` against the optimizer step; None if nothing logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(key, name, *curve_series(history, key)) for key, name in CURVES[kind]]
    panels = [p for p in panels if p[2]]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (key, name, steps, values) in zip(axes.flat, panels):
        ax.plot(steps, values, marker="." if len(steps) < 60 else None, linewidth=1.2)
        if len(values) >= 8:  # a moving average makes a noisy RL curve readable
            w = max(3, len(values) // 8)
            smooth = [sum(values[max(0, i - w + 1): i + 1]) / len(values[max(0, i - w + 1): i + 1])
                      for i in range(len(values))]
            ax.plot(steps, smooth, linewidth=2.0, alpha=0.8, label=f"mean of last {w}")
            ax.legend(fontsize=7, frameon=False)
        if key in RATE_KEYS:  # rates on a fixed 0-1 axis, so a flat line at 0 reads as 0
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("optimizer step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def learning_curves_markdown(runs: dict[str, Path], out_dir: Path, rel_to: Path) -> str:
    """Plots `<kind>_curves.png` for each training run (kind -> run dir) and a markdown section with
    the images and a first/last table of each quantity; empty when no run logged anything."""
    lines = ["## Learning curves", ""]
    for kind, run_dir in runs.items():
        history = read_log_history(run_dir)
        png = plot_learning_curves(history, kind, out_dir / f"{kind}_curves.png",
                                   f"{kind.upper()}: learning curves ({run_dir.name})")
        if png is None:
            continue
        lines += [f"### {kind.upper()}", "", f"![{kind} curves]({png.relative_to(rel_to).as_posix()})", "",
                  "| quantity | steps logged | first | last | min | max |", "|---|---:|---:|---:|---:|---:|"]
        for key, name in CURVES[kind]:
            _, values = curve_series(history, key)
            if values:
                lines.append(f"| {name} | {len(values)} | {values[0]:.4g} | {values[-1]:.4g} | "
                             f"{min(values):.4g} | {max(values):.4g} |")
        lines.append("")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""
