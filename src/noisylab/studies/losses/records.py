"""Typed records of the ``losses`` study: a loss variant, a unit, a trained member, a result.

The store keeps JSON dicts; these frozen dataclasses are their typed view.
``Unit.from_dict(u).to_dict() == u`` and likewise for :class:`UnitResult`, so a record never
changes what is hashed or stored. Non-finite numbers are ``None`` (the store's JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from noisylab.studies.common import check_keys


@dataclass(frozen=True)
class Variant:
    """One loss trained in every unit: its family (a table row), registry name and params.

    ``label`` tells variants of one family apart, e.g. ``"sgce(q=0.2)"``.
    """

    family: str
    loss: str
    params: dict[str, Any]
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "loss": self.loss,
            "params": self.params,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        check_keys("losses variant", data, [f.name for f in fields(cls)])
        return cls(**data)


#: optional unit keys and their defaults (absent from a unit dict when at the default).
UNIT_DEFAULTS: dict[str, Any] = {
    "data_dir": None,
    "weight_decay": 0.0,
    "momentum": None,
    "clip_grad": None,
    "augment": None,
}


@dataclass(frozen=True)
class Unit:
    """One training run: every variant × seed on one (dataset, noise, lr), stacked.

    With ``cleanlab`` the unit also runs the confident-learning baseline (``cv_folds``-fold
    cross-validated CE for ``cv_epochs``, then CE on the samples it keeps).
    """

    dataset: str
    model: str
    noise: str  # a noise spec, e.g. "symmetric:0.6"
    lr: float
    seed: int
    device: str
    n_train: int | None
    n_test: int | None
    val_frac: float
    variants: list[Variant]
    seeds: int
    epochs: int
    batch_size: int
    eval_every: int
    optimizer: str
    width: int
    depth: int
    cleanlab: bool
    cv_folds: int
    cv_epochs: int
    # optional: left out of the dict at their defaults, so earlier units keep their hash
    data_dir: str | None = None
    weight_decay: float = 0.0
    momentum: float | None = None
    clip_grad: float | None = None
    augment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The unit as the store's JSON dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, default in UNIT_DEFAULTS.items():
            if out[key] == default:
                del out[key]
        out["variants"] = [v.to_dict() for v in self.variants]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unit:
        """Parse a unit dict; ``ValueError`` names missing or unknown keys."""
        required = [f.name for f in fields(cls) if f.name not in UNIT_DEFAULTS]
        check_keys("losses unit", data, required, UNIT_DEFAULTS)
        return cls(**{**data, "variants": [Variant.from_dict(v) for v in data["variants"]]})


@dataclass(frozen=True, kw_only=True)
class Member:
    """One trained member: a variant (or the cleanlab baseline) with one seed.

    ``best_*``/``last_*``: clean test accuracy at the best / last evaluated epoch; ``es_*``:
    at the epoch of best *noisy* validation accuracy (early stopping); ``val_*``: noisy
    validation accuracy; ``memorised_last``: last-epoch accuracy of the noisy training
    samples against their noisy label; ``removed_frac``: cleanlab members only.
    """

    family: str
    variant: str
    loss: str
    params: dict[str, Any]
    seed: int
    realized_rate: float | None
    logit_scale: float | None
    removed_frac: float | None = None
    best_test_acc: float | None
    last_test_acc: float | None
    best_epoch: int | None
    es_test_acc: float | None
    es_epoch: int | None
    val_last_acc: float | None
    val_best_acc: float | None
    memorised_last: float | None
    clean_train_acc_last: float | None
    diverged_epoch: int | None

    def to_dict(self) -> dict[str, Any]:
        """The member as stored (``removed_frac`` only for cleanlab members)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.removed_frac is None:
            del out["removed_frac"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        names = [f.name for f in fields(cls)]
        required = [n for n in names if n != "removed_frac"]
        check_keys("losses member", data, required, ["removed_frac"])
        return cls(**data)


@dataclass(frozen=True)
class UnitResult:
    """What :func:`~noisylab.studies.losses.run.run_unit` returns for one unit.

    ``filter`` holds the cleanlab filter's per-seed ``removed``/``precision``/``recall``
    fractions (empty without cleanlab); ``metrics`` per-epoch rows ``[member, epoch, name,
    value]`` where member ``i`` is ``members[i]``.
    """

    dataset: str
    noise: str
    lr: float
    members: list[Member]
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    filter: dict[str, list[float | None]] = field(default_factory=dict)
    metrics: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result as the store's JSON dict (key order as written by ``run_unit``)."""
        out: dict[str, Any] = {"dataset": self.dataset, "noise": self.noise, "lr": self.lr}
        for key in ("n_train", "n_val", "n_test"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["members"] = [m.to_dict() for m in self.members]
        out["filter"] = dict(self.filter)
        out["metrics"] = [list(r) for r in self.metrics]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        """Parse a stored result; ``ValueError`` names missing or unknown keys."""
        optional = ["n_train", "n_val", "n_test", "filter", "metrics"]
        check_keys("losses result", data, ["dataset", "noise", "lr", "members"], optional)
        return cls(
            dataset=data["dataset"],
            noise=data["noise"],
            lr=data["lr"],
            members=[Member.from_dict(m) for m in data["members"]],
            n_train=data.get("n_train"),
            n_val=data.get("n_val"),
            n_test=data.get("n_test"),
            filter=dict(data.get("filter") or {}),
            metrics=list(data.get("metrics", [])),
        )


@dataclass(frozen=True)
class Candidate:
    """A trained member with the setting of its unit: what hyper-parameter selection ranks."""

    dataset: str
    noise: str
    lr: float
    member: Member

    def to_row(self) -> dict[str, Any]:
        """The flat row of ``candidates.csv``: the unit's setting, then the member's fields in
        alphabetical order (the order the store gives them back in)."""
        member = dict(sorted(self.member.to_dict().items()))
        return {"dataset": self.dataset, "noise": self.noise, "lr": self.lr, **member}


@dataclass(frozen=True)
class Selection:
    """The hyper-parameters chosen for one (dataset, noise, family) and their members.

    ``val`` is the selection score: mean over seeds of last-epoch *noisy* validation accuracy.
    """

    lr: float
    params: dict[str, Any]
    val: float
    members: list[Member]


@dataclass(frozen=True)
class FamilyStats:
    """Means over seeds of a selected family (accuracies in [0, 1]; NaN when none is finite)."""

    best: float
    last: float
    es: float
    memorised: float
    diverged: int  # seeds whose loss became non-finite
    logit_scale: float
    seeds: int
    #: last-epoch training accuracy on the samples whose label is clean (does the loss fit?)
    clean_train: float = float("nan")


#: (dataset, noise spec, family) → the selection / its statistics.
Key = tuple[str, str, str]
Chosen = dict[Key, Selection]
StatsTable = dict[Key, FamilyStats]
#: (dataset, noise spec, family) → {epoch: mean clean test accuracy of the selected members}.
Curves = dict[Key, dict[int, float]]
