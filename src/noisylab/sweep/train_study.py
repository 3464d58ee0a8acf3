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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from noisylab.studies.base import Claim, StudyConfig, markdown_table, mean_std, write_csv

NAME = "train"
TITLE = "Plain training runs"
PAPER = ""


class Config(StudyConfig):
    """Options of one training run (the names of ``noisylab train``'s options).

    Names (data, noise, loss, optimizer, model) are checked against their registries when
    the config is built, so a typo in a sweep file fails before anything runs.
    """

    data: str = "digits"
    noise: str = "symmetric:0.4"
    loss: str = "ce"
    loss_params: dict[str, Any] = Field(default_factory=dict)
    optimizer: str = "adam"
    optimizer_params: dict[str, Any] = Field(default_factory=dict)
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    epochs: int = 20
    members: int = 4
    model: str = "mlp"
    width: int = 128
    depth: int = 2
    batch_size: int = 128  # 0 = full batch
    clip_grad: float | None = None
    eval_every: int = 1
    n_train: int | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n_train": 300, "epochs": 3, "members": 2, "width": 32, "depth": 1, "lr": 0.01},
        "quick": {"epochs": 20, "members": 4},
        "paper": {"epochs": 100, "members": 8, "width": 256},
    }

    @field_validator("noise")
    @classmethod
    def _noise(cls, v: str) -> str:
        from noisylab.noise import parse_spec

        _kind, rate = parse_spec(v)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"noise rate must be in [0, 1), got {rate} in {v!r}")
        return v

    @field_validator("data", "loss", "optimizer", "model", "schedule")
    @classmethod
    def _registered(cls, v: str, info: Any) -> str:
        from noisylab import data, losses, nn, optim
        from noisylab.registry import Registry
        from noisylab.train import SCHEDULES

        registries: dict[str, Registry[Any]] = {
            "data": data.DATASETS,
            "loss": losses.LOSSES,
            "optimizer": optim.OPTIMIZERS,
            "model": nn.MODELS,
            "schedule": SCHEDULES,
        }
        registry = registries[info.field_name]
        if v not in registry:
            what = "dataset" if info.field_name == "data" else info.field_name
            raise ValueError(f"unknown {what} {v!r}; known: {', '.join(registry)}")
        return v

    @field_validator("members", "epochs", "eval_every", "width")
    @classmethod
    def _positive(cls, v: int, info: Any) -> int:
        if v < 1:
            raise ValueError(f"{info.field_name} must be >= 1, got {v}")
        return v

    @field_validator("batch_size", "depth")
    @classmethod
    def _non_negative(cls, v: int, info: Any) -> int:
        if v < 0:
            raise ValueError(f"{info.field_name} must be >= 0, got {v}")
        return v


def units(config: Config) -> list[dict[str, Any]]:
    """One unit: the run's options."""
    return [config.model_dump()]


def model_kwargs(
    name: str, feature_shape: tuple[int, ...], outputs: int, width: int, depth: int
) -> dict[str, Any]:
    """Constructor arguments of model ``name`` for inputs of ``feature_shape``.

    ``width`` is the hidden width (the dense layer of ``cnn2d``); ``depth`` the number of
    hidden layers of ``mlp``. Models registered by other layers get ``in_features`` and
    ``out_features``.
    """
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
        if len(feature_shape) != 1:
            raise ValueError(f"linear2 needs vector inputs, the data has shape {feature_shape}")
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


@dataclass
class Trained:
    """What :func:`train_ensemble` returns: the data, realised noise rates and history."""

    data: Any  # noisylab.data.Dataset
    realized_rate: np.ndarray  # (M,)
    history: Any  # noisylab.train.History


def train_ensemble(
    cfg: Config, *, checkpoint: str | Path | None = None, progress: bool | None = False
) -> Trained:
    """Load the data, corrupt one noise realisation per member, build and fit the ensemble.

    Member i uses seed ``cfg.seed + i`` for its noise, initialisation and minibatch order.
    This is the one code path of ``noisylab train`` and of the sweep unit.
    """
    from noisylab import data as data_mod
    from noisylab import noise as noise_mod
    from noisylab.nn import build
    from noisylab.train import fit

    kind, rate = noise_mod.parse_spec(cfg.noise)
    ds = data_mod.load(cfg.data, seed=cfg.seed, n_train=cfg.n_train)
    seeds = [cfg.seed + i for i in range(cfg.members)]
    labels = noisy_mask = None
    realized = np.zeros(cfg.members)
    if ds.task == "classification" and ds.num_classes is not None:
        features = ds.x_train.numpy() if kind == "instance" else None
        mn = noise_mod.corrupt_members(
            ds.y_train.numpy(), ds.num_classes, kind, rate, seeds, features=features
        )
        labels, noisy_mask = mn.labels, mn.is_noisy
        realized = np.asarray(mn.realized_rate, dtype=float)
    elif kind != "none":
        raise ValueError(
            f"noise {cfg.noise!r} needs a classification dataset; {cfg.data!r} is a "
            "regression dataset (use noise none)"
        )
    model = build(
        cfg.model,
        members=cfg.members,
        seed=seeds,
        **model_kwargs(cfg.model, tuple(ds.feature_shape), ds.num_outputs, cfg.width, cfg.depth),
    )
    hist = fit(
        model,
        ds,
        labels,
        loss=cfg.loss if ds.task == "classification" or cfg.loss != "ce" else None,
        loss_params=cfg.loss_params,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        optimizer_params=cfg.optimizer_params,
        schedule=cfg.schedule,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size or None,
        clip_grad=cfg.clip_grad,
        seed=seeds,
        eval_every=cfg.eval_every,
        noisy_mask=noisy_mask,
        device=cfg.device,
        progress=progress,
        checkpoint=checkpoint,
    )
    return Trained(data=ds, realized_rate=realized, history=hist)


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one ensemble; return per-member summaries and per-epoch metric rows."""
    import warnings

    from noisylab.train import DivergenceWarning

    cfg = Config(**unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # recorded in "diverged"
        t = train_ensemble(cfg)
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
                f"best {tag} {mean_std(best)}",
                f"last {tag} {mean_std(last)}",
            ]
        )
    write_csv(out / "results.csv", rows)
    header = ["data", "noise", "loss", "optimizer", "lr", "epochs", "members", "best", "last"]
    (out / "table.md").write_text(markdown_table(header, table))
    return []
