"""User data from files: ``.npz`` archives and CSV tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.checks import check_choice
from noisylab.data._prep import build, split
from noisylab.data.dataset import TASKS, Dataset


def _existing(path: str | os.PathLike[str] | None, what: str) -> Path:
    if path is None:
        raise ValueError(f"the {what} loader needs path=FILE")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {str(p)!r} does not exist")
    return p


def _infer_task(y: np.ndarray, task: str | None) -> str:
    if task is not None:
        return str(check_choice("task", task, TASKS))
    if y.dtype.kind in "iub":
        return "classification"
    if y.dtype.kind == "f" and y.ndim == 1 and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return "classification"
    return "regression"


def _class_labels(
    y_train: np.ndarray, y_test: np.ndarray, num_classes: int | None, source: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer labels in [0, K); K from ``num_classes`` or max label + 1."""
    for part, y in (("train", y_train), ("test", y_test)):
        if y.ndim != 1:
            raise ValueError(f"{source}: {part} labels must be 1-D, got shape {y.shape}")
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError(f"{source}: {part} labels are not integers")
    yt, ys = y_train.astype(np.int64), y_test.astype(np.int64)
    k = int(max(yt.max(initial=0), ys.max(initial=0))) + 1 if num_classes is None else num_classes
    for part, y in (("train", yt), ("test", ys)):
        bad = (y < 0) | (y >= k)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: {part} label {int(y[i])} at index {i} not in [0, {k})")
    return yt, ys, max(k, 2)


def npz(
    *,
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    task: str | None = None,
    num_classes: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int | None = None,
    standardize: str = "feature",
) -> Dataset:
    """Arrays from an ``.npz`` file (read with ``allow_pickle=False``).

    Keys ``x_train``, ``y_train``, ``x_test``, ``y_test``; or ``x``, ``y`` with a seeded
    split (stratified for classification). ``task`` defaults to classification for integer
    labels and regression otherwise; K defaults to the largest label + 1.
    """
    p = _existing(path, "npz")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:  # object arrays need pickle: refused
        raise ValueError(f"cannot read {p} without pickle: {exc}") from None
    s = seed if split_seed is None else split_seed
    if {"x_train", "y_train", "x_test", "y_test"} <= arrays.keys():
        x_tr, y_tr = arrays["x_train"], arrays["y_train"]
        x_te, y_te = arrays["x_test"], arrays["y_test"]
        how = "given split"
    elif {"x", "y"} <= arrays.keys():
        x, y = arrays["x"], arrays["y"]
        if len(x) != len(y):
            raise ValueError(f"{p}: x has {len(x)} rows but y has {len(y)}")
        t = _infer_task(y, task)
        x_tr, y_tr, x_te, y_te = split(x, y, test_fraction, s, stratify=t == "classification")
        how = f"seeded split (split seed {s})"
    else:
        raise ValueError(
            f"{p} must hold x_train/y_train/x_test/y_test or x/y; found keys {sorted(arrays)}"
        )
    t = _infer_task(y_tr, task)
    k = None
    if t == "classification":
        y_tr, y_te, k = _class_labels(y_tr, y_te, num_classes, str(p))
    return build(
        "npz",
        np.asarray(x_tr, dtype=np.float64),
        y_tr,
        np.asarray(x_te, dtype=np.float64),
        y_te,
        task=t,
        num_classes=k,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=f"npz file {p}; {how}",
    )


def csv(
    *,
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    label: str | int | None = None,
    task: str | None = None,
    test_fraction: float = 0.2,
    split_seed: int | None = None,
    standardize: str = "feature",
) -> Dataset:
    """A CSV table: numeric feature columns plus one label column, with a seeded split.

    ``label`` names the label column (or gives its index); default the last column. A header
    row is detected when the first row is not all numeric. Non-numeric class labels are
    mapped to 0..K−1 in sorted order (``info["classes"]``).
    """
    import pandas as pd

    p = _existing(path, "csv")
    df = pd.read_csv(p, header=None)
    if df.empty:
        raise ValueError(f"csv file {str(p)!r} is empty")
    first = pd.to_numeric(df.iloc[0], errors="coerce")
    if first.isna().any():
        df = pd.read_csv(p, header=0)
    cols = list(df.columns)
    if label is None:
        col = cols[-1]
    elif isinstance(label, int) and not isinstance(label, bool):
        if not -len(cols) <= label < len(cols):
            raise ValueError(f"label column index {label} out of range for {len(cols)} columns")
        col = cols[label]
    elif label in cols:
        col = label
    else:
        raise ValueError(f"label column {label!r} not in {p}; columns: {[str(c) for c in cols]}")
    feats = df.drop(columns=[col])
    bad = [str(c) for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
    if bad:
        raise ValueError(f"{p}: feature columns must be numeric; not numeric: {bad}")
    x = feats.to_numpy(dtype=np.float64)
    raw_y = df[col]
    info: dict[str, Any] = {"label_column": str(col)}
    if pd.api.types.is_numeric_dtype(raw_y):
        y = raw_y.to_numpy()
        t = _infer_task(y, task)
    else:
        if task == "regression":
            raise ValueError(f"{p}: label column {col!r} is not numeric; cannot regress on it")
        classes = sorted(raw_y.astype(str).unique())
        lookup = {c: i for i, c in enumerate(classes)}
        y = raw_y.astype(str).map(lookup).to_numpy(dtype=np.int64)
        info["classes"] = classes
        t = "classification"
    s = seed if split_seed is None else split_seed
    x_tr, y_tr, x_te, y_te = split(x, y, test_fraction, s, stratify=t == "classification")
    k = None
    if t == "classification":
        y_tr, y_te, k = _class_labels(y_tr, y_te, None, str(p))
        if "classes" in info:
            k = max(len(info["classes"]), 2)
    return build(
        "csv",
        x_tr,
        y_tr,
        x_te,
        y_te,
        task=t,
        num_classes=k,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=f"csv file {p}, label column {col!r}; seeded split (split seed {s})",
        info=info,
    )
