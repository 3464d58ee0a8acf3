"""CIFAR-N: the human label files read safely, aligned with the batches, and used as noise."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from noisylab.data import load
from noisylab.data.cifar import human_label_sets
from noisylab.data.cifar_n import load_human_labels
from noisylab.noise import parse_spec
from noisylab.noise.human import HUMAN_KINDS, human_members
from noisylab.train.noisy_labels import member_noise

PER_BATCH = 40  # 5 batches → 200 training images


def _write_cifar10(root: Path, rng: np.random.Generator) -> tuple[Path, np.ndarray]:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    labels = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        y = rng.integers(0, 10, PER_BATCH).tolist()
        x = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        with (d / name).open("wb") as f:
            pickle.dump({b"data": x, b"labels": y}, f, protocol=4)
        if name != "test_batch":
            labels.extend(y)
    return d, np.asarray(labels, dtype=np.int64)


def _flip(y: np.ndarray, frac: float, rng: np.random.Generator, k: int = 10) -> np.ndarray:
    """Exactly round(frac·n) labels moved to another class."""
    z = y.copy()
    idx = rng.choice(len(y), round(frac * len(y)), replace=False)
    z[idx] = (z[idx] + rng.integers(1, k, len(idx))) % k
    return z


@pytest.fixture
def cifar10n(tmp_path):
    """Generated CIFAR-10 batches and a CIFAR-10_human.pt whose variants have known rates."""
    rng = np.random.default_rng(0)
    d, clean = _write_cifar10(tmp_path, rng)
    rates = {"aggre": 0.09, "random1": 0.17, "random2": 0.18, "random3": 0.175, "worse": 0.4}
    human = {"clean_label": clean}
    for v, r in rates.items():
        key = {"random1": "random_label1", "random2": "random_label2"}.get(v, f"{v}_label")
        key = "random_label3" if v == "random3" else key
        human[key] = _flip(clean, r, rng)
    torch.save(human, tmp_path / "CIFAR-10_human.pt")
    return d, clean, human, rates


def test_label_file_round_trips(cifar10n, tmp_path):
    _, _, human, _ = cifar10n
    got = load_human_labels(tmp_path / "CIFAR-10_human.pt")
    assert set(got) == set(human)
    for k in human:
        np.testing.assert_array_equal(got[k], human[k])
    np.savez(tmp_path / "export.npz", **human)
    got = load_human_labels(tmp_path / "export.npz")
    np.testing.assert_array_equal(got["worse_label"], human["worse_label"])


def test_loader_attaches_every_variant_and_noise_kinds_realise_their_rates(cifar10n):
    d, clean, _, rates = cifar10n
    ds = load("cifar10", path=d, human_labels=True, standardize="none")
    sets = human_label_sets(ds)
    assert set(sets) == set(rates)
    for variant, rate in rates.items():
        m = member_noise(ds, f"cifar10n:{variant}", seeds=[0, 1, 2])
        assert m.labels.shape == (3, len(clean))
        expected = round(rate * len(clean)) / len(clean)
        np.testing.assert_allclose(m.realized_rate, expected)  # the file's rate, exactly
        assert (m.labels == m.labels[0]).all()  # data, not a draw: every member the same
        np.testing.assert_array_equal(m.is_noisy[0], m.labels[0] != clean)
    # 'worst' is the CIFAR-N code's spelling of 'worse'
    assert parse_spec("cifar10n:worst") == ("cifar10n:worse", 0.0)


def test_subset_keeps_images_and_human_labels_aligned(cifar10n):
    d, clean, _, _ = cifar10n
    full = load("cifar10", path=d, human_labels=True, standardize="none")
    sub = load("cifar10", path=d, human_labels=True, standardize="none", n_train=50, seed=3)
    # find each kept image in the full set and check its human labels came with it
    flat_full = full.x_train.reshape(len(full.x_train), -1)
    worse_full = human_label_sets(full)["worse"]
    worse_sub = human_label_sets(sub)["worse"]
    assert len(worse_sub) == 50
    for i in range(50):
        j = int(torch.nonzero((flat_full == sub.x_train[i].reshape(-1)).all(1))[0])
        assert worse_sub[i] == worse_full[j]
        assert int(sub.y_train[i]) == int(clean[j])


def test_misaligned_or_malformed_files_are_refused(cifar10n, tmp_path):
    d, clean, human, _ = cifar10n
    bad = dict(human, clean_label=np.roll(clean, 1))
    torch.save(bad, tmp_path / "rolled.pt")
    with pytest.raises(ValueError, match="does not match the cifar10 batches"):
        load("cifar10", path=d, human_labels=tmp_path / "rolled.pt")
    torch.save({"clean_label": clean[:10]}, tmp_path / "short.pt")
    with pytest.raises(ValueError, match="has 10 entries"):
        load("cifar10", path=d, human_labels=tmp_path / "short.pt")
    other = tmp_path / "no-human" / "cifar-10-batches-py"
    shutil.copytree(d, other)  # the batches without any CIFAR-N file beside them
    with pytest.raises(FileNotFoundError, match=r"CIFAR-10_human\.pt"):
        load("cifar10", path=other, human_labels=True)
    with pytest.raises(ValueError, match=r"\.pt, \.npz or \.npy"):
        load_human_labels(_touch(tmp_path / "labels.txt"))


def _touch(p: Path) -> Path:
    p.write_text("1 2 3\n")
    return p


class _Exploit:
    """An object whose unpickling would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pt_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    torch.save(
        {"clean_label": np.zeros(3, dtype=np.int64), "x": _Exploit(marker)}, tmp_path / "m.pt"
    )
    with pytest.raises(ValueError, match="refusing to load"):
        load_human_labels(tmp_path / "m.pt")
    assert not marker.exists()
    np.save(tmp_path / "obj.npy", np.array([{"clean_label": [1, 2]}], dtype=object))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_human_labels(tmp_path / "obj.npy")


def test_human_kind_needs_its_labels(cifar10n):
    d, *_ = cifar10n
    plain = load("cifar10", path=d)
    with pytest.raises(ValueError, match="needs cifar10 loaded with its CIFAR-N labels"):
        member_noise(plain, "cifar10n:worse", seeds=[0])
    with pytest.raises(ValueError, match="unknown human noise kind"):
        parse_spec("cifar10n:best")


def test_human_members_transition_and_listing():
    m = human_members([0, 0, 1, 1], [0, 1, 1, 1], 2, members=2, kind="cifar10n:worse")
    np.testing.assert_allclose(m.transition, [[0.5, 0.5], [0.0, 1.0]])
    assert m.rate == 0.25 and m.kind == "cifar10n:worse"
    assert {"cifar10n:aggre", "cifar10n:worse", "cifar100n:noisy"} <= set(HUMAN_KINDS)
    with pytest.raises(ValueError, match="members must be"):
        human_members([0], [0], 2, members=0)


def test_cifar100n_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    fine = {}
    for name, n in (("train", 120), ("test", 30)):
        y = rng.integers(0, 100, n)
        fine[name] = y
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with (d / name).open("wb") as f:
            pickle.dump(
                {b"data": x, b"fine_labels": y.tolist(), b"coarse_labels": (y // 5).tolist()}, f
            )
    noisy = _flip(fine["train"], 0.4, rng, k=100)
    torch.save(
        {"clean_label": fine["train"], "noisy_label": noisy}, tmp_path / "CIFAR-100_human.pt"
    )
    ds = load("cifar100", path=d, human_labels=True)
    m = member_noise(ds, "cifar100n:noisy", seeds=[0])
    assert m.realized_rate[0] == pytest.approx(round(0.4 * 120) / 120)
    with pytest.raises(ValueError, match="fine labels"):
        load("cifar100", path=d, labels="coarse", human_labels=True)


def test_train_cli_on_cifar10n(cifar10n, cli, capsys):
    """``noisylab train`` on CIFAR batches with the human labels: the realised rate is the
    file's, and a human kind without the labels is one line and exit 2."""
    d, clean, _, rates = cifar10n
    args = ["train", "--data", "cifar10", "--data-arg", f"path={d}", "--model", "cnn2d"]
    args += ["--epochs", "1", "--members", "2", "--width", "8", "--batch-size", "50"]
    code = cli(*args, "--data-arg", "human_labels=true", "--noise", "cifar10n:worse")
    out = capsys.readouterr().out
    assert code == 0, out
    rate = round(rates["worse"] * len(clean)) / len(clean)
    assert f"{rate:.3f}" in out and "cifar10n:worse" in out
    code = cli(*args, "--noise", "cifar10n:worse")
    err = capsys.readouterr().err
    assert code == 2 and "needs cifar10 loaded with its CIFAR-N labels" in err
    assert "Traceback" not in err


def test_train_cli_with_augmentation_and_an_image_model(cifar10n, cli, capsys):
    d, *_ = cifar10n
    args = ["train", "--data", "cifar10", "--data-arg", f"path={d}", "--model", "cnn8"]
    args += ["--epochs", "1", "--members", "2", "--batch-size", "50", "--noise", "symmetric:0.2"]
    assert cli(*args, "--augment", "crop-flip") == 0
    assert "mean ± std" in capsys.readouterr().out
    assert cli(*args, "--augment", "mixup") == 2
    assert "mixup" in capsys.readouterr().err
