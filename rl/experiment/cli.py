"""`cfcode experiment CONFIG.toml`."""
from __future__ import annotations

from pathlib import Path

import typer

from generators import InputError, check_output_dir, cli_errors, fail
from rl.experiment.config import ExperimentError, load_experiment
from rl.experiment.runner import run_experiment
from rl.experiment.stages import STATE_FILE


def _check_experiment_dir(out: Path, field: str) -> None:
    """The run writes (and --fresh or a changed stage wipes) data/, models/, eval/, logs/ ... under `out`: an
    existing folder holding other things (`--out ~`) lost them. Only a new or empty folder, or an earlier
    experiment's (it holds state.json), is used."""
    if not out.is_dir() or (out / STATE_FILE).is_file():
        return
    names = sorted(p.name for p in out.iterdir())
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(f"expected a new or empty directory, or an earlier experiment's (holding {STATE_FILE}), "
                         f"got {out} holding other files ({shown})", field=field)


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    @cli_errors()
    def experiment_cmd(
        config: Path = typer.Argument(..., help="Experiment TOML, e.g. configs/experiments/quickstart.toml."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Report directory (default: from config)."),
        fresh: bool = typer.Option(False, help="Ignore finished stages and start over."),
    ) -> None:
        """generate -> (tiny model) -> SFT -> GRPO -> eval -> compare -> traces, resumable, one report dir."""
        try:
            cfg = load_experiment(config)
            if out is not None:
                cfg.experiment.out_dir = str(out)
            field = "--out" if out is not None else f"{config}: [experiment] out_dir"
            check_output_dir(cfg.experiment.out_dir, field)
            _check_experiment_dir(Path(cfg.experiment.out_dir), field)
        except (ValueError, FileNotFoundError) as exc:
            fail(str(exc))
        try:
            report = run_experiment(cfg, fresh=fresh, config_text=config.read_text(encoding="utf-8"))
        except ExperimentError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            typer.secho("interrupted: run the same command again to resume from the last finished stage",
                        fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(130)
        typer.echo(f"report: {report}")
