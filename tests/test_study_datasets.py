"""Studies on any registered dataset: the dataset/model/data_dir settings, the CIFAR paper
presets (files checked before any work, expected GPU time printed) and the clear errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from noisylab.studies import apply_sets, get
from noisylab.studies.common import gpu_hours

PER_BATCH = 20  # 5 batches → 100 CIFAR-10 training images


def _flip(y: np.ndarray, frac: float, rng: np.random.Generator, k: int) -> np.ndarray:
    z = y.copy()
    idx = rng.choice(len(y), round(frac * len(y)), replace=False)
    z[idx] = (z[idx] + rng.integers(1, k, len(idx))) % k
    return z


def write_cifar(root: Path) -> Path:
    """Generated CIFAR-10/100 batches and CIFAR-N label files in the released layout."""
    rng = np.random.default_rng(0)
    d10 = root / "cifar-10-batches-py"
    d10.mkdir(parents=True)
    clean = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        y = rng.integers(0, 10, PER_BATCH)
        x = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        with (d10 / name).open("wb") as f:
            pickle.dump({b"data": x, b"labels": y.tolist()}, f, protocol=4)
        if name != "test_batch":
            clean.append(y)
    y10 = np.concatenate(clean)
    human = {"clean_label": y10}
    for key, rate in [
        ("aggre_label", 0.1),
        ("worse_label", 0.4),
        ("random_label1", 0.17),
        ("random_label2", 0.18),
        ("random_label3", 0.18),
    ]:
        human[key] = _flip(y10, rate, rng, 10)
    torch.save(human, root / "CIFAR-10_human.pt")
    d100 = root / "cifar-100-python"
    d100.mkdir()
    for name, n in (("train", 200), ("test", 50)):
        y = rng.integers(0, 100, n)
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with (d100 / name).open("wb") as f:
            pickle.dump(
                {b"data": x, b"fine_labels": y.tolist(), b"coarse_labels": (y // 5).tolist()}, f
            )
        if name == "train":
            noisy = _flip(y, 0.4, rng, 100)
            torch.save({"clean_label": y, "noisy_label": noisy}, root / "CIFAR-100_human.pt")
    return root


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.mark.parametrize("study", ["losses", "sharpness"])
def test_paper_preset_without_data_names_the_files_and_creates_nothing(
    study, cli, capsys, tmp_path
):
    store, out = tmp_path / "store.sqlite", tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    for extra in ([f"data_dir={empty}"], []):  # files missing, then no data_dir at all
        sets = [a for s in extra for a in ("--set", s)]
        code = cli(
            "run", study, "--preset", "paper", *sets, "--store", str(store), "--out", str(out)
        )
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert len(err.splitlines()) == 1, err
        assert "data_batch_1" in err and "test_batch" in err and "data_dir" in err
        assert not store.exists() and not out.exists()
    if study == "losses":  # its CIFAR-10N noise needs the human label file too
        assert "CIFAR-10_human.pt" in err


def test_paper_presets_plan_the_protocol_and_estimate_gpu_time(cifar_dir):
    losses = get("losses")
    cfg = apply_sets(losses.Config.preset("paper"), [f"data_dir={cifar_dir}"])
    units = losses.units(cfg)
    c10 = [u for u in units if u["dataset"] == "cifar10"]
    c100 = [u for u in units if u["dataset"] == "cifar100"]
    assert {u["noise"] for u in c10} >= {"cifar10n:worse", "cifar10n:aggre", "symmetric:0.8"}
    assert "cifar100n:noisy" in {u["noise"] for u in c100}
    for u, (model, lr, wd, epochs) in [
        (c10[0], ("cnn8", 0.01, 1e-4, 120)),
        (c100[0], ("resnet34", 0.1, 1e-5, 200)),
    ]:
        assert (u["model"], u["lr"], u["weight_decay"], u["epochs"]) == (model, lr, wd, epochs)
        assert (u["optimizer"], u["momentum"], u["clip_grad"]) == ("sgd", 0.9, 5.0)
        assert (u["batch_size"], u["augment"]) == (128, "crop-flip")
    # the estimate is FLOPs arithmetic: cnn8 forward 0.267 GFLOPs, ×3 for training
    runs = len(c10) * len(losses.variants(cfg)) * cfg.seeds
    images = round(50_000 * (1 - cfg.val_frac))
    expected = gpu_hours("cnn8", images, 120, runs) + gpu_hours(
        "resnet34", images, 200, len(c100) * len(losses.variants(cfg)) * cfg.seeds
    )
    (note,) = cfg.notes()
    assert "estimate" in note and f"≈ {expected:.0f} h" in note
    assert gpu_hours("cnn8", 10, 1, 2, passes=2.0) == pytest.approx(
        3 * 0.267e9 * 10 * 2 * 2 / 20e12 / 3600
    )

    sharp = get("sharpness")
    scfg = apply_sets(sharp.Config.preset("paper"), [f"data_dir={cifar_dir}"])
    su = sharp.units(scfg)
    assert {u["dataset"] for u in su} == {"cifar10", "cifar100"}
    assert {u["model"] for u in su} == {"preact-resnet18"}
    sam = next(u for u in su if u["method"] == "sam")
    asam = next(u for u in su if u["method"] == "asam")
    assert sam["optimizer_params"]["rho"] == 0.05 and asam["optimizer_params"]["rho"] == 0.5
    assert {u["method"] for u in su} == {"sgd", "sam", "asam", "vasso:0.9", "vasso:0.4"}
    assert (sam["lr"], sam["weight_decay"], sam["epochs"], sam["augment"]) == (
        0.05,
        5e-4,
        200,
        "crop-flip",
    )
    assert sam["rates"] == [0.0, 0.25, 0.5, 0.75]
    assert "expected GPU time" in scfg.notes()[0]


def test_existing_presets_keep_their_units():
    """New optional unit keys stay out of the dicts at their defaults (same store hashes)."""
    new = {"losses": {"data_dir", "augment", "weight_decay", "momentum", "clip_grad"}}
    new["sharpness"] = {"data_dir", "augment"}
    for name, keys in new.items():
        mod = get(name)
        for u in mod.units(mod.Config.preset("tiny")):
            assert not keys & set(u), sorted(keys & set(u))


def test_shorthands_expand_and_survive_apply_sets():
    mod = get("losses")
    cfg = apply_sets(mod.Config.preset("tiny"), ["dataset=mnist1d", "model=mlp"])
    assert cfg.datasets == ["mnist1d"] and cfg.models == {"mnist1d": "mlp"}
    again = apply_sets(cfg, ["seeds=1"])  # the dumped shorthands re-validate to the same
    assert again.datasets == ["mnist1d"] and again.models == {"mnist1d": "mlp"}
    with pytest.raises(ValueError, match="not a registered model"):
        apply_sets(cfg, ["model=resnet999"])


def test_losses_runs_cifar10n_with_a_cnn_end_to_end(cifar_dir, cli, capsys, tmp_path):
    out = tmp_path / "out"
    sets = [
        "dataset=cifar10",
        f"data_dir={cifar_dir}",
        "model=cnn2d",
        "noise=[none, 'cifar10n:worse']",
        "losses=[ce, mae]",
        "loss_grid={}",
        "cleanlab=false",
        "lrs=[0.01]",
        "seeds=1",
        "epochs=2",
        "eval_every=1",
        "width=16",
        "augment=crop-flip",
    ]
    args = [a for s in sets for a in ("--set", s)]
    code = cli("run", "losses", "--preset", "tiny", *args, "--no-store", "--out", str(out))
    assert code == 0, capsys.readouterr()
    claims = json.loads((out / "claims.json").read_text())
    assert claims and all(isinstance(c["reproduced"], bool) for c in claims)
    csv = (out / "results.csv").read_text()
    assert "cifar10n:worse" in csv and "cifar10" in csv


def test_unsuitable_pairs_are_one_error(cli, capsys, tmp_path):
    cases = [
        (["run", "losses", "--preset", "tiny", "--set", "model=cnn8"], "does not suit"),
        (["run", "sharpness", "--preset", "tiny", "--set", "dataset=diabetes"], "regression"),
        (["run", "alignment", "--preset", "tiny", "--set", "model=cnn2d"], "'mlp' only"),
        (["run", "alignment", "--preset", "tiny", "--set", "mlp_ns=[100, 5000]",
          "--set", "dataset=digits"], "n = 5000"),
        (["run", "modular", "--preset", "tiny", "--set", "dataset=mnist"], "its data is"),
        (["run", "feedback", "--preset", "tiny", "--set", "dataset=mnist"], "its data is"),
    ]  # fmt: skip
    for args, match in cases:
        code = cli(*args, "--no-store", "--out", str(tmp_path / "o"))
        err = capsys.readouterr().err.strip()
        assert code == 2, args
        assert len(err.splitlines()) == 1 and match in err, err
        assert not (tmp_path / "o").exists()


def test_alignment_mlp_settings_train_on_another_dataset(cli, capsys, tmp_path):
    out = tmp_path / "out"
    sets = [
        "dataset=digits",
        "linear_snrs=[1.0, 4.0]",
        "linear_alphas=[0.5, 2.0]",
        "linear_max_steps=500",
        "mlp_steps=30",
        "mlp_ns=[100, 800]",
        "mlp_etas=[0.0, 0.4]",
        "mlp_snrs=[0.5, 8.0]",
        "members=3",
    ]
    args = [a for s in sets for a in ("--set", s)]
    code = cli("run", "alignment", "--preset", "tiny", *args, "--no-store", "--out", str(out))
    assert code == 0, capsys.readouterr()
    assert json.loads((out / "claims.json").read_text())
    from noisylab.studies.alignment.run import load_mlp_data

    ds = load_mlp_data("digits", 0, 100, None)
    assert ds.feature_shape == (64,) and ds.n_train == 100
    from noisylab.studies.alignment.config import mlp_parameters

    rows = (out / "results.csv").read_text().splitlines()
    header = rows[0].split(",")
    thr = {r.split(",")[header.index("threshold")] for r in rows[1:] if "mlp_" in r}
    assert thr == {str(mlp_parameters(16, 64, 10) / 10)}  # 64 inputs, not MNIST-1D's 40
