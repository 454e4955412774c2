"""`cfcode experiment CONFIG.toml`: generate -> (tiny model) -> SFT -> GRPO -> eval -> compare -> traces.

Why stages with fingerprints: the main job runs for minutes (CPU quickstart) to days (paper
configs), so an interruption must cost little. Each finished stage is recorded in `state.json` with a
fingerprint of the configuration it depends on; a re-run skips finished stages whose fingerprint
still matches, and SFT / GRPO continue from their latest checkpoint (the trainers resume by
themselves). Heavy stages (model build, training, model evaluation) run in a child process with
their output in `logs/<stage>.log`: each gets a fresh vLLM / torch state, memory is returned when it
ends, and the progress display stays readable.
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rl.experiment.config import ExperimentConfig, ExperimentError, parse_experiment
from rl.experiment.stages import (
    STATE_FILE,
    Context,
    Stage,
    fingerprints,
    outputs_present,
    plan_stages,
    read_state,
    run_stage,
    wipe_outputs,
    write_state,
)

# ------------------------------------------------------------------------- child processes

def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the runner dies, so no training outlives an interruption."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_main(job_path: str) -> None:
    """`python -m rl.experiment.runner JOB.json`: run one stage; write its outputs next to the job file."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    _die_with_parent()
    if os.getppid() != job["parent"]:  # the runner died before the line above took effect
        raise SystemExit("the experiment runner is gone; not starting the stage")
    cfg = parse_experiment(job["config"], "<stage job>")
    ctx = Context(cfg, job["outputs"])
    try:
        result = run_stage(job["stage"], ctx)
    finally:
        ctx.close()
    Path(job["result"]).write_text(json.dumps(result), encoding="utf-8")


def _tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _last_line(path: Path) -> str:
    lines = [ln for ln in _tail(path, 5).splitlines() if ln.strip()]
    return lines[-1][:100] if lines else ""


def _run_isolated(name: str, ctx: Context, on_tick: Callable[[str], None]) -> dict[str, Any]:
    """Run a stage in a fresh interpreter (not multiprocessing: no re-import of the caller's __main__)."""
    import subprocess
    import sys

    logs = ctx.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    safe = name.replace(":", "_")
    log_path, job_path, result_path = logs / f"{safe}.log", logs / f".{safe}.job.json", logs / f".{safe}.result.json"
    result_path.unlink(missing_ok=True)
    job_path.write_text(json.dumps({"stage": name, "config": asdict(ctx.cfg), "outputs": ctx.outputs,
                                    "result": str(result_path), "parent": os.getpid()}, default=str),
                        encoding="utf-8")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n===== {name} started {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n")
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "rl.experiment.runner", str(job_path)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            while proc.poll() is None:
                try:
                    proc.wait(0.5)
                except subprocess.TimeoutExpired:
                    pass
                on_tick(_last_line(log_path))
        except BaseException:  # KeyboardInterrupt / SystemExit: stop the child before leaving
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    if proc.returncode != 0 or not result_path.is_file():
        raise ExperimentError(f"stage {name} failed (exit code {proc.returncode}); log: {log_path}\n"
                              f"{_tail(log_path)}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result_path.unlink()
    job_path.unlink(missing_ok=True)
    return result


# ------------------------------------------------------------------------------------ runner

@dataclass
class StageEvent:
    """What the progress display is told: a stage started, ticked, finished or was skipped."""

    stage: Stage
    kind: str  # "skip" | "start" | "tick" | "done"
    detail: str = ""
    seconds: float = 0.0


def run_stages(cfg: ExperimentConfig, *, fresh: bool = False,
               on_event: Callable[[StageEvent], None] = lambda e: None) -> Path:
    """Run every stage that is not finished with the current configuration; return the report path."""
    out = cfg.out
    stages = plan_stages(cfg)
    if fresh:
        wipe_outputs(out, tuple(d for st in stages for d in st.output_dirs) + ("logs",))
        (out / STATE_FILE).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    fps = fingerprints(cfg, stages)
    state = read_state(out)
    state["stages"] = {k: v for k, v in state.get("stages", {}).items() if k in fps}
    ctx = Context(cfg, {})
    try:
        for st in stages:
            rec = state["stages"].get(st.name)
            if rec and rec.get("fingerprint") == fps[st.name] and outputs_present(rec):
                ctx.outputs[st.name] = rec["outputs"]
                on_event(StageEvent(st, "skip", seconds=rec.get("seconds", 0.0)))
                continue
            started = state.setdefault("started", {}).get(st.name)
            if rec or (started and started != fps[st.name]):
                wipe_outputs(out, st.output_dirs)  # inputs changed: stale checkpoints must not be resumed
            state["stages"].pop(st.name, None)
            state["started"][st.name] = fps[st.name]
            write_state(out, state)
            on_event(StageEvent(st, "start"))
            t0 = time.perf_counter()
            if st.isolated:
                result = _run_isolated(st.name, ctx, lambda line, st=st: on_event(StageEvent(st, "tick", line)))
            else:
                try:
                    result = run_stage(st.name, ctx)
                except ExperimentError:
                    raise
                except Exception as exc:
                    raise ExperimentError(f"stage {st.name} failed: {type(exc).__name__}: {exc}") from exc
            seconds = round(time.perf_counter() - t0, 3)
            ctx.outputs[st.name] = result
            state["stages"][st.name] = {"fingerprint": fps[st.name], "outputs": result, "seconds": seconds}
            write_state(out, state)
            on_event(StageEvent(st, "done", seconds=seconds))
    finally:
        ctx.close()
    return Path(ctx.outputs["report"]["report"])


def run_experiment(cfg: ExperimentConfig, *, fresh: bool = False, config_text: str | None = None) -> Path:
    """`run_stages` with a rich progress display (one row per stage, elapsed time, last log line)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        (cfg.out / "config.toml").write_text(config_text, encoding="utf-8")
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  TextColumn("[dim]{task.fields[detail]}"), console=console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def on_event(ev: StageEvent) -> None:
            name = ev.stage.name
            if ev.kind == "skip":
                progress.add_task(f"[green]✓[/] {name}: {ev.stage.title} [dim](done earlier)", total=1,
                                  completed=1, detail="", start=False)
            elif ev.kind == "start":
                tasks[name] = progress.add_task(f"{name}: {ev.stage.title}", total=1, detail="")
            elif ev.kind == "tick":
                progress.update(tasks[name], detail=ev.detail)
            elif ev.kind == "done":
                progress.update(tasks[name], completed=1, detail="",
                                description=f"[green]✓[/] {name}: {ev.stage.title}")
                progress.stop_task(tasks[name])

        report = run_stages(cfg, fresh=fresh, on_event=on_event)
    console.print(f"experiment {cfg.experiment.name} finished in {time.perf_counter() - t0:.1f}s: {report}")
    return report


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m rl.experiment.runner STAGE_JOB.json (internal: run by `cfcode experiment`)")
    _child_main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: vLLM / torch atexit hooks can hang on CPU
