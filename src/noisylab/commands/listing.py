"""``noisylab list WHAT``: the registries (datasets, noise, losses, optimizers, models, studies)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()
WHATS = ["datasets", "noise", "losses", "optimizers", "models", "studies"]


def _table(title: str, cols: list[str], rows: list[list[str]]) -> None:
    t = Table(title=title)
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    console.print(t)


def list_(what: str = typer.Argument(..., help=f"One of: {', '.join(WHATS)}.")) -> None:
    """List what a registry holds, with parameters and defaults."""
    if what == "datasets":
        from noisylab.data import DATASETS

        rows = [[n, DATASETS.meta(n).get("doc", "")] for n in DATASETS]
        _table("datasets", ["name", "description"], rows)
    elif what == "noise":
        from noisylab.noise import ALL_NOISE_KINDS

        _table(
            "noise kinds",
            ["kind", "description"],
            [[k, d] for k, d in ALL_NOISE_KINDS.items()],
        )
    elif what == "losses":
        from noisylab.losses import LOSSES

        rows = []
        for n in LOSSES:
            m = LOSSES.meta(n)
            params = ", ".join(f"{k}={v}" for k, v in m.get("params", {}).items())
            presets = ", ".join(m.get("presets", {}))
            rows.append([n, params, "yes" if m.get("symmetric") else "no", presets])
        _table("losses", ["name", "parameters (defaults)", "symmetric", "presets"], rows)
    elif what == "optimizers":
        from noisylab.optim import OPTIMIZERS

        rows = []
        for n in OPTIMIZERS:
            m = OPTIMIZERS.meta(n)
            rows.append([n, ", ".join(f"{k}={v}" for k, v in m.get("params", {}).items())])
        _table("optimizers", ["name", "parameters (defaults)"], rows)
    elif what == "models":
        from noisylab.nn import MODELS

        rows = [[n, MODELS.meta(n).get("doc", "")] for n in MODELS]
        _table("models", ["name", "description"], rows)
    elif what == "studies":
        from noisylab import studies

        rows = []
        for n in studies.available():
            mod = studies.get(n)
            rows.append([n, getattr(mod, "TITLE", ""), ", ".join(mod.Config.PRESETS)])
        _table("studies", ["name", "paper", "presets"], rows)
    else:
        raise ValueError(f"unknown list {what!r}; expected one of: {', '.join(WHATS)}")


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
