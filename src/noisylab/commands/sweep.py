"""``noisylab sweep CONFIG.yaml``: a grid of study configs, cached in the results store."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from noisylab.sweep.store import DEFAULT_PATH

console = Console()
err_console = Console(stderr=True)


def sweep(
    config: Path = typer.Argument(..., help="Sweep YAML: study, preset, set, grid, zip."),
    executor: str = typer.Option("local", help="Executor: local or ray."),
    jobs: int = typer.Option(1, help="Parallel workers (processes or Ray CPUs); 0 = one per core."),
    address: str = typer.Option(None, help="Ray cluster address (default: start a local one)."),
    store: Path = typer.Option(DEFAULT_PATH, help="Results store (SQLite)."),
    out: Path = typer.Option(None, help="Output directory (default: runs/sweep-<file stem>)."),
    progress: bool = typer.Option(True, help="Show a progress bar on a terminal."),
) -> None:
    """Run every grid point of a sweep file and analyse each into OUT/<point>/.

    Finished units are read from the store, so rerunning a killed sweep resumes it.
    """
    from noisylab.checks import check_int
    from noisylab.studies.runner import plan, run_sweep
    from noisylab.sweep import SweepError, open_store
    from noisylab.sweep.executors import EXECUTORS
    from noisylab.sweep.spec import load_spec

    check_int("--jobs (0 = one per CPU core)", jobs, 0)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    jobs = jobs or (os.cpu_count() or 1)
    spec = load_spec(config)
    points = plan(spec)  # every grid point validated before the store is created
    out = out or Path("runs") / f"sweep-{config.stem}"
    db = open_store(store)
    command = "noisylab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = run_sweep(
            spec,
            out,
            store=db,
            executor=executor,
            jobs=jobs,
            address=address,
            progress=progress,
            command=command,
            points=points,
        )
    except SweepError as exc:
        hint = f" (see `noisylab results list --status failed --store {store}`)"
        err_console.print(
            Text("error: ", style="red") + Text(" ".join(str(exc).split()) + hint),
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    finally:
        db.close()
    table = Table(title=f"sweep {spec.study} ({spec.preset}): {len(summary)} points")
    table.add_column("point", no_wrap=True)
    table.add_column("units", justify="right")
    table.add_column("claims reproduced")
    for p in summary:
        claims = p["claims"]
        ok = sum(bool(v) for v in claims.values())
        table.add_row(Text(p["slug"]), str(p["units"]), f"{ok}/{len(claims)}" if claims else "—")
    console.print(table)
    console.print(f"outputs in {out}")


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
