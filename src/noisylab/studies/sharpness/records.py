"""Typed records of the ``sharpness`` study: a unit (one dataset × method) and its result.

The store keeps JSON dicts; these frozen dataclasses are their typed view.
``Unit.from_dict(u).to_dict() == u`` and likewise for :class:`UnitResult`, so a record never
changes what is hashed or stored. Non-finite numbers are ``None`` (the store's JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from noisylab.studies.common import check_keys

#: optional unit keys and their defaults (absent from a unit dict when at the default).
UNIT_DEFAULTS: dict[str, Any] = {"data_dir": None, "augment": None, "val_frac": 0.0}


@dataclass(frozen=True)
class Unit:
    """One training run: ``method`` on every (noise rate, seed) of ``dataset``, stacked."""

    dataset: str
    method: str  # spec as configured, e.g. "vasso:0.4"
    optimizer: str  # registry name, e.g. "vasso"
    optimizer_params: dict[str, Any]
    model: str
    n_train: int | None
    n_test: int | None
    epochs: int
    rates: list[float]
    seeds: int
    seed: int
    device: str
    lr: float
    weight_decay: float
    batch_size: int
    schedule: str
    eval_every: int
    width: int
    depth: int
    rho_probe: float  # ρ of the m-sharpness probe
    probe_batch: int
    hessian_iters: int
    m: int
    m_batches: int
    # optional: left out of the dict at their defaults, so earlier units keep their hash
    data_dir: str | None = None
    augment: str | None = None
    val_frac: float = 0.0  # fraction of the training set held out (noisy labels) to choose ρ

    def to_dict(self) -> dict[str, Any]:
        """The unit as the store's JSON dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["optimizer_params"] = dict(self.optimizer_params)
        out["rates"] = list(self.rates)
        for key, default in UNIT_DEFAULTS.items():
            if out[key] == default:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unit:
        """Parse a unit dict; ``ValueError`` names missing or unknown keys."""
        required = [f.name for f in fields(cls) if f.name not in UNIT_DEFAULTS]
        check_keys("sharpness unit", data, required, UNIT_DEFAULTS)
        return cls(**data)


@dataclass(frozen=True)
class Member:
    """One stacked member's summary: noise rate η, seed s, accuracies, sharpness, directions."""

    noise: float
    seed: int
    realized_rate: float | None
    best_test_acc: float | None
    last_test_acc: float | None
    best_epoch: int | None
    memorised_last: float | None  # None at η = 0 (no noisy sample)
    clean_train_acc_last: float | None
    hessian_top: float | None
    m_sharpness: float | None
    dir_cos: float | None  # None for SGD (no perturbation)
    dir_variance: float | None
    diverged_epoch: int | None
    #: last-epoch accuracy on the noisy validation split (absent without one)
    val_last_acc: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["val_last_acc"] is None:  # results without a validation split keep their form
            del out["val_last_acc"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        names = [f.name for f in fields(cls)]
        check_keys("sharpness member", data, names[:-1], names[-1:])
        return cls(**data)


#: keys a stored result may lack (analysis-only test fixtures omit them).
_OPTIONAL = ("optimizer", "optimizer_params", "n_train", "n_test", "epochs")


@dataclass(frozen=True)
class UnitResult:
    """What :func:`~noisylab.studies.sharpness.run.run_unit` returns for one unit.

    ``metrics`` holds per-epoch rows ``[member, epoch, name, value]``; member ``i`` is
    ``members[i]``.
    """

    dataset: str
    method: str
    members: list[Member]
    metrics: list[list[Any]] = field(default_factory=list)
    optimizer: str | None = None
    optimizer_params: dict[str, Any] | None = None
    n_train: int | None = None
    n_test: int | None = None
    epochs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as the store's JSON dict (key order as written by ``run_unit``)."""
        out: dict[str, Any] = {"dataset": self.dataset, "method": self.method}
        for key in _OPTIONAL:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["members"] = [m.to_dict() for m in self.members]
        out["metrics"] = [list(r) for r in self.metrics]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        """Parse a stored result; ``ValueError`` names missing or unknown keys."""
        check_keys(
            "sharpness result", data, ["dataset", "method", "members"], [*_OPTIONAL, "metrics"]
        )
        kw = {k: data[k] for k in _OPTIONAL if k in data}
        return cls(
            dataset=data["dataset"],
            method=data["method"],
            members=[Member.from_dict(m) for m in data["members"]],
            metrics=list(data.get("metrics", [])),
            **kw,
        )


#: members grouped by (dataset, noise rate η, method spec), in result order.
Groups = dict[tuple[str, float, str], list[Member]]
