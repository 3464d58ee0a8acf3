"""Typed records of the ``modular`` study: the unit it runs per width, its results, the table.

A unit or result crosses the store as a JSON dict (``to_dict``); ``from_dict`` parses one
back and refuses missing or unknown keys. A stored float that was not finite comes back as
``None`` (the store's convention), hence ``Metric``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from noisylab.studies.common import check_keys, nan_mean

from .config import SUBSETS, Config

#: a metric as stored: ``None`` where its value was not finite (or was never reached).
Metric = float | None


@dataclass(frozen=True)
class Unit:
    """One width's ensemble: members are noise rate × seed (rate-major), on one split.

    Every ``Config`` field but ``widths`` and ``seed`` is carried over unchanged; ``width``
    is this unit's and ``split_seed`` the config's ``seed``.
    """

    device: str
    p: int
    op: str
    train_fraction: float
    noise: str
    noise_rates: tuple[float, ...]
    activation: str
    seeds: int
    epochs: int
    loss: str
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    eval_every: int
    keep_mu: bool
    partition_k: float
    partition_grid: tuple[float, ...]
    pruning_steps: int
    swap_activations: tuple[str, ...]
    threshold: float
    width: int
    split_seed: int
    #: epochs at which the claims' numbers are snapshotted; left out of the dict when empty
    #: (so tiny/quick units keep their identity in the store).
    checkpoints: tuple[int, ...] = ()

    @classmethod
    def from_config(cls, config: Config, width: int) -> Unit:
        """The unit of ``width`` under ``config``."""
        shared = config.model_dump()
        for key in ("widths", "seed"):
            shared.pop(key)
        return cls.from_dict({**shared, "width": int(width), "split_seed": int(config.seed)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unit:
        """Parse a unit dict (sequences become tuples)."""
        names = [f.name for f in fields(cls) if f.name != "checkpoints"]
        check_keys("modular unit", data, required=names, optional=["checkpoints"])
        tuples = ("noise_rates", "betas", "partition_grid", "swap_activations")
        values: dict[str, Any] = {k: tuple(data[k]) if k in tuples else data[k] for k in names}
        values["checkpoints"] = tuple(int(c) for c in data.get("checkpoints", ()))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The store's JSON dict: lists for the lists of the config, ``betas`` a pair."""
        out = asdict(self)
        for k in ("noise_rates", "partition_grid", "swap_activations"):
            out[k] = list(out[k])
        if self.checkpoints:
            out["checkpoints"] = list(self.checkpoints)
        else:
            out.pop("checkpoints")
        return out

    @property
    def combos(self) -> list[tuple[float, int]]:
        """The members' (noise rate, seed index), rate-major.

        >>> u = Unit.from_config(Config(noise_rates=[0.0, 0.5], seeds=2), width=8)
        >>> u.combos
        [(0.0, 0), (0.0, 1), (0.5, 0), (0.5, 1)]
        """
        return [(float(r), s) for r in self.noise_rates for s in range(self.seeds)]


@dataclass(frozen=True)
class MemberResult:
    """Everything measured on one trained member (one noise rate and seed)."""

    member: int
    rate: float
    seed: int
    realized_rate: float
    acc: dict[str, dict[str, Metric]]  # network (raw, G, R, …) → subset → accuracy
    partition_grid: dict[str, list[Metric]]  # score → test accuracy per kept fraction
    memorised_epoch: Metric  # noisy subset (vs noisy labels) reaches the threshold
    fit_epoch: Metric  # clean subset reaches the threshold
    memorised_epoch_50: Metric
    fit_epoch_50: Metric
    max_lead: Metric  # max over epochs of noisy − clean accuracy
    ipr_hist: list[int]
    ipr_mean: float
    spectrum: list[float]
    freq_strength: list[float]
    top_frequencies: list[int]
    phase_residual_top: float
    pruning: dict[str, dict[str, dict[str, Any]]]  # score → order → curve

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemberResult:
        names = [f.name for f in fields(cls)]
        check_keys("modular member result", data, required=names)
        return cls(**{k: data[k] for k in names})


@dataclass(frozen=True)
class UnitResult:
    """One width's ensemble: its members' analyses, training curves and divergences."""

    width: int
    p: int
    activation: str
    epochs: list[int]
    partition_grid: list[float]
    members: list[MemberResult]
    diverged: dict[str, list[Any]]  # member → (epoch, loss)
    metrics: list[list[Any]]  # [member, epoch, metric name, value]
    #: the claims' numbers at the unit's checkpoints: one dict per (member, epoch) with
    #: ``member``, ``epoch`` and the keys of :data:`SNAPSHOT_KEYS`; empty without checkpoints.
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        names = [f.name for f in fields(cls) if f.name != "snapshots"]
        check_keys("modular result", data, required=names, optional=["snapshots"])
        values = {k: data[k] for k in names}
        values["snapshots"] = list(data.get("snapshots", []))
        values["members"] = [MemberResult.from_dict(m) for m in data["members"]]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: what a checkpoint snapshot records per member (accuracies, and the mean neuron IPR).
SNAPSHOT_KEYS = (
    "raw_test",
    "raw_noisy",
    "G_test",
    "part_strength_test",
    "part_ipr_test",
    "ipr_mean",
)

#: the networks' column order in the table (others follow, sorted).
NET_ORDER = ("raw", "G", "R", "G_mu", "part_strength", "part_ipr", "mem_strength")


@dataclass(frozen=True)
class MemberTable:
    """One flat row per member (``results.csv``), and its cells averaged over seeds."""

    rows: list[dict[str, Any]]
    #: one row per (member, checkpoint epoch): width, rate, seed, epoch and SNAPSHOT_KEYS.
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_results(cls, results: list[UnitResult]) -> MemberTable:
        """Rows in the results' order, each member's accuracies as ``{net}_{subset}``."""
        rows = []
        snaps = []
        for res in results:
            by_member = {m.member: m for m in res.members}
            for sn in res.snapshots:
                m = by_member[sn["member"]]
                snaps.append({"width": res.width, "rate": m.rate, "seed": m.seed, **sn})
            for m in res.members:
                row: dict[str, Any] = {
                    "width": res.width,
                    "rate": m.rate,
                    "seed": m.seed,
                    "realized_rate": m.realized_rate,
                }
                nets = [n for n in NET_ORDER if n in m.acc] + sorted(set(m.acc) - set(NET_ORDER))
                for net in nets:
                    for k in SUBSETS:
                        row[f"{net}_{k}"] = m.acc[net][k]
                row["memorised_epoch"] = m.memorised_epoch
                row["fit_epoch"] = m.fit_epoch
                row["memorised_epoch_50"] = m.memorised_epoch_50
                row["fit_epoch_50"] = m.fit_epoch_50
                row["max_lead"] = m.max_lead
                row["ipr_mean"] = m.ipr_mean
                row["phase_residual_top"] = m.phase_residual_top
                row["top_frequencies"] = " ".join(map(str, m.top_frequencies))
                rows.append(row)
        return cls(rows, snaps)

    @property
    def widths(self) -> list[int]:
        return sorted({r["width"] for r in self.rows})

    @property
    def rates(self) -> list[float]:
        return sorted({r["rate"] for r in self.rows})

    def cell(self, width: int, rate: float, key: str) -> float | None:
        """Mean of column ``key`` over the seeds at (``width``, ``rate``); None if none is set.

        >>> t = MemberTable([{"width": 8, "rate": 0.5, "x": v} for v in (0.25, None, 0.75)])
        >>> t.cell(8, 0.5, "x"), t.cell(8, 0.0, "x")
        (0.5, None)
        """
        v = nan_mean(r[key] for r in self.rows if r["width"] == width and r["rate"] == rate)
        return None if v != v else v

    @property
    def checkpoints(self) -> list[int]:
        """The snapshot epochs present in every unit (sorted); empty without snapshots."""
        widths = {s["width"] for s in self.snapshots}
        per_width = [{s["epoch"] for s in self.snapshots if s["width"] == w} for w in widths]
        return sorted(set.intersection(*per_width)) if per_width else []

    def snap(self, width: int, rate: float, epoch: int, key: str) -> float | None:
        """Mean of snapshot ``key`` over the seeds at (``width``, ``rate``, ``epoch``).

        >>> t = MemberTable([], [{"width": 8, "rate": 0.5, "epoch": 10, "x": v} for v in (0.2, 0.4)])
        >>> round(t.snap(8, 0.5, 10, "x"), 6), t.snap(8, 0.5, 20, "x")
        (0.3, None)
        """
        v = nan_mean(
            s[key]
            for s in self.snapshots
            if s["width"] == width and s["rate"] == rate and s["epoch"] == epoch
        )
        return None if v != v else v
