"""The ``train`` pseudo-study: a sweep of plain training runs, metrics queryable in the store."""

import json

import pandas as pd

from noisylab.sweep import execute, open_store, run_id
from noisylab.sweep.spec import SweepSpec, plan, run_sweep
from noisylab.sweep.train_study import Config, units


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
    rid = run_id("train", units(cfg)[0])
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
    again = execute("train", units(cfg), store=store, progress=False)
    assert again == [result]
    assert store.get(rid)["started"] == run["started"]
