"""Identifiers, method specs and the validated :class:`Config` of the ``sharpness`` study."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from noisylab.checks import check_names
from noisylab.studies.base import StudyConfig
from noisylab.studies.common import (
    CIFAR_TRAIN,
    FORWARD_GFLOPS,
    check_models,
    expand_shorthands,
    gpu_hours,
    gpu_note,
)

NAME = "sharpness"
TITLE = "Sharpness-aware optimisers under label noise (SGD, SAM, ASAM, VaSSO)"
PAPER = (
    "Li & Giannakis: Enhancing Sharpness-Aware Optimization Through Variance Suppression "
    "(NeurIPS 2023; arXiv 2509.02433)"
)

#: per-epoch metrics kept in the store (``[member, epoch, name, value]`` rows).
STORED_METRICS = (
    "test/acc",
    "clean/acc",
    "noisy/acc_noisy",
    "train/loss",
    "dir/cos_consecutive",
    "dir/variance",
)
#: optimisers a method spec may name (``name`` or ``name:theta``).
METHODS = ("sgd", "sam", "asam", "vasso", "fsam")


def parse_method(spec: str) -> tuple[str, float | None]:
    """Split a method spec ``name`` or ``name:θ`` (θ only for vasso and fsam, in (0, 1]).

    >>> parse_method("vasso:0.4"), parse_method("sam")
    (('vasso', 0.4), ('sam', None))
    """
    name, _, theta = spec.partition(":")
    if name not in METHODS:
        raise ValueError(f"unknown method {spec!r}; use one of {', '.join(METHODS)} (vasso:θ)")
    if not theta:
        return name, None
    if name not in ("vasso", "fsam"):
        raise ValueError(f"only vasso and fsam take a θ (name:θ), got {spec!r}")
    try:
        t = float(theta)
    except ValueError:
        raise ValueError(f"θ in {spec!r} must be a number in (0, 1]") from None
    if not 0.0 < t <= 1.0:
        raise ValueError(f"θ in {spec!r} must lie in (0, 1], got {t}")
    return name, t


def _sizes(**sizes: int | None) -> dict[str, int | None]:
    return dict(sizes)


class Config(StudyConfig):
    """Settings of the ``sharpness`` study (see ``PRESETS`` for tiny / quick / paper)."""

    datasets: list[str] = Field(default_factory=lambda: ["mnist", "mnist1d"])
    n_train: dict[str, int | None] = Field(default_factory=lambda: _sizes(mnist=4000))
    n_test: dict[str, int | None] = Field(default_factory=lambda: _sizes(mnist=2000))
    models: dict[str, str] = Field(default_factory=lambda: {"mnist": "mlp", "mnist1d": "mlp"})
    epochs: dict[str, int] = Field(default_factory=lambda: {"mnist": 20, "mnist1d": 30})
    noise_rates: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])
    methods: list[str] = Field(
        default_factory=lambda: ["sgd", "sam", "asam", "vasso:0.9", "vasso:0.4"]
    )
    seeds: int = 3
    base: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    schedule: str = "cosine"
    rho: float = 0.1
    asam_rho: float = 1.0
    width: int = 128
    depth: int = 2
    eval_every: int = 2
    probe_batch: int = 512
    hessian_iters: int = 20
    m: int = 128
    m_batches: int = 8
    #: shorthands: ``dataset`` sets ``datasets=[dataset]``; ``model`` sets every dataset's model.
    dataset: str | None = None
    model: str | None = None
    #: passed as ``path=`` to file datasets (npz, csv, cifar10/100, mnist from idx files).
    data_dir: str | None = None
    augment: str | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "datasets": ["mnist"],
            "n_train": {"mnist": 1000},
            "n_test": {"mnist": 500},
            "epochs": {"mnist": 8},
            "noise_rates": [0.0, 0.5],
            "methods": ["sgd", "sam", "vasso:0.4"],
            "seeds": 2,
            "width": 64,
            "eval_every": 2,
            "probe_batch": 256,
            "hessian_iters": 10,
            "m_batches": 2,
        },
        "quick": {},
        # SAM / ASAM / VaSSO's CIFAR protocol (docs/cifar.md, VaSSO's official defaults).
        "paper": {
            "datasets": ["cifar10", "cifar100"],
            "n_train": {},
            "n_test": {},
            "models": {"cifar10": "preact-resnet18", "cifar100": "preact-resnet18"},
            "epochs": {"cifar10": 200, "cifar100": 200},
            "noise_rates": [0.0, 0.25, 0.5, 0.75],
            "methods": ["sgd", "sam", "asam", "vasso:0.9", "vasso:0.4"],
            "seeds": 3,
            "lr": 0.05,
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "batch_size": 128,
            "rho": 0.05,
            "asam_rho": 0.5,
            "augment": "crop-flip",
            "eval_every": 5,
            "probe_batch": 1024,
            "hessian_iters": 20,
            "m_batches": 32,
        },
    }

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        return expand_shorthands(data, default=["mnist", "mnist1d"])

    def notes(self) -> list[str]:
        """The expected GPU time when a dataset trains a CIFAR network (an estimate)."""
        hours = 0.0
        for ds in self.datasets:
            model = self.models.get(ds, "mlp")
            if model not in FORWARD_GFLOPS:
                continue
            n = self.n_train.get(ds) or CIFAR_TRAIN
            for spec in self.methods:
                passes = 1.0 if parse_method(spec)[0] == "sgd" else 2.0
                runs = len(self.noise_rates) * self.seeds
                hours += gpu_hours(model, n, self.epochs.get(ds, 20), runs, passes)
        return [gpu_note(hours)] if hours else []

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v: list[str]) -> list[str]:
        from noisylab.data import DATASETS

        return check_names("dataset", v, DATASETS)

    @field_validator("models")
    @classmethod
    def _models(cls, v: dict[str, str]) -> dict[str, str]:
        check_models(v)
        return v

    @field_validator("noise_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("noise_rates must hold at least one rate")
        for r in v:
            if not 0.0 <= r < 0.9:
                raise ValueError(
                    f"symmetric noise rate must lie in [0, 0.9) for 10 classes, got {r}"
                )
        return v

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("methods must name at least one method")
        for spec in v:
            parse_method(spec)
        if len(set(v)) != len(v):
            raise ValueError(f"methods has duplicates: {v}")
        return v

    @field_validator("base")
    @classmethod
    def _base(cls, v: str) -> str:
        from noisylab.optim import OPTIMIZERS

        OPTIMIZERS.get(v)
        if OPTIMIZERS.meta(v).get("two_pass"):
            raise ValueError(f"base must be a one-pass optimiser (sgd, adam, adamw), got {v!r}")
        return v

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"lr must be a positive number, got {v}")
        return v

    @field_validator("rho", "asam_rho", "weight_decay")
    @classmethod
    def _nonneg(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be a finite number >= 0, got {v}")
        return v

    @field_validator(
        "seeds",
        "batch_size",
        "width",
        "depth",
        "eval_every",
        "probe_batch",
        "hessian_iters",
        "m",
        "m_batches",
    )
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be an integer >= 1, got {v}")
        return v
