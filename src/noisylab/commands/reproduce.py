"""``noisylab reproduce`` (every study, then the report) and ``noisylab report`` (store only)."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import typer
from rich.console import Console

from noisylab.sweep.spec import DEFAULT_PRESET
from noisylab.sweep.store import DEFAULT_PATH

console = Console()
err = Console(stderr=True)
DEFAULT_STORE = DEFAULT_PATH


def reproduce(
    preset: str = typer.Option(
        DEFAULT_PRESET, help="Preset for every study: tiny, quick, extended or paper."
    ),
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
    from noisylab.studies.base import check_local_device

    names = list(only) or studies.available()
    configs = {}
    for n in names:  # validate every name, preset and override before any work
        config = studies.get(n).Config.preset(preset)
        configs[n] = studies.apply_sets(config, [f"device={device}"]) if device else config
    if device and executor == "local":
        check_local_device(device)
    jobs = jobs or (os.cpu_count() or 1)
    db = sweep.open_store(store)
    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    for i, name in enumerate(names, 1):
        mod, config = studies.get(name), configs[name]
        units = mod.units(config)
        console.rule(f"[bold][{i}/{len(names)}] {name}[/bold] ({preset}, {len(units)} runs)")
        t1 = time.perf_counter()
        command = f"noisylab run {name} --preset {shlex.quote(preset)}" + (
            f" --set device={shlex.quote(device)}" if device else ""
        )
        try:
            sweep.execute(mod, units, store=db, executor=executor, jobs=jobs, address=address)
        except sweep.SweepError as exc:  # the other studies still run; the report says so
            failed[name] = " ".join(str(exc).split())
            console.print(f"[red]{name}: {failed[name]}[/red]", highlight=False)
            continue
        report.record(
            store,
            name,
            preset,
            config.model_dump(mode="json"),
            sweep.run_ids(mod, units),
            command=command,
        )
        console.print(f"{name}: {len(units)} runs in {time.perf_counter() - t1:.0f} s")
    console.rule("[bold]report[/bold]")
    index = report.build(store, out)  # analyses each study once, from the store
    broken = _summary(out)
    console.print(f"report: {index.resolve()}  ({time.perf_counter() - t0:.0f} s in all)")
    _fail_if(failed, broken, out)


def report_(
    store: Path = typer.Option(DEFAULT_STORE, help="Results store (SQLite)."),
    out: Path = typer.Option(Path("report"), help="Report directory."),
) -> None:
    """Rebuild the report from the results store alone (no training)."""
    from noisylab import report

    index = report.build(store, out)
    broken = _summary(out)
    console.print(f"report: {index.resolve()}")
    _fail_if({}, broken, out)


def _summary(out: Path) -> dict[str, str]:
    """Print each study's claim count; return the studies whose analysis failed."""
    from noisylab.report import summary

    broken = {}
    for s in summary(out):
        if s["error"]:
            broken[s["study"]] = s["error"]
            console.print(
                f"  [red]{s['study']}: analysis failed: {s['error']}[/red]", highlight=False
            )
        else:
            console.print(f"  {s['study']}: {s['reproduced']}/{len(s['claims'])} claims reproduced")
    return broken


def _fail_if(runs_failed: dict[str, str], broken: dict[str, str], out: Path) -> None:
    """Exit with code 1 (the report is written) when runs or analyses failed."""
    msgs = []
    if runs_failed:
        msgs.append(f"runs failed in {', '.join(runs_failed)} (see `noisylab results list`)")
    if broken:
        msgs.append(f"the analysis failed for {', '.join(broken)} (see {out / 'index.html'})")
    if msgs:
        err.print(f"[red]error:[/red] {'; '.join(msgs)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
    app.command("report")(report_)
