"""``History``: per-member, per-evaluation metrics of one ``fit`` call.

Values are numpy arrays shaped (M, n_evals). A value that does not exist — a member that
diverged before that evaluation, or a subset the member does not have (no noisy samples) —
is *missing*: stored as NaN in the array, reported by :attr:`History.valid`, written as
``None`` by :meth:`History.to_dict` and left out of :meth:`History.to_dataframe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METRIC_DOCS: dict[str, str] = {
    "train/loss": "mean training loss over the epoch's minibatches (training labels)",
    "train/acc": "accuracy on the whole training set against the training labels",
    "clean/loss": "loss on training samples whose label is clean",
    "clean/acc": "accuracy on training samples whose label is clean",
    "noisy/acc_noisy": "noisy samples vs their noisy label (memorisation)",
    "noisy/acc_true": "noisy samples vs their true label",
    "test/loss": "loss on the test set",
    "test/acc": "accuracy on the test set",
    "train/mse": "regression: mean squared error on the training set (training targets)",
    "test/mse": "regression: mean squared error on the test set",
}


@dataclass
class History:
    """Metrics of an ensemble's training run.

    Attributes
    ----------
    members : int
        Number of members M.
    epochs : list of int
        The evaluated epochs (1-based: epoch e is after e passes over the data).
    metrics : dict of str to ndarray
        ``name → (M, len(epochs))`` float arrays; NaN marks a missing value.
    diverged : dict of int to (int, float)
        ``member → (epoch, loss)`` for members whose loss became NaN or infinite.
    warnings : list of str
        Messages emitted during training (divergence).
    task : str
        ``'classification'`` or ``'regression'``.
    """

    members: int
    epochs: list[int] = field(default_factory=list)
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    diverged: dict[int, tuple[int, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    task: str = "classification"

    # -- recording ---------------------------------------------------------------------
    def append(self, epoch: int, values: dict[str, np.ndarray]) -> None:
        """Add one evaluation column: ``values[name]`` is shaped (M,), NaN = missing."""
        n = len(self.epochs)
        self.epochs.append(int(epoch))
        for name in [*self.metrics, *(k for k in values if k not in self.metrics)]:
            col = np.full((self.members, 1), np.nan)
            if name in values:
                col[:, 0] = np.asarray(values[name], dtype=float).reshape(self.members)
            old = self.metrics.get(name, np.full((self.members, n), np.nan))
            self.metrics[name] = np.concatenate([old, col], axis=1)

    def log(self, name: str, values: Any) -> None:
        """Record metric ``name`` (one value per member, shape (M,)) at the last evaluation.

        Callbacks use this for extra measurements. Values of diverged members are stored as
        missing; non-finite values are missing too.
        """
        if not self.epochs:
            raise ValueError("History.log needs at least one evaluated epoch")
        arr = np.asarray(values, dtype=float).reshape(-1)
        if arr.shape != (self.members,):
            raise ValueError(
                f"{name}: expected {self.members} values (one per member), got {arr.shape}"
            )
        if name not in self.metrics:
            self.metrics[name] = np.full((self.members, len(self.epochs)), np.nan)
        arr = np.where(np.isfinite(arr), arr, np.nan)
        for m, (ep, _) in self.diverged.items():
            if ep <= self.epochs[-1]:
                arr[m] = np.nan
        self.metrics[name][:, -1] = arr

    # -- reading -----------------------------------------------------------------------
    def valid(self, name: str) -> np.ndarray:
        """Boolean (M, n_evals): where metric ``name`` has a value."""
        return ~np.isnan(self[name])

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(f"no metric {name!r}; recorded: {sorted(self.metrics)}") from None

    def best(self, name: str = "test/acc", mode: str = "max") -> np.ndarray:
        """Per-member best value of ``name`` over the valid evaluations, shape (M,).

        A member with no valid evaluation (diverged before the first one) gets NaN.
        """
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        a = self[name]
        out = np.full(self.members, np.nan)
        for m in range(self.members):
            row = a[m][~np.isnan(a[m])]
            if row.size:
                out[m] = row.max() if mode == "max" else row.min()
        return out

    def last(self, name: str = "test/acc") -> np.ndarray:
        """Per-member last valid value of ``name``, shape (M,) (NaN if none)."""
        a = self[name]
        out = np.full(self.members, np.nan)
        for m in range(self.members):
            idx = np.flatnonzero(~np.isnan(a[m]))
            if idx.size:
                out[m] = a[m, idx[-1]]
        return out

    @property
    def best_test_acc(self) -> np.ndarray:
        """Best clean test accuracy per member over the evaluated epochs, (M,)."""
        return self.best("test/acc", "max")

    @property
    def last_test_acc(self) -> np.ndarray:
        """Test accuracy at the last evaluation before any divergence, (M,)."""
        return self.last("test/acc")

    def to_dataframe(self) -> Any:
        """Long format: one row per (member, epoch, metric) with a value; missing dropped."""
        import pandas as pd

        rows = []
        for name in sorted(self.metrics):
            a = self.metrics[name]
            for m in range(self.members):
                for j, ep in enumerate(self.epochs):
                    v = a[m, j]
                    if not math.isnan(v):
                        rows.append((m, ep, name, float(v)))
        return pd.DataFrame(rows, columns=["member", "epoch", "metric", "value"])

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (missing values become ``None``)."""
        return {
            "members": self.members,
            "task": self.task,
            "epochs": list(self.epochs),
            "metrics": {
                k: [[None if math.isnan(v) else float(v) for v in row] for row in a.tolist()]
                for k, a in sorted(self.metrics.items())
            },
            "diverged": {str(m): [int(e), repr(float(v))] for m, (e, v) in self.diverged.items()},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        members = int(d["members"])
        metrics = {
            k: np.array(
                [[np.nan if v is None else float(v) for v in row] for row in rows], dtype=float
            ).reshape(members, len(d["epochs"]))
            for k, rows in d["metrics"].items()
        }
        return cls(
            members=members,
            epochs=[int(e) for e in d["epochs"]],
            metrics=metrics,
            diverged={int(m): (int(e), float(v)) for m, (e, v) in d["diverged"].items()},
            warnings=list(d["warnings"]),
            task=str(d.get("task", "classification")),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
