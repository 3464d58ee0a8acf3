"""``noisylab reproduce`` (every study, then the report) and ``noisylab report`` (store only)."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import typer
from rich.console import Console

console = Console()
DEFAULT_STORE = Path("results/noisylab.sqlite")


def reproduce(
    preset: str = typer.Option("quick", help="Preset for every study: tiny, quick or paper."),
    only: list[str] = typer.Option([], "--only", help="Run only these studies (repeatable)."),
    executor: str = typer.Option("local", help="Executor: local or ray."),
    jobs: int = typer.Option(0, help="Worker processes (0 = one per CPU core)."),
    address: str = typer.Option(None, help="Ray cluster address (default: start a local one)."),
    out: Path = typer.Option(Path("report"), help="Report directory."),
    store: Path = typer.Option(DEFAULT_STORE, help="Results store (SQLite)."),
    device: str = typer.Option(None, help="Device override for every study, e.g. cuda."),
) -> None:
    """Run every study (cached in the store) and write report/index.html and report/README.md."""
    from noisylab import report, studies, sweep
    from noisylab.studies import runner

    names = list(only) or studies.available()
    for n in names:
        studies.get(n)  # validates names before any work
    jobs = jobs or (os.cpu_count() or 1)
    db = sweep.open_store(store)
    t0 = time.perf_counter()
    for i, name in enumerate(names, 1):
        mod = studies.get(name)
        config = mod.Config.preset(preset)
        if device:
            config = studies.apply_sets(config, [f"device={device}"])
        units = mod.units(config)
        console.rule(f"[bold][{i}/{len(names)}] {name}[/bold] ({preset}, {len(units)} runs)")
        t1 = time.perf_counter()
        command = f"noisylab run {name} --preset {shlex.quote(preset)}" + (
            f" --set device={device}" if device else ""
        )
        runner.run(
            name,
            config,
            out / name,
            store=db,
            executor=executor,
            jobs=jobs,
            address=address,
            command=command,
        )
        report.record(
            store,
            name,
            preset,
            config.model_dump(mode="json"),
            [sweep.run_id(name, u) for u in units],
            command=command,
        )
        console.print(f"{name}: done in {time.perf_counter() - t1:.0f} s")
    index = report.build(store, out)
    _summary(out)
    console.print(f"report: {index.resolve()}  ({time.perf_counter() - t0:.0f} s in all)")


def report_(
    store: Path = typer.Option(DEFAULT_STORE, help="Results store (SQLite)."),
    out: Path = typer.Option(Path("report"), help="Report directory."),
) -> None:
    """Rebuild the report from the results store alone (no training)."""
    from noisylab import report

    index = report.build(store, out)
    _summary(out)
    console.print(f"report: {index.resolve()}")


def _summary(out: Path) -> None:
    from noisylab.studies.base import read_claims

    for claims_file in sorted(out.glob("*/claims.json")):
        claims = read_claims(claims_file)
        ok = sum(c.reproduced for c in claims)
        console.print(f"  {claims_file.parent.name}: {ok}/{len(claims)} claims reproduced")


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
    app.command("report")(report_)
