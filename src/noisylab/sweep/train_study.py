"""The pseudo-study ``train``: one unit is one plain ``noisylab train`` run.

It lets a sweep file grid over training options::

    study: train
    preset: quick
    set: {data: digits, noise: "symmetric:0.4"}
    grid:
      loss: [ce, gce, mae]
      lr: [0.01, 0.001]

Each unit builds an ``M``-member ensemble (member i: noise realisation, initialisation and
minibatch order from ``seed + i``, as ``noisylab train`` does), trains it with
:func:`noisylab.train.fit` and returns per-member best/last test accuracy (test MSE for
regression data) with every per-epoch metric as ``[member, epoch, name, value]`` rows, which
the results store keeps queryable. ``analyse`` writes ``results.csv`` (one row per member)
and ``table.md``; there are no paper claims to check.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from noisylab.studies.base import Claim, StudyConfig, markdown_table, mean_std, write_csv

NAME = "train"
TITLE = "Plain training runs"
PAPER = ""


class Config(StudyConfig):
    """Options of one training run (the names of ``noisylab train``'s options)."""

    data: str = "digits"
    noise: str = "symmetric:0.4"
    loss: str = "ce"
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 20
    members: int = 4
    model: str = "mlp"
    width: int = 128
    depth: int = 2
    batch_size: int = 128  # 0 = full batch
    n_train: int | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n_train": 300, "epochs": 3, "members": 2, "width": 32, "depth": 1, "lr": 0.01},
        "quick": {"epochs": 20, "members": 4},
        "paper": {"epochs": 100, "members": 8, "width": 256},
    }


def units(config: Config) -> list[dict[str, Any]]:
    """One unit: the run's options."""
    return [config.model_dump()]


def _model_kwargs(
    name: str, feature_shape: tuple[int, ...], outputs: int, width: int, depth: int
) -> dict[str, Any]:
    """Constructor arguments of model ``name`` for inputs of ``feature_shape``."""
    n_in = math.prod(feature_shape) if feature_shape else 1
    if name == "mlp":
        return {
            "in_features": n_in,
            "out_features": outputs,
            "width": width,
            "depth": depth,
            "input_shape": feature_shape,
        }
    if name == "linear2":
        return {"in_features": n_in, "out_features": outputs, "width": width}
    if name == "cnn1d":
        if len(feature_shape) == 1:
            return {"length": feature_shape[0], "out_features": outputs}
        if len(feature_shape) == 2:
            c, length = feature_shape
            return {"in_channels": c, "length": length, "out_features": outputs}
        raise ValueError(f"cnn1d needs (L,) or (C, L) inputs, the data has shape {feature_shape}")
    if name == "cnn2d":
        if len(feature_shape) == 3:
            c, h, w = feature_shape
            return {
                "in_channels": c,
                "image_size": (h, w),
                "out_features": outputs,
                "hidden": width,
            }
        side = math.isqrt(n_in)
        if len(feature_shape) == 2 or side * side == n_in:
            size = tuple(feature_shape) if len(feature_shape) == 2 else side
            return {"in_channels": 1, "image_size": size, "out_features": outputs, "hidden": width}
        raise ValueError(f"cnn2d needs image inputs, the data has shape {feature_shape}")
    return {"in_features": n_in, "out_features": outputs}


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one ensemble; return per-member summaries and per-epoch metric rows."""
    import numpy as np

    from noisylab import data as data_mod
    from noisylab import noise as noise_mod
    from noisylab.nn import build
    from noisylab.train import fit

    cfg = Config(**unit)
    kind, rate = noise_mod.parse_spec(cfg.noise)
    ds = data_mod.load(cfg.data, seed=cfg.seed, n_train=cfg.n_train)
    seeds = [cfg.seed + i for i in range(cfg.members)]
    labels = noisy_mask = None
    realized = [0.0] * cfg.members
    if ds.task == "classification" and ds.num_classes is not None:
        features = ds.x_train.numpy() if kind == "instance" else None
        mn = noise_mod.corrupt_members(
            ds.y_train.numpy(), ds.num_classes, kind, rate, seeds, features=features
        )
        labels, noisy_mask = mn.labels, mn.is_noisy
        realized = [float(r) for r in np.asarray(mn.realized_rate)]
    elif kind != "none":
        raise ValueError(
            f"noise {cfg.noise!r} needs a classification dataset; {cfg.data!r} is regression "
            "(use noise: none)"
        )
    model = build(
        cfg.model,
        members=cfg.members,
        seed=seeds,
        **_model_kwargs(cfg.model, tuple(ds.feature_shape), ds.num_outputs, cfg.width, cfg.depth),
    )
    hist = fit(
        model,
        ds,
        labels,
        loss=cfg.loss if ds.task == "classification" or cfg.loss != "ce" else None,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size or None,
        seed=seeds,
        noisy_mask=noisy_mask,
        device=cfg.device,
    )
    metric, mode, tag = (
        ("test/acc", "max", "acc") if ds.task == "classification" else ("test/mse", "min", "mse")
    )
    rows = []
    for name in sorted(hist.metrics):
        values = hist.metrics[name]  # (M, n_evals)
        for m in range(hist.members):
            for j, epoch in enumerate(hist.epochs):
                if not math.isnan(values[m, j]):  # missing: diverged member, empty subset
                    rows.append([m, int(epoch), name, float(values[m, j])])
    return {
        "task": ds.task,
        "realized_rate": realized,
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
                f"best {tag} {mean_std(best)}",
                f"last {tag} {mean_std(last)}",
            ]
        )
    write_csv(out / "results.csv", rows)
    header = ["data", "noise", "loss", "optimizer", "lr", "epochs", "members", "best", "last"]
    (out / "table.md").write_text(markdown_table(header, table))
    return []
