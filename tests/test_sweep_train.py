"""The ``train`` pseudo-study: a sweep of plain training runs, metrics queryable in the store."""

import json

import numpy as np
import pandas as pd
import pytest

from noisylab.studies import train
from noisylab.studies.runner import plan, run_sweep
from noisylab.studies.train import Config, units
from noisylab.sweep import execute, open_store, run_id
from noisylab.sweep.spec import SweepSpec


def test_train_sweep_stores_per_epoch_metrics(tmp_path):
    spec = SweepSpec.from_dict(
        {"study": "train", "preset": "tiny", "set": {"data": "digits"}, "grid": {"seed": [0]}}
    )
    points = plan(spec)
    assert [p.slug for p in points] == ["seed-0"]
    cfg = points[0].config
    assert isinstance(cfg, Config) and (cfg.members, cfg.epochs, cfg.n_train) == (2, 3, 300)

    store = open_store(tmp_path / "s.sqlite")
    summary = run_sweep(spec, tmp_path / "out", store=store, progress=False)
    rid = run_id(train, units(cfg)[0])
    assert summary[0]["run_ids"] == [rid]
    run = store.get(rid)
    assert run["status"] == "done" and run["config"]["loss"] == "ce"
    result = run["result"]
    assert len(result["best_test_acc"]) == 2 and len(result["realized_rate"]) == 2
    assert all(abs(r - 0.4) < 0.01 for r in result["realized_rate"])
    for best, last in zip(result["best_test_acc"], result["last_test_acc"], strict=True):
        assert 0.0 <= last <= best <= 1.0
    assert max(result["best_test_acc"]) > 0.2  # 10 classes: chance is 0.1

    metrics = pd.DataFrame(store.metrics(rid))
    acc = metrics[metrics["name"] == "test/acc"]
    assert sorted(set(acc["member"])) == [0, 1] and sorted(set(acc["epoch"])) == [1.0, 2.0, 3.0]
    best_from_rows = acc.groupby("member")["value"].max().tolist()
    assert best_from_rows == result["best_test_acc"]
    assert {"train/loss", "clean/acc", "noisy/acc_noisy"} <= set(metrics["name"])

    csv = pd.read_csv(tmp_path / "out" / "seed-0" / "results.csv")
    assert list(csv["member"]) == [0, 1]
    assert list(csv["best_test_acc"]) == result["best_test_acc"]
    assert "digits" in (tmp_path / "out" / "seed-0" / "table.md").read_text()
    assert json.loads((tmp_path / "out" / "seed-0" / "claims.json").read_text()) == []

    # the same run through execute() again is read from the store
    again = execute(train, units(cfg), store=store, progress=False)
    assert again == [result]
    assert store.get(rid)["started"] == run["started"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("noise", "symmetric:1.5", r"noise rate must be in \[0, 1\), got 1.5"),
        ("noise", "sideways:0.2", "cannot parse noise spec 'sideways:0.2'"),
        ("data", "imagenet", "unknown dataset 'imagenet'; known: .*digits"),
        ("loss", "nope", "unknown loss 'nope'; known: .*gce"),
        ("optimizer", "nope", "unknown optimizer 'nope'; known: .*adam"),
        ("model", "resnet", "unknown model 'resnet'; known: .*mlp"),
        ("schedule", "warm", "unknown schedule 'warm'; known: .*cosine"),
        ("members", 0, "members must be an int >= 1, got 0"),
        ("batch_size", -1, "batch_size must be an int >= 0, got -1"),
    ],
)
def test_train_config_rejects_bad_values_before_anything_runs(field, value, message):
    with pytest.raises(ValueError, match=message):
        Config.preset("tiny", **{field: value})
    spec = SweepSpec.from_dict({"study": "train", "preset": "tiny", "grid": {field: [value]}})
    with pytest.raises(ValueError, match=message):
        plan(spec)


def test_train_config_grids_over_every_engine_option(monkeypatch):
    """Options beyond the CLI's basics (schedule, clipping, loss params) reach fit()."""
    import noisylab.train
    from noisylab.train.recipe import train_ensemble

    seen = {}
    real = noisylab.train.fit

    def spy(model, data, labels, **kw):
        seen.update(kw, labels=labels, members=model.members)
        return real(model, data, labels, **kw)

    monkeypatch.setattr(noisylab.train, "fit", spy)
    cfg = Config.preset(
        "tiny",
        noise="pair:next:0.2",
        loss="gce",
        loss_params={"q": 0.5},
        optimizer="sgd",
        optimizer_params={"momentum": 0.0},
        weight_decay=0.01,
        schedule="constant",
        clip_grad=1e-3,
        epochs=2,
        eval_every=2,
        batch_size=0,
        seed=5,
    )
    t = train_ensemble(cfg)
    assert t.history.epochs == [2] and t.realized_rate.shape == (2,)
    expected = {
        "loss": "gce",
        "loss_params": {"q": 0.5},
        "optimizer": "sgd",
        "optimizer_params": {"momentum": 0.0},
        "weight_decay": 0.01,
        "schedule": "constant",
        "clip_grad": 1e-3,
        "epochs": 2,
        "eval_every": 2,
        "batch_size": None,  # 0 = full batch
        "seed": [5, 6],
        "members": 2,
    }
    assert {k: seen[k] for k in expected} == expected
    # member i's labels are the noise realisation of seed 5 + i
    from noisylab import noise

    y = t.data.y_train.numpy()
    for i in range(2):
        ref = noise.corrupt_labels(y, 10, "pair:next", 0.2, seed=5 + i).labels
        np.testing.assert_array_equal(seen["labels"][i], ref)
