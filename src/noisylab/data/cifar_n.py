"""CIFAR-10N / CIFAR-100N: human re-annotations of the CIFAR training sets, read safely.

Wei et al. (ICLR 2022, "Learning with Noisy Labels Revisited: A Study Using Real-World Human
Annotations") released, for the 50 000 CIFAR training images in the order of the python
batches, the labels Amazon Mechanical Turk workers gave:

* ``CIFAR-10_human.pt``: ``clean_label`` and ``aggre_label`` (majority vote of three,
  ≈ 9.0 % wrong), ``random_label1/2/3`` (one worker each, ≈ 17–18 %), ``worse_label`` (a wrong
  label whenever one of the three was wrong, ≈ 40.2 %);
* ``CIFAR-100_human.pt``: ``clean_label`` and ``noisy_label`` (≈ 40.2 %), plus coarse labels.

The files are ``torch.save`` pickles of a dict of numpy arrays. They are read with
``torch.load(weights_only=True)`` and only numpy's array-rebuilding globals allowed, so a file
that tries to run code is refused before anything runs. ``.npz`` (one array per key) and
``.npy`` exports of the same dict are accepted too. Nothing is downloaded: the files are the
user's.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

#: label-file name per dataset, as released.
FILES: dict[str, str] = {"cifar10": "CIFAR-10_human.pt", "cifar100": "CIFAR-100_human.pt"}

#: variant name → key in the released file, per dataset (``worst`` is accepted for ``worse``).
VARIANTS: dict[str, dict[str, str]] = {
    "cifar10": {
        "aggre": "aggre_label",
        "random1": "random_label1",
        "random2": "random_label2",
        "random3": "random_label3",
        "worse": "worse_label",
    },
    "cifar100": {"noisy": "noisy_label"},
}

#: the realised rates reported in the CIFAR-N paper (Table 1), for the docs and a sanity
#: check a user can run on their own files.
PAPER_RATES: dict[str, dict[str, float]] = {
    "cifar10": {
        "aggre": 0.0903,
        "random1": 0.1723,
        "random2": 0.1812,
        "random3": 0.1764,
        "worse": 0.4021,
    },
    "cifar100": {"noisy": 0.4020},
}


def _numpy_globals() -> list[Any]:
    """The globals numpy arrays need to be rebuilt from a pickle: nothing that runs code."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    dtypes = {type(np.dtype(t)) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8)}
    dtypes |= {type(np.dtype(t)) for t in (np.uint16, np.uint32, np.uint64, np.float32)}
    dtypes.add(type(np.dtype(np.float64)))
    return [_reconstruct, np.ndarray, np.dtype, *sorted(dtypes, key=str)]


def _load_pt(path: Path) -> Any:
    import torch

    if not hasattr(torch.serialization, "safe_globals"):  # pragma: no cover - torch < 2.5
        raise ValueError(
            f"reading {path} safely needs torch >= 2.5 (torch.serialization.safe_globals); "
            f"export it to .npz instead"
        )
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"refusing to load {path}: not a plain dict of arrays ({first[:200]}); not loaded"
        ) from None


def load_human_labels(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a CIFAR-N label file: ``.pt`` (as released), ``.npz`` or ``.npy`` (a saved dict).

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    dict of str to ndarray
        Every key of the file as a 1-d int64 array (e.g. ``"clean_label"``, ``"worse_label"``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file tries to run code, is not a dict of 1-d integer arrays of one length, or
        has an unknown suffix.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"CIFAR-N label file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".pt":
        obj: Any = _load_pt(p)
    elif suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            obj = {k: z[k] for k in z.files}
    elif suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError:
            raise ValueError(
                f"{p} holds pickled objects; refusing to unpickle it. Save the dict with "
                f"np.savez instead"
            ) from None
        raise ValueError(f"{p} holds one {arr.shape} array, expected a dict of label arrays")
    else:
        raise ValueError(f"CIFAR-N labels must be a .pt, .npz or .npy file, got {p.name!r}")
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{p} holds a {type(obj).__name__}, expected a dict of label arrays")
    out: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        a = np.asarray(value)
        if a.ndim != 1 or a.dtype.kind not in "iuf" or not np.all(np.isfinite(a)):
            raise ValueError(f"{p}: {key!r} must be a 1-d array of class ids, got {a.shape}")
        if a.dtype.kind == "f" and not np.all(a == np.round(a)):
            raise ValueError(f"{p}: {key!r} holds non-integer labels")
        out[str(key)] = a.astype(np.int64)
    lengths = {len(a) for a in out.values()}
    if len(lengths) != 1:
        raise ValueError(f"{p}: label arrays differ in length: {sorted(lengths)}")
    return out


def variant_key(dataset: str, variant: str) -> str:
    """The file key of a CIFAR-N variant (``"worse"`` → ``"worse_label"``); unknown → error."""
    if dataset not in VARIANTS:
        raise ValueError(f"CIFAR-N exists for {', '.join(VARIANTS)}, got {dataset!r}")
    name = "worse" if variant == "worst" else variant
    if name not in VARIANTS[dataset]:
        raise ValueError(
            f"unknown {dataset}n variant {variant!r}; known: {', '.join(VARIANTS[dataset])}"
        )
    return VARIANTS[dataset][name]


def human_labels_for(
    dataset: str,
    path: str | os.PathLike[str],
    clean: np.ndarray,
    num_classes: int,
) -> dict[str, np.ndarray]:
    """Every variant of ``dataset``'s CIFAR-N file, checked against the batches' labels.

    ``clean`` are the training labels of the python batches in file order; the file's
    ``clean_label`` must equal them (the only proof the two are aligned). Returns
    ``{variant: (50000,) int64}``.
    """
    labels = load_human_labels(path)
    if "clean_label" not in labels:
        raise ValueError(f"{path} has no 'clean_label' entry; keys: {sorted(labels)}")
    if len(labels["clean_label"]) != len(clean) or not np.array_equal(labels["clean_label"], clean):
        n_diff = (
            int(np.sum(labels["clean_label"] != clean))
            if len(labels["clean_label"]) == len(clean)
            else None
        )
        raise ValueError(
            f"{path} does not match the {dataset} batches: its clean_label "
            + (f"differs at {n_diff} of {len(clean)} images" if n_diff is not None else "")
            + (
                f"has {len(labels['clean_label'])} entries, the batches {len(clean)}"
                if n_diff is None
                else ""
            )
        )
    out = {}
    for variant, key in VARIANTS[dataset].items():
        if key not in labels:
            continue
        y = labels[key]
        if y.min() < 0 or y.max() >= num_classes:
            raise ValueError(f"{path}: {key} has labels outside [0, {num_classes})")
        out[variant] = y
    if not out:
        raise ValueError(
            f"{path} has none of {', '.join(VARIANTS[dataset].values())}; keys: {sorted(labels)}"
        )
    return out


def find_label_file(dataset: str, directory: str | os.PathLike[str]) -> Path:
    """``directory/CIFAR-10_human.pt`` (or its ``.npz`` export); a clear error if absent."""
    d = Path(directory)
    stem = Path(FILES[dataset]).stem
    for name in (FILES[dataset], stem + ".npz"):
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(
        f"no CIFAR-N labels for {dataset} in {str(d)!r}: expected {FILES[dataset]} (or "
        f"{stem}.npz) from https://github.com/UCSC-REAL/cifar-10-100n beside the batches"
    )
