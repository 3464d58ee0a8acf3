"""``noisylab run STUDY``: run one study with a preset and ``--set`` overrides."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console

from noisylab.sweep.spec import DEFAULT_PRESET
from noisylab.sweep.store import DEFAULT_PATH

console = Console()


def run(
    study: str = typer.Argument(..., help="Study name (see `noisylab list studies`)."),
    preset: str = typer.Option(DEFAULT_PRESET, help="Preset: tiny, quick, extended or paper."),
    set_: list[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    out: Path = typer.Option(None, help="Output directory (default: runs/STUDY-PRESET)."),
    store: Path = typer.Option(DEFAULT_PATH, help="Results store (SQLite)."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not cache results."),
    executor: str = typer.Option("local", help="Executor: local or ray."),
    jobs: int = typer.Option(1, help="Parallel worker processes for the local executor."),
    address: str = typer.Option(None, help="Ray cluster address (default: start a local one)."),
    device: str = typer.Option(None, help="Device override, e.g. cuda."),
) -> None:
    """Run a study and write results.csv, table.md, figures/ and claims.json."""
    from noisylab import studies, sweep
    from noisylab.studies import runner
    from noisylab.studies.base import check_local_device

    mod = studies.get(study)  # also `train`: one plain training config
    sets = list(set_) + ([f"device={device}"] if device else [])
    config = studies.apply_sets(mod.Config.preset(preset), sets)
    if executor == "local":
        check_local_device(config.device)
    mod.units(config)  # plans the units: missing data files fail here, before any store
    for line in config.notes():
        console.print(line)
    out = out or Path("runs") / f"{study}-{preset}"
    db = None
    if not no_store:
        db = sweep.open_store(store)
    command = "noisylab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    claims = runner.run(
        study, config, out, store=db, executor=executor, jobs=jobs, address=address, command=command
    )
    for c in claims:
        mark = "[green]reproduced[/green]" if c.reproduced else "[red]not reproduced[/red]"
        console.print(f"{mark}  {c.id}: {c.statement}")
    console.print(f"outputs in {out}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
