"""``noisylab results list|show|export``: read the results store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from noisylab.sweep.store import DEFAULT_PATH

console = Console()
DEFAULT_STORE = DEFAULT_PATH

app = typer.Typer(
    name="results",
    help="Inspect and export the results store (runs and per-epoch metrics).",
    no_args_is_help=True,
)

_STORE = typer.Option(DEFAULT_STORE, "--store", help="Results store (SQLite).")


def _open(path: Path) -> Any:
    from noisylab.sweep import open_store

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"no results store at {str(path)!r}; run a study or sweep first, or pass --store"
        )
    return open_store(path)


def _plain(*objects: Any) -> None:
    """Print text as is: no markup (JSON has brackets), no highlighting, no wrapping."""
    console.print(*objects, highlight=False, markup=False, soft_wrap=True)


def _short(obj: Any, width: int = 60) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("list")
def list_(
    study: str = typer.Option(None, help="Only this study."),
    status: str = typer.Option(None, help="Only this status: pending, running, done, failed."),
    store: Path = _STORE,
) -> None:
    """List runs (oldest first) with their status, timing and config."""
    with _open(store) as db:
        runs = db.list_runs(study=study, status=status)
    if not runs:
        console.print("no runs match")
        return
    table = Table(title=f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {store}")
    table.add_column("id", no_wrap=True)
    table.add_column("study", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("config / error", overflow="fold")
    colours = {"done": "green", "failed": "red", "running": "yellow", "pending": "dim"}
    for r in runs:
        secs = f"{r['duration_s']:.2f}" if r["duration_s"] is not None else "—"
        detail = r["error"] if r["status"] == "failed" else _short(r["config"])
        status_text = Text(r["status"], style=colours[r["status"]])
        table.add_row(Text(r["id"]), Text(r["study"]), status_text, secs, Text(str(detail)))
    console.print(table)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    store: Path = _STORE,
    traceback: bool = typer.Option(False, help="Print a failed run's traceback."),
) -> None:
    """Show one run: config, status, timings, versions, result and a summary of its metrics."""
    import numpy as np

    with _open(store) as db:
        try:
            run = db.get(run_id)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        rows = db.metrics(run["id"])
    console.print(f"[bold]run {run['id']}[/bold]  study {run['study']}  status {run['status']}")
    dur = f"{run['duration_s']:.3f} s" if run["duration_s"] is not None else "—"
    console.print(f"started {run['started'] or '—'}  finished {run['finished'] or '—'}  ({dur})")
    _plain(f"host {run['host'] or '—'}  versions {_short(run['versions'] or {}, 200)}")
    _plain("config:", json.dumps(run["config"], indent=2, sort_keys=True))
    if run["error"]:
        console.print(Text("error: ", style="red") + Text(run["error"]), soft_wrap=True)
        if traceback and run["traceback"]:
            _plain(run["traceback"])
    result = run["result"]
    if isinstance(result, dict):
        scalars = {k: v for k, v in result.items() if k != "metrics"}
        _plain("result:", _short(scalars, 2000))
    if rows:
        by_name: dict[str, list[dict]] = {}
        for r in rows:
            by_name.setdefault(r["name"], []).append(r)
        table = Table(title=f"metrics ({len(rows)} rows)")
        for col in ("name", "rows", "members", "epochs", "last (mean)", "min", "max"):
            table.add_column(col, no_wrap=True)
        for name, rs in by_name.items():
            vals = np.array([r["value"] for r in rs if r["value"] is not None], dtype=float)
            epochs = [r["epoch"] for r in rs if r["epoch"] is not None]
            last_e = max(epochs) if epochs else None
            last = [r["value"] for r in rs if r["epoch"] == last_e and r["value"] is not None]
            members = {r["member"] for r in rs if r["member"] is not None}
            table.add_row(
                Text(name),
                str(len(rs)),
                str(len(members)),
                f"{min(epochs):g}–{max(epochs):g}" if epochs else "—",
                f"{np.mean(last):.4g}" if last else "—",
                f"{vals.min():.4g}" if vals.size else "—",
                f"{vals.max():.4g}" if vals.size else "—",
            )
        console.print(table)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Output file."),
    format: str = typer.Option(None, "--format", help="csv or parquet (default: from --out)."),
    table: str = typer.Option("runs", help="Table: runs or metrics."),
    study: str = typer.Option(None, help="Only this study."),
    store: Path = _STORE,
) -> None:
    """Export the runs or metrics table to CSV or Parquet."""
    with _open(store) as db:
        path = db.export(out, table=table, study=study, format=format)
        n = len(db.dataframe(table, study=study))
    console.print(f"wrote {n} {table} rows to {path}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="results")
