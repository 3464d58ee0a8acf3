"""CIFAR-10/100 from the standard "python version" batches, read with a restricted unpickler.

The batches (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html) are Python 2
pickles of dicts with byte-string keys: ``b"data"`` (N, 3072) uint8 in channel-major order
(1024 red, 1024 green, 1024 blue, rows of 32) and ``b"labels"`` (CIFAR-10) or
``b"fine_labels"``/``b"coarse_labels"`` (CIFAR-100). A pickle can run arbitrary code, so
:class:`RestrictedUnpickler` resolves only the globals numpy needs to rebuild an array; any
other global (``os.system``, ``builtins.eval``, ...) raises before anything runs.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.checks import check_choice
from noisylab.data import cifar_n
from noisylab.data._prep import build
from noisylab.data.dataset import Dataset

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

#: (module, name) → object: the only globals a CIFAR batch may reference.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle referenced a global outside :data:`ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-reconstruction globals."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refusing to load global {module}.{name}") from None


def load_batch(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load one CIFAR batch file safely; keys are decoded to ``str``.

    Raises ``ValueError`` naming the file if it references a disallowed global (no code of
    the file is run) or is not a readable pickle of a dict.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"CIFAR batch {str(p)!r} does not exist")
    raw = p.read_bytes()
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except UnsafePickleError as exc:
        raise ValueError(f"unsafe pickle in {p}: {exc}; not loaded") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{p} is not a readable CIFAR batch: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{p} holds a {type(obj).__name__}, expected a dict")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _images_labels(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = load_batch(path)
    for key in ("data", label_key):
        if key not in batch:
            raise ValueError(f"{path} has no {key!r} entry; keys: {sorted(batch)}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{path}: data must be (N, 3072) uint8, got {data.shape} {data.dtype}")
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected {len(data)} integer labels, got {labels.shape}")
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: label {int(labels[i])} at index {i} not in [0, {num_classes})")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


_ARCHIVE_DIRS = {
    "cifar10": ("cifar-10-batches-py", "test_batch"),
    "cifar100": ("cifar-100-python", "test"),
}


def _directory(path: str | os.PathLike[str] | None, name: str) -> Path:
    """The batch directory: ``path`` itself or its ``cifar-10-batches-py``/``cifar-100-python``."""
    if path is None:
        raise ValueError(f"the {name} loader needs path=DIR with the python-version batches")
    d = Path(path)
    if not d.is_dir():
        raise FileNotFoundError(f"{name} directory {str(d)!r} does not exist")
    sub, probe = _ARCHIVE_DIRS[name]
    if not (d / probe).is_file() and (d / sub / probe).is_file():
        return d / sub
    return d


def _finish(
    name: str,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    num_classes: int,
    seed: int,
    n_train: int | None,
    n_test: int | None,
    flatten: bool,
    standardize: str,
    provenance: str,
    info: dict[str, Any] | None = None,
    train_columns: dict[str, np.ndarray] | None = None,
) -> Dataset:
    x_tr, y_tr, x_te, y_te = parts
    x_tr = x_tr.astype(np.float32) / 255.0
    x_te = x_te.astype(np.float32) / 255.0
    ds = build(
        name,
        x_tr,
        y_tr,
        x_te,
        y_te,
        task="classification",
        num_classes=num_classes,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=provenance + "; pixels /255",
        info=info,
        train_columns=train_columns,
    )
    if flatten:
        ds = ds.replace(
            x_train=ds.x_train.reshape(len(ds.x_train), -1),
            x_test=ds.x_test.reshape(len(ds.x_test), -1),
            feature_shape=(3072,),
        )
    return ds


def _human(
    name: str,
    human_labels: bool | str | os.PathLike[str],
    d: Path,
    clean: np.ndarray,
    k: int,
) -> tuple[dict[str, np.ndarray], dict[str, Any], str]:
    """CIFAR-N labels as a ``train_columns`` entry, ``info`` entries and a provenance note."""
    if human_labels is False or human_labels is None:
        return {}, {}, ""
    if human_labels is True:
        candidates = [d, d.parent]
        for c in candidates:
            try:
                file = cifar_n.find_label_file(name, c)
                break
            except FileNotFoundError:
                continue
        else:
            cifar_n.find_label_file(name, d)  # raises with the expected names
            raise AssertionError  # pragma: no cover
    else:
        file = Path(human_labels)
    variants = cifar_n.human_labels_for(name, file, clean, k)
    names = list(variants)
    columns = {HUMAN_LABELS: np.stack([variants[v] for v in names])}  # (V, n)
    return columns, {HUMAN_VARIANTS: names}, f"; CIFAR-N labels from {file}"


#: ``Dataset.info`` keys of the CIFAR-N labels: a (V, n_train) int64 array and its V names.
HUMAN_LABELS, HUMAN_VARIANTS = "human_labels", "human_variants"


def human_label_sets(ds: Dataset) -> dict[str, np.ndarray]:
    """``{variant: (n_train,) labels}`` of a dataset loaded with ``human_labels=``; ``{}``
    when it has none."""
    if HUMAN_LABELS not in ds.info:
        return {}
    arr = np.asarray(ds.info[HUMAN_LABELS])
    return {v: arr[i] for i, v in enumerate(ds.info[HUMAN_VARIANTS])}


def cifar10(
    *,
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    flatten: bool = False,
    standardize: str = "channel",
    human_labels: bool | str | os.PathLike[str] = False,
) -> Dataset:
    """CIFAR-10 from ``path`` holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch``.

    Images (3, 32, 32) scaled to [0, 1] and standardised per channel with training
    statistics (``flatten=True`` gives 3072 features). ``human_labels=True`` reads the
    CIFAR-10N file ``CIFAR-10_human.pt`` from ``path`` (or its parent), a path reads that
    file: its variants (aggre, random1–3, worse) become :func:`human_label_sets`, subset
    with the training set, for the noise kinds ``cifar10n:VARIANT``.
    """
    d = _directory(path, "cifar10")
    train = [_images_labels(d / f"data_batch_{i}", "labels", 10) for i in range(1, 6)]
    x_te, y_te = _images_labels(d / "test_batch", "labels", 10)
    parts = (
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        x_te,
        y_te,
    )
    columns, info, note = _human("cifar10", human_labels, d, parts[1], 10)
    return _finish(
        "cifar10",
        parts,
        num_classes=10,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        flatten=flatten,
        standardize=standardize,
        provenance=f"CIFAR-10 python batches in {d}{note}",
        info=info,
        train_columns=columns,
    )


def cifar100(
    *,
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    labels: str = "fine",
    flatten: bool = False,
    standardize: str = "channel",
    human_labels: bool | str | os.PathLike[str] = False,
) -> Dataset:
    """CIFAR-100 from ``path`` holding the ``train`` and ``test`` batches.

    ``labels="fine"`` (100 classes, default) or ``"coarse"`` (20 superclasses).
    ``human_labels`` as in :func:`cifar10`, with ``CIFAR-100_human.pt`` (variant ``noisy``,
    fine labels only).
    """
    check_choice("labels", labels, ("fine", "coarse"))
    d = _directory(path, "cifar100")
    k = 100 if labels == "fine" else 20
    x_tr, y_tr = _images_labels(d / "train", f"{labels}_labels", k)
    x_te, y_te = _images_labels(d / "test", f"{labels}_labels", k)
    if human_labels not in (False, None) and labels != "fine":
        raise ValueError("CIFAR-100N labels are fine labels; use labels='fine' with human_labels")
    columns, info, note = _human("cifar100", human_labels, d, y_tr, k)
    return _finish(
        "cifar100",
        (x_tr, y_tr, x_te, y_te),
        num_classes=k,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        flatten=flatten,
        standardize=standardize,
        provenance=f"CIFAR-100 python batches in {d} ({labels} labels){note}",
        info=info,
        train_columns=columns,
    )


#: the batch files each loader reads, relative to its directory.
BATCH_FILES: dict[str, tuple[str, ...]] = {
    "cifar10": (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"),
    "cifar100": ("train", "test"),
}


def missing_files(
    name: str, path: str | os.PathLike[str] | None, *, human_labels: bool = False
) -> list[str]:
    """The files loader ``name`` (``cifar10``/``cifar100``) needs in ``path`` and lacks.

    Checks existence only (nothing is read), so a study can refuse before any work starts.
    A missing or absent directory lacks every file. With ``human_labels`` the CIFAR-N file
    (in the batch directory or its parent, as :func:`cifar10` looks) counts too.

    Examples
    --------
    >>> missing_files("cifar100", "/no/such/dir")
    ['train', 'test']
    """
    if name not in BATCH_FILES:
        raise ValueError(f"name must be one of {sorted(BATCH_FILES)}, got {name!r}")
    need = list(BATCH_FILES[name])
    extra = [cifar_n.FILES[name]] if human_labels else []
    if path is None or not Path(path).is_dir():
        return need + extra
    d = _directory(path, name)
    out = [f for f in need if not (d / f).is_file()]
    if human_labels:
        found = False
        for c in (d, d.parent):
            try:
                cifar_n.find_label_file(name, c)
                found = True
            except FileNotFoundError:
                pass
        if not found:
            out += extra
    return out
