"""The recipe of one ``noisylab train`` run: its config and the function that runs it.

:class:`TrainConfig` holds every option of a run, with the one set of defaults that the
``noisylab train`` command shows and the ``train`` study's presets start from;
:func:`train_ensemble` loads the data, corrupts one noise realisation per member, builds the
ensemble and fits it with :func:`noisylab.train.fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from noisylab.checks import check_device, check_int, check_registered


class TrainConfig(BaseModel):
    """Options of one training run (the names of ``noisylab train``'s options).

    Names (data, noise, loss, optimizer, model, schedule) are checked against their
    registries when the config is built, so a typo fails before anything runs. Member i
    uses seed ``seed + i`` for its noise, initialisation and minibatch order.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str = Field("digits", description="Dataset name (see `noisylab list datasets`).")
    data_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Dataset arguments, e.g. path=DIR for cifar10/npz/csv, human_labels=true.",
    )
    noise: str = Field(
        "none",
        description="Label noise KIND:RATE (e.g. symmetric:0.4) or a human kind "
        "(e.g. cifar10n:worse, with data_args human_labels=true).",
    )
    loss: str = Field("ce", description="Loss name (see `noisylab list losses`).")
    loss_params: dict[str, Any] = Field(default_factory=dict, description="Loss parameters.")
    optimizer: str = Field("adam", description="Optimiser name (see `noisylab list optimizers`).")
    optimizer_params: dict[str, Any] = Field(
        default_factory=dict, description="Optimiser parameters."
    )
    lr: float = Field(1e-3, description="Learning rate.")
    weight_decay: float = Field(0.0, description="Weight decay.")
    schedule: str = Field("cosine", description="LR schedule: constant, cosine, step, linear.")
    epochs: int = Field(30, description="Training epochs.")
    members: int = Field(8, description="Ensemble members (one noise realisation each).")
    model: str = Field("mlp", description="Model name (see `noisylab list models`).")
    width: int = Field(128, description="Hidden width (dense hidden layer for cnn2d).")
    depth: int = Field(2, description="Hidden layers (mlp).")
    batch_size: int = Field(128, description="Minibatch size; 0 trains full-batch.")
    clip_grad: float | None = Field(None, description="Per-member gradient-norm clip.")
    augment: str | None = Field(
        None, description="Training augmentation: crop-flip (random crop + flip, images)."
    )
    eval_every: int = Field(1, description="Evaluate every N epochs (and the last).")
    n_train: int | None = Field(None, description="Training subset size.")
    seed: int = Field(0, description="Seed: data split, member s+i's noise, init and order.")
    device: str = Field("cpu", description="Device, e.g. cpu or cuda.")

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
        from noisylab.train.schedules import SCHEDULES

        registries: dict[str, Registry[Any]] = {
            "data": data.DATASETS,
            "loss": losses.LOSSES,
            "optimizer": optim.OPTIMIZERS,
            "model": nn.MODELS,
            "schedule": SCHEDULES,
        }
        what = "dataset" if info.field_name == "data" else info.field_name
        return check_registered(what, v, registries[info.field_name])

    @field_validator("members", "epochs", "eval_every", "width")
    @classmethod
    def _positive(cls, v: int, info: Any) -> int:
        return check_int(info.field_name, v, 1)

    @field_validator("batch_size", "depth")
    @classmethod
    def _non_negative(cls, v: int, info: Any) -> int:
        return check_int(info.field_name, v, 0)

    @field_validator("augment")
    @classmethod
    def _augment(cls, v: str | None) -> str | None:
        from noisylab.data.augment import AUGMENTATIONS

        if v is None or v == "none":
            return None
        return check_registered("augmentation", v, AUGMENTATIONS)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        return check_device(v)

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of field ``name`` (what ``noisylab train`` shows for its option).

        Examples
        --------
        >>> TrainConfig.default("epochs"), TrainConfig.default("noise")
        (30, 'none')
        """
        field = cls.model_fields[name]
        return field.get_default(call_default_factory=True)

    @classmethod
    def help(cls, name: str) -> str:
        """The description of field ``name`` (the ``--help`` text of its CLI option)."""
        return cls.model_fields[name].description or ""


def model_kwargs(
    name: str, feature_shape: tuple[int, ...], outputs: int, width: int, depth: int
) -> dict[str, Any]:
    """Constructor arguments of model ``name`` for inputs of ``feature_shape``.

    ``width`` is the hidden width (the dense layer of ``cnn2d``); ``depth`` the number of
    hidden layers of ``mlp``. Models registered by other layers get ``in_features`` and
    ``out_features``.
    """
    n_in = math.prod(feature_shape) if feature_shape else 1
    if name in ("cnn8", "preact-resnet18", "resnet34"):
        if len(feature_shape) != 3 or feature_shape[1] != feature_shape[2]:
            raise ValueError(
                f"{name} needs square (C, H, W) images, the data has shape {feature_shape}"
            )
        c, h, _ = feature_shape
        return {"in_channels": c, "image_size": h, "out_features": outputs}
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
    cfg: TrainConfig, *, checkpoint: str | Path | None = None, progress: bool | None = False
) -> Trained:
    """Load the data, corrupt one noise realisation per member, build and fit the ensemble.

    Member i uses seed ``cfg.seed + i`` for its noise, initialisation and minibatch order.
    This is the one code path of ``noisylab train`` and of the ``train`` study's unit.
    """
    from noisylab import data as data_mod
    from noisylab import noise as noise_mod
    from noisylab.nn import build
    from noisylab.train import fit
    from noisylab.train.noisy_labels import member_noise

    kind, _rate = noise_mod.parse_spec(cfg.noise)
    ds = data_mod.load(cfg.data, seed=cfg.seed, n_train=cfg.n_train, **cfg.data_args)
    seeds = [cfg.seed + i for i in range(cfg.members)]
    labels = noisy_mask = None
    realized = np.zeros(cfg.members)
    if ds.task == "classification" and ds.num_classes is not None:
        features = ds.x_train.numpy() if kind == "instance" else None
        mn = member_noise(ds, cfg.noise, seeds, features=features)
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
        augment=cfg.augment,
        seed=seeds,
        eval_every=cfg.eval_every,
        noisy_mask=noisy_mask,
        device=cfg.device,
        progress=progress,
        checkpoint=checkpoint,
    )
    return Trained(data=ds, realized_rate=realized, history=hist)
