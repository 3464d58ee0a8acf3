"""``noisylab reproduce`` (every study, then the report) and ``noisylab report`` (store only)."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import typer
from rich.console import Console

from noisylab.sweep.spec import DEFAULT_PRESET
from noisylab.sweep.store import DEFAULT_PATH, ResultsStore

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
    plan = [(studies.get(n), studies.get(n).units(configs[n])) for n in names]
    for i, (name, (_mod, units)) in enumerate(zip(names, plan, strict=True), 1):
        console.print(f"[bold][{i}/{len(names)}] {name}[/bold] ({preset}, {len(units)} runs)")
    console.rule(f"[bold]running[/bold] ({jobs} workers, studies back to back)")

    def done(i: int, outcome: list | sweep.SweepError) -> None:
        name, (mod, units) = names[i], plan[i]
        if isinstance(outcome, sweep.SweepError):  # the other studies still run; report says so
            failed[name] = " ".join(str(outcome).split())
            console.print(f"[red]{name}: {failed[name]}[/red]", highlight=False)
            return
        command = f"noisylab run {name} --preset {shlex.quote(preset)}" + (
            f" --set device={shlex.quote(device)}" if device else ""
        )
        report.record(
            store,
            name,
            preset,
            configs[name].model_dump(mode="json"),
            sweep.run_ids(mod, units),
            command=command,
        )
        compute = _compute_s(db, name, sweep.run_ids(mod, units))
        console.print(
            f"{name}: {len(units)} runs done {time.perf_counter() - t0:.0f} s after the start "
            f"({compute:.0f} unit-s)"
        )

    sweep.execute_many(
        plan,
        store=db,
        executor=executor,
        jobs=jobs,
        address=address,
        on_done=done,
        few_units_first=True,
    )
    console.rule("[bold]report[/bold]")
    index = report.build(store, out)  # analyses each study once, from the store
    broken = _summary(out)
    console.print(f"report: {index.resolve()}  ({time.perf_counter() - t0:.0f} s in all)")
    _fail_if(failed, broken, out)


def _compute_s(db: ResultsStore, study: str, run_ids: list[str]) -> float:
    """The stored durations of ``run_ids`` summed (the study's compute, in unit-seconds)."""
    wanted = set(run_ids)
    rows = db.list_runs(study=study, status="done")
    return sum(float(r.get("duration_s") or 0.0) for r in rows if r["id"] in wanted)


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
