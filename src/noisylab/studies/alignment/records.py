"""Typed records of the ``alignment`` study: the units it runs, their results, the sweeps.

A unit or result crosses the store as a JSON dict (``to_dict``); :func:`unit_from_dict` and
:func:`result_from_dict` parse one back and refuse missing or unknown keys. A stored float
that was not finite comes back as ``None`` (the store's convention), hence ``Metric``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, TypeVar

from noisylab.studies.common import check_keys

from .config import SETTINGS

#: a metric as stored: ``None`` where its value was not finite.
Metric = float | None
#: a point of the study's grid: (setting, noise level, training-set size n).
Key = tuple[str, float, int]
#: a point's metrics aggregated over seeds: ``cka``, ``cka_se``, …, ``seeds``, ``alpha``.
Point = dict[str, float]


@dataclass(frozen=True)
class LinearUnit:
    """A ``linear2`` ensemble on the linear teacher at target SNR ``level`` with ``n`` samples."""

    setting: str  # "linear"
    level: float  # SNR
    n: int
    seed: int
    d: int  # input dimension: the interpolation threshold is n = d
    width: int
    members: int
    probe: int  # probe inputs whose representations are compared
    max_steps: int
    weight_decay: float
    k: int  # mutual k-NN neighbourhood
    device: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MLPUnit:
    """An MLP ensemble on MNIST-1D: target SNR (regression) or flip rate η (classification)."""

    setting: str  # "mlp_regression" | "mlp_classification"
    level: float  # SNR or η
    n: int
    seed: int
    width: int
    members: int
    steps: int  # full-batch Adam steps
    lr: float
    k: int
    device: str
    dataset: str = "mnist1d"  # any classification dataset; images are flattened
    data_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for f in fields(self):  # left out at their defaults: earlier units keep their hash
            if f.default is not MISSING and out[f.name] == f.default:
                del out[f.name]
        return out


Unit = LinearUnit | MLPUnit


@dataclass(frozen=True)
class LinearResult:
    """What one linear unit measured (means over member pairs or members)."""

    setting: str
    level: float
    n: int
    seed: int
    alpha: float  # n / d
    cka: Metric
    cka_sd: Metric  # std of CKA over member pairs
    knn: Metric
    test_err: Metric  # relative excess risk ‖w − β‖² / ‖β‖²
    train_err: Metric
    theory: Metric  # large-d estimate cos²
    theory_finite: Metric  # finite-size estimate on this design
    threshold: float  # n = d
    steps: int
    converged: bool
    cpu_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MLPResult:
    """What one MLP unit measured."""

    setting: str
    level: float
    n: int
    seed: int
    alpha: float  # n / (parameters / outputs)
    cka: Metric
    cka_sd: Metric
    knn: Metric
    cca: Metric
    test_err: Metric  # 1 − accuracy (classification) or MSE (regression)
    train_err: Metric
    memorisation: Metric  # share of the noise fitted; None without noise
    threshold: float  # parameters / outputs
    diverged: int  # members whose training diverged
    cpu_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


UnitResult = LinearResult | MLPResult


R = TypeVar("R", LinearUnit, MLPUnit, LinearResult, MLPResult)


def _parse(cls: type[R], data: Mapping[str, Any], kind: str) -> R:
    names = [f.name for f in fields(cls)]
    required = [f.name for f in fields(cls) if f.default is MISSING]
    check_keys(kind, data, required=required, optional=names)
    return cls(**{k: data[k] for k in names if k in data})


def _kind(data: Any) -> type[LinearUnit] | type[MLPUnit]:
    if not isinstance(data, Mapping):
        raise TypeError(f"an alignment unit or result must be a dict, got {type(data).__name__}")
    setting = data.get("setting")
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; expected one of {SETTINGS}")
    return LinearUnit if setting == "linear" else MLPUnit


def unit_from_dict(data: dict[str, Any]) -> Unit:
    """Parse a unit dict (as :func:`noisylab.studies.alignment.units` makes them).

    >>> u = MLPUnit("mlp_regression", 2.0, 400, 0, 16, 8, 1000, 0.01, 10, "cpu")
    >>> unit_from_dict(u.to_dict()) == u
    True
    """
    if _kind(data) is LinearUnit:
        return _parse(LinearUnit, data, "alignment linear unit")
    return _parse(MLPUnit, data, f"alignment {data['setting']} unit")


def result_from_dict(data: dict[str, Any]) -> UnitResult:
    """Parse a stored result dict (as ``run_unit`` returns them)."""
    if _kind(data) is LinearUnit:
        return _parse(LinearResult, data, "alignment linear result")
    return _parse(MLPResult, data, f"alignment {data['setting']} result")


@dataclass(frozen=True)
class SnrSweep:
    """Alignment against the noise level at fixed n; ``x`` = SNR (or −η for label flips)."""

    name: str
    setting: str
    rows: list[tuple[Key, Point]]
    x: list[float]


@dataclass(frozen=True)
class NSweep:
    """Alignment against n at a fixed noise level, with the sweep's interpolation threshold."""

    name: str
    setting: str
    rows: list[tuple[Key, Point]]
    n: list[int]
    nominal: float  # linear: d; MLP: parameters / outputs
    empirical: (
        float | None
    )  # MLP: the capacity max_n n × memorisation (analyse.empirical_threshold)
    #: MLP: where memorisation falls through 50 % (the estimate before extended; ≈ 2 × capacity)
    memorisation_half: float | None = None

    @property
    def threshold(self) -> float:
        """The empirical threshold where there is one, else the nominal one."""
        return self.empirical if self.empirical is not None else self.nominal


def curve(
    agg: dict[Key, Point], setting: str, level: float | None = None, n: int | None = None
) -> list[tuple[Key, Point]]:
    """Points of one sweep: fixed ``level`` (sorted by n) or fixed ``n`` (sorted by level)."""
    rows = [
        (k, v)
        for k, v in agg.items()
        if k[0] == setting
        and (level is None or math.isclose(k[1], level))
        and (n is None or k[2] == n)
    ]
    return sorted(rows, key=lambda kv: kv[0][2] if level is not None else kv[0][1])
