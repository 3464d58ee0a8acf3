"""The ``train`` study: one unit is one plain ``noisylab train`` run (for sweeps).

It lets a sweep file grid over training options::

    study: train
    preset: quick
    set: {data: digits, noise: "symmetric:0.4"}
    grid:
      loss: [ce, gce, mae]
      lr: [0.01, 0.001]

Each unit runs the training recipe (:mod:`noisylab.train.recipe`: an ``M``-member ensemble,
member i's noise realisation, initialisation and minibatch order from ``seed + i``, as
``noisylab train`` does) and returns per-member best/last test accuracy (test MSE for
regression data) with every per-epoch metric as ``[member, epoch, name, value]`` rows, which
the results store keeps queryable. ``analyse`` writes ``results.csv`` (one row per member)
and ``table.md``; there are no paper claims to check. The study is registered unlisted: it
runs by name (``noisylab run train``, ``noisylab sweep``) but not in ``noisylab reproduce``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from noisylab.train import recipe
from noisylab.train.recipe import TrainConfig

from .base import Claim, StudyConfig, markdown_table, write_csv
from .common import mean_std_cell

NAME = "train"
TITLE = "Plain training runs"
PAPER = ""
#: the recipe is this study's code too: a change there gives new run ids
SOURCES = ("noisylab.train.recipe",)


class Config(StudyConfig, TrainConfig):
    """The recipe's options (:class:`noisylab.train.recipe.TrainConfig`) with presets."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "noise": "symmetric:0.4",
            "n_train": 300,
            "epochs": 3,
            "members": 2,
            "width": 32,
            "depth": 1,
            "lr": 0.01,
        },
        "quick": {"noise": "symmetric:0.4", "epochs": 20, "members": 4},
        "paper": {"noise": "symmetric:0.4", "epochs": 100, "members": 8, "width": 256},
    }


def units(config: Config) -> list[dict[str, Any]]:
    """One unit: the run's options."""
    return [config.model_dump()]


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one ensemble; return per-member summaries and per-epoch metric rows."""
    import warnings

    from noisylab.train import DivergenceWarning

    cfg = Config(**unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # recorded in "diverged"
        t = recipe.train_ensemble(cfg)
    hist, task = t.history, t.data.task
    metric, mode, tag = (
        ("test/acc", "max", "acc") if task == "classification" else ("test/mse", "min", "mse")
    )
    rows = []
    for name in sorted(hist.metrics):
        values = hist.metrics[name]  # (M, n_evals)
        for m in range(hist.members):
            for j, epoch in enumerate(hist.epochs):
                if not math.isnan(values[m, j]):  # missing: diverged member, empty subset
                    rows.append([m, int(epoch), name, float(values[m, j])])
    return {
        "task": task,
        "realized_rate": [float(r) for r in t.realized_rate],
        f"best_test_{tag}": [float(v) for v in hist.best(metric, mode)],
        f"last_test_{tag}": [float(v) for v in hist.last(metric)],
        "diverged": {str(m): int(ep) for m, (ep, _) in hist.diverged.items()},
        "metrics": rows,
    }


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    """Write ``results.csv`` (one row per member) and ``table.md`` (mean ± std)."""
    out = Path(out)
    rows = []
    table = []
    for r in results:
        tag = "acc" if r["task"] == "classification" else "mse"
        best, last = r[f"best_test_{tag}"], r[f"last_test_{tag}"]
        for m, (b, la) in enumerate(zip(best, last, strict=True)):
            rows.append(
                {
                    "member": m,
                    "seed": config.seed + m,
                    "realized_rate": r["realized_rate"][m],
                    f"best_test_{tag}": b,
                    f"last_test_{tag}": la,
                    "diverged_epoch": r["diverged"].get(str(m), ""),
                }
            )
        table.append(
            [
                config.data,
                config.noise,
                config.loss,
                config.optimizer,
                config.lr,
                config.epochs,
                len(best),
                f"best {tag} {mean_std_cell(best, scale=1.0, digits=2)}",
                f"last {tag} {mean_std_cell(last, scale=1.0, digits=2)}",
            ]
        )
    write_csv(out / "results.csv", rows)
    header = ["data", "noise", "loss", "optimizer", "lr", "epochs", "members", "best", "last"]
    (out / "table.md").write_text(markdown_table(header, table))
    return []
