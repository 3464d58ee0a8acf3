"""Shared preparation for every loader: seeded (stratified) splits and subsets, standardisation
with training statistics, and the conversion to a :class:`~noisylab.data.dataset.Dataset`."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from noisylab.checks import check_choice, check_int, check_number
from noisylab.data.dataset import Dataset

Standardize = Literal["feature", "global", "channel", "none"]
STANDARDIZE_MODES = ("feature", "global", "channel", "none")


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per purpose (split, train subset, test subset, data)."""
    return np.random.default_rng([check_int("seed", seed, 0), stream])


def allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` over classes proportionally to ``counts`` (largest-remainder rounding).

    Deterministic: ties in the remainders go to the lower class index.
    """
    total = int(counts.sum())
    quota = counts * (n / total)
    alloc = np.floor(quota).astype(np.int64)
    alloc = np.minimum(alloc, counts)
    rest = n - int(alloc.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(counts)), -(quota - np.floor(quota))))
        for c in order:
            if rest == 0:
                break
            if alloc[c] < counts[c]:
                alloc[c] += 1
                rest -= 1
        # if some classes were already full, fill from the others
        for c in order:
            while rest > 0 and alloc[c] < counts[c]:
                alloc[c] += 1
                rest -= 1
    return alloc


def choose(y: np.ndarray, n: int, rng: np.random.Generator, stratify: bool) -> np.ndarray:
    """Sorted indices of a seeded random subset of size ``n`` (stratified by ``y`` if asked).

    Stratified subsets keep each class's share up to rounding (largest remainder).
    """
    size = len(y)
    if n > size:
        raise ValueError(f"asked for {n} samples but only {size} are available")
    if not stratify:
        return np.sort(rng.permutation(size)[:n])
    classes, inverse = np.unique(y, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    alloc = allocate(counts, n)
    picked = [
        rng.permutation(np.flatnonzero(inverse == c))[: alloc[c]] for c in range(len(classes))
    ]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/test split; the test part has round(test_fraction·n) samples."""
    check_number("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    n_test = round(len(y) * test_fraction)
    if n_test == 0 or n_test == len(y):
        raise ValueError(f"cannot split {len(y)} samples with test_fraction={test_fraction}")
    test_idx = choose(y, n_test, rng_for(seed, 1), stratify)
    mask = np.ones(len(y), dtype=bool)
    mask[test_idx] = False
    return x[mask], y[mask], x[test_idx], y[test_idx]


def standardize(
    x_train: np.ndarray, x_test: np.ndarray, mode: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """Z-score both sets with statistics of the training set.

    ``feature``: per input dimension; ``global``: one mean and std over all entries;
    ``channel``: per channel (axis 1) of image tensors (n, C, H, W); ``none``. Dimensions
    with zero spread are centred and left unscaled.
    """
    check_choice("standardize", mode, STANDARDIZE_MODES)
    if mode == "none":
        return x_train, x_test, "not standardised"
    # float32 inputs stay float32 (MNIST is 47M entries); statistics accumulate in float64
    dt = np.float32 if x_train.dtype == np.float32 else np.float64
    xt = np.asarray(x_train, dtype=dt)
    if mode == "feature":
        axes: tuple[int, ...] = (0,)
    elif mode == "global":
        axes = tuple(range(xt.ndim))
    else:
        if xt.ndim < 3:
            raise ValueError(f"standardize='channel' needs (n, C, ...) inputs, got {xt.shape}")
        axes = (0, *range(2, xt.ndim))
    mean = xt.mean(axis=axes, keepdims=True, dtype=np.float64).astype(dt)
    centred = xt - mean
    var = np.mean(np.square(centred), axis=axes, keepdims=True, dtype=np.float64)
    std = np.sqrt(var)
    std = np.where(std > 0, std, 1.0).astype(dt)
    centred /= std
    test = (np.asarray(x_test, dtype=dt) - mean) / std
    return centred, test, f"standardised ({mode}) with training mean/std"


def build(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    task: str,
    num_classes: int | None,
    seed: int,
    n_train: int | None,
    n_test: int | None,
    standardize_mode: str,
    provenance: str,
    info: dict[str, Any] | None = None,
    train_columns: dict[str, np.ndarray] | None = None,
) -> Dataset:
    """Subset (seeded, stratified for classification), standardise and wrap as a Dataset.

    ``train_columns`` maps a name to a per-training-sample array (last axis = samples): it is
    subset with the same indices as the training set and stored in ``info[name]``.
    """
    info = dict(info or {})
    columns = {k: np.asarray(v) for k, v in (train_columns or {}).items()}
    for k, v in columns.items():
        if v.shape[-1] != len(y_train):
            raise ValueError(f"train column {k!r} has {v.shape[-1]} samples, not {len(y_train)}")
    stratify = task == "classification"
    for label, n, avail in (("n_train", n_train, len(y_train)), ("n_test", n_test, len(y_test))):
        if n is not None:
            check_int(label, n, 1, avail)
    if n_train is not None and n_train < len(y_train):
        idx = choose(y_train, int(n_train), rng_for(seed, 2), stratify)
        x_train, y_train = x_train[idx], y_train[idx]
        columns = {k: v[..., idx] for k, v in columns.items()}
    info.update(columns)
    if n_test is not None and n_test < len(y_test):
        idx = choose(y_test, int(n_test), rng_for(seed, 3), stratify)
        x_test, y_test = x_test[idx], y_test[idx]
    x_train, x_test, how = standardize(x_train, x_test, standardize_mode)
    if task == "classification":
        yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64))
        ys = torch.as_tensor(np.asarray(y_test, dtype=np.int64))
    else:
        yt = torch.as_tensor(np.asarray(y_train, dtype=np.float32))
        ys = torch.as_tensor(np.asarray(y_test, dtype=np.float32))
    return Dataset(
        name=name,
        x_train=torch.as_tensor(np.ascontiguousarray(x_train, dtype=np.float32)),
        y_train=yt,
        x_test=torch.as_tensor(np.ascontiguousarray(x_test, dtype=np.float32)),
        y_test=ys,
        num_classes=num_classes if task == "classification" else None,
        task=task,  # type: ignore[arg-type]
        provenance=f"{provenance}; seed {seed}; {how}",
        info=info,
    )
