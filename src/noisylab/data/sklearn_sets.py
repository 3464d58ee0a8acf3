"""Small datasets shipped with scikit-learn: digits (classification), diabetes (regression)."""

from __future__ import annotations

import numpy as np

from noisylab.data._prep import build, split
from noisylab.data.dataset import Dataset


def digits(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int | None = None,
    standardize: str = "feature",
) -> Dataset:
    """scikit-learn's 8×8 digits (1797 samples, 64 features, 10 classes).

    Stratified train/test split of ``test_fraction`` (seeded by ``split_seed``, default
    ``seed``); features standardised with the training mean/std.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    s = seed if split_seed is None else split_seed
    x_tr, y_tr, x_te, y_te = split(x, y, test_fraction, s, stratify=True)
    return build(
        "digits",
        x_tr,
        y_tr,
        x_te,
        y_te,
        task="classification",
        num_classes=10,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=f"sklearn load_digits; stratified split {1 - test_fraction:.0%}/"
        f"{test_fraction:.0%} (split seed {s})",
    )


def diabetes(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int | None = None,
    standardize: str = "feature",
    standardize_targets: bool = True,
) -> Dataset:
    """scikit-learn's diabetes regression data (442 samples, 10 features).

    Seeded split; features and (by default) the target standardised with training
    statistics, so an MSE of 1 is the variance of the training target.
    """
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    s = seed if split_seed is None else split_seed
    x_tr, y_tr, x_te, y_te = split(x, y, test_fraction, s, stratify=False)
    info: dict[str, float] = {}
    if standardize_targets:
        mu, sd = float(y_tr.mean()), float(y_tr.std())
        y_tr, y_te = (y_tr - mu) / sd, (y_te - mu) / sd
        info = {"target_mean": mu, "target_std": sd}
    return build(
        "diabetes",
        x_tr,
        y_tr,
        x_te,
        y_te,
        task="regression",
        num_classes=None,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=f"sklearn load_diabetes; split {1 - test_fraction:.0%}/{test_fraction:.0%} "
        f"(split seed {s}); targets {'standardised' if standardize_targets else 'raw'}",
        info=info,
    )
