"""``noisylab train``: train an ensemble on a dataset with label noise and report accuracy.

Each member gets its own noise realisation (seed + member), its own initialisation and its
own minibatch order; the table shows per-member best/last clean test accuracy, the realised
noise rate, and mean ± std over members.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from noisylab.train.recipe import TrainConfig, model_kwargs

__all__ = ["model_kwargs", "parse_params", "parse_value", "train"]

console = Console()


def parse_value(raw: str) -> Any:
    """``'0.7'`` → 0.7, ``'3'`` → 3, ``'true'`` → True, ``'[0.9, 0.99]'`` → list, else the string."""
    low = raw.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        pass
    if raw.strip().startswith("["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            pass
    return raw


def parse_params(items: list[str], option: str) -> dict[str, Any]:
    """Turn ``['q=0.7', 'k=2']`` into ``{'q': 0.7, 'k': 2}``; malformed items raise ValueError."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(raw)
    return out


def _fmt(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.4f}"


def _mean_std(v: np.ndarray) -> str:
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "—"
    return f"{v.mean():.4f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.4f}"


def _opt(name: str, *flags: str) -> Any:
    """A typer option whose default and help are the recipe config's (stated once there)."""
    return typer.Option(TrainConfig.default(name), *flags, help=TrainConfig.help(name))


def train(
    data: str = typer.Option(..., "--data", help=TrainConfig.help("data")),
    data_arg: list[str] = typer.Option([], "--data-arg", help=TrainConfig.help("data_args")),
    noise: str = _opt("noise"),
    loss: str = _opt("loss"),
    optimizer: str = _opt("optimizer"),
    epochs: int = _opt("epochs"),
    members: int = _opt("members"),
    model: str = _opt("model"),
    width: int = _opt("width"),
    depth: int = _opt("depth"),
    lr: float = _opt("lr"),
    batch_size: int = _opt("batch_size"),
    weight_decay: float = _opt("weight_decay"),
    schedule: str = _opt("schedule"),
    loss_param: list[str] = typer.Option([], "--loss-param", help="Loss parameter KEY=VALUE."),
    opt_param: list[str] = typer.Option([], "--opt-param", help="Optimiser parameter KEY=VALUE."),
    rho: float = typer.Option(None, help="SAM-type perturbation radius (forwarded if given)."),
    theta: float = typer.Option(None, help="VaSSO averaging θ (forwarded if given)."),
    clip_grad: float = _opt("clip_grad"),
    augment: str = _opt("augment"),
    n_train: int = _opt("n_train"),
    eval_every: int = _opt("eval_every"),
    seed: int = _opt("seed"),
    device: str = _opt("device"),
    checkpoint: Path = typer.Option(None, help="Checkpoint file: save and resume the run."),
    save_history: Path = typer.Option(None, help="Write the training history as JSON here."),
) -> None:
    """Train an ensemble under label noise; print per-member best/last clean test accuracy.

    One run of the recipe :mod:`noisylab.train.recipe`, whose config states every default;
    the ``train`` study (``noisylab sweep``) grids over the same options.
    """
    from noisylab.train import DivergenceWarning, recipe

    # the config checks every name and bound (stated once, in the recipe) before data loads
    data_args = parse_params(data_arg, "--data-arg")
    loss_params = parse_params(loss_param, "--loss-param")
    opt_params = parse_params(opt_param, "--opt-param")
    noise_spec = noise.strip()
    if rho is not None:
        opt_params["rho"] = rho
    if theta is not None:
        opt_params["theta"] = theta
    cfg = TrainConfig(
        data=data,
        data_args=data_args,
        noise=noise_spec,
        loss=loss,
        loss_params=loss_params,
        optimizer=optimizer,
        optimizer_params=opt_params,
        lr=lr,
        weight_decay=weight_decay,
        schedule=schedule,
        epochs=epochs,
        members=members,
        model=model,
        width=width,
        depth=depth,
        batch_size=batch_size,
        clip_grad=clip_grad,
        augment=augment,
        eval_every=eval_every,
        n_train=n_train,
        seed=seed,
        device=device,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # printed below, one line each
        trained = recipe.train_ensemble(cfg, checkpoint=checkpoint, progress=None)
    ds, hist, realised = trained.data, trained.history, trained.realized_rate
    for msg in hist.warnings:
        console.print(f"[yellow]warning:[/yellow] {msg}", highlight=False)
    metric = "test/acc" if ds.task == "classification" else "test/mse"
    mode = "max" if ds.task == "classification" else "min"
    best, last = hist.best(metric, mode), hist.last(metric)
    label = "acc" if ds.task == "classification" else "MSE"
    table = Table(title=f"{data} · {noise_spec} · {loss} · {optimizer} · {model} · {epochs} epochs")
    for col in ("member", "realised noise", f"best test {label}", f"last test {label}", "note"):
        table.add_column(col, justify="right" if col != "note" else "left")
    for i in range(members):
        note = ""
        if i in hist.diverged:
            ep, val = hist.diverged[i]
            note = f"diverged at epoch {ep} (loss={val})"
        table.add_row(str(i), f"{realised[i]:.3f}", _fmt(best[i]), _fmt(last[i]), note)
    table.add_section()
    table.add_row(
        "mean ± std",
        f"{realised.mean():.3f}",
        _mean_std(best),
        _mean_std(last),
        "",
    )
    console.print(table)
    if save_history is not None:
        save_history.parent.mkdir(parents=True, exist_ok=True)
        save_history.write_text(json.dumps(hist.to_dict(), indent=1))
        console.print(f"history written to {save_history}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
