"""The ``losses`` study: tiny preset end to end, protocol (selection on val only), claim logic."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest

from noisylab.studies import losses as study
from noisylab.studies import runner
from noisylab.studies.base import read_claims


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("losses-tiny")
    config = study.Config.preset("tiny")
    claims = runner.run("losses", config, out, store=None, progress=False)
    return config, claims, out


def test_tiny_preset_writes_every_output(tiny_run):
    config, claims, out = tiny_run
    for name in ("results.csv", "table.md", "claims.json", "run.json", "candidates.csv"):
        assert (out / name).is_file(), name
    png = (out / "figures" / "accuracy_vs_noise.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    stored = read_claims(out / "claims.json")
    assert [c.id for c in stored] == [c.id for c in claims]
    assert {c.id for c in stored} >= {
        "symmetric-beat-ce-high-noise",
        "sgce-competitive",
        "alpha-mae-competitive",
        "ce-degrades-with-noise",
        "ce-memorisation-gap",
    }
    for c in stored:
        assert isinstance(c.reproduced, bool)
        assert c.evidence
    table = (out / "table.md").read_text()
    assert "nan" not in table.lower()
    for fam in [*config.losses, study.CLEANLAB]:
        assert f"| {fam} |" in table


def test_tiny_results_follow_the_protocol(tiny_run):
    config, _, out = tiny_run
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    families = [*config.losses, study.CLEANLAB]
    assert len(rows) == len(config.datasets) * len(config.noise) * len(families) * config.seeds
    keys = {(r["dataset"], r["noise"], r["loss"], r["seed"]) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        assert float(r["selected_lr"]) in config.lrs
        assert float(r["best_test_acc"]) >= float(r["last_test_acc"]) - 1e-12
        params = json.loads(r["selected_params"])
        if r["loss"] == "sgce":
            assert params["q"] in config.loss_grid["sgce"]["q"]
        if r["noise"] == "symmetric:0.6":
            assert abs(float(r["realized_rate"]) - 0.6) < 0.05  # exact per class on the full set
        if r["noise"] == "none":
            assert float(r["realized_rate"]) == 0.0
    # one selected configuration per (dataset, noise, loss): all its seeds share it
    chosen = {}
    for r in rows:
        key = (r["dataset"], r["noise"], r["loss"])
        chosen.setdefault(key, set()).add((r["selected_lr"], r["selected_params"]))
    assert all(len(v) == 1 for v in chosen.values())


def test_tiny_facts_that_hold_at_any_scale(tiny_run):
    _, claims, out = tiny_run
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))

    def ce(noise, field):
        return np.mean([float(r[field]) for r in rows if r["loss"] == "ce" and r["noise"] == noise])

    # CE: best >= last at high noise, and noise hurts it
    assert ce("symmetric:0.6", "best_test_acc") >= ce("symmetric:0.6", "last_test_acc")
    assert ce("symmetric:0.6", "last_test_acc") < ce("none", "last_test_acc") - 0.05
    degrade = next(c for c in claims if c.id == "ce-degrades-with-noise")
    assert degrade.reproduced
    ev = degrade.evidence["digits"]
    assert ev["rates"] == [0.0, 0.6]
    assert ev["last"][1] == pytest.approx(100 * ce("symmetric:0.6", "last_test_acc"))


def _micro_unit(**over):
    config = study.Config.preset(
        "tiny", losses=["ce", "sgce"], seeds=1, epochs=2, cleanlab=False, **over
    )
    return study.units(config)[-1]


def test_run_unit_is_deterministic_and_json_serialisable():
    unit = _micro_unit()
    a = study.run_unit(unit)
    b = study.run_unit(copy.deepcopy(unit))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert {m["variant"] for m in a["members"]} == {"ce", "sgce(q=0.2)", "sgce(q=0.5)"}
    names = {row[2] for row in a["metrics"]}
    assert {"test/acc", "val/acc", "noisy/acc_noisy"} <= names
    for member, epoch, _name, value in a["metrics"]:
        assert 0 <= member < len(a["members"]) and epoch >= 1 and np.isfinite(value)


def _fake_results(acc):
    """Unit results with prescribed accuracies: acc[(noise, family)] = (val, best, last)."""
    out = {}
    for (noise, fam, lr), (val, best, last) in acc.items():
        res = out.setdefault(
            (noise, lr), {"dataset": "digits", "noise": noise, "lr": lr, "members": []}
        )
        for seed in range(2):
            res["members"].append(
                {
                    "family": fam,
                    "variant": fam,
                    "loss": fam,
                    "params": {},
                    "seed": seed,
                    "realized_rate": 0.0,
                    "logit_scale": 1.0,
                    "best_test_acc": best,
                    "last_test_acc": last,
                    "best_epoch": 1,
                    "es_test_acc": last,
                    "es_epoch": 1,
                    "val_last_acc": val,
                    "val_best_acc": val,
                    "memorised_last": 0.5,
                    "clean_train_acc_last": 1.0,
                    "diverged_epoch": None,
                }
            )
    return list(out.values())


FAMS = ["ce", "mae", "sgce", "alpha-mae"]


def _config():
    return study.Config.preset("tiny", losses=FAMS, loss_grid={}, cleanlab=False, lrs=[0.01, 0.1])


def _acc(high_ce_last, sym_last, gap=0.1):
    acc = {}
    for lr in (0.01, 0.1):
        good = lr == 0.01  # validation prefers lr 0.01 ...
        for fam in FAMS:
            for noise in ("none", "symmetric:0.6"):
                if noise == "none":
                    best, last = 0.95, 0.95
                elif fam == "ce":
                    best, last = high_ce_last + gap, high_ce_last
                else:
                    best, last = sym_last + 0.01, sym_last
                if not good:  # ... while lr 0.1 has better *test* accuracy: must not be chosen
                    best, last = min(best + 0.03, 1.0), min(last + 0.03, 1.0)
                acc[(noise, fam, lr)] = (0.5 if good else 0.4, best, last)
    return acc


def test_selection_uses_validation_never_test(tmp_path):
    claims = study.analyse(_config(), _fake_results(_acc(0.6, 0.8)), tmp_path)
    with (tmp_path / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {float(r["selected_lr"]) for r in rows} == {0.01}
    assert claims  # analysis ran on synthetic data


def test_claims_follow_the_numbers(tmp_path):
    cfg = _config()
    good = {c.id: c for c in study.analyse(cfg, _fake_results(_acc(0.6, 0.8)), tmp_path / "a")}
    assert good["symmetric-beat-ce-high-noise"].reproduced
    assert good["ce-degrades-with-noise"].reproduced
    assert good["ce-memorisation-gap"].reproduced
    assert good["sgce-competitive"].reproduced
    bad = {c.id: c for c in study.analyse(cfg, _fake_results(_acc(0.8, 0.6, 0.0)), tmp_path / "b")}
    assert not bad["symmetric-beat-ce-high-noise"].reproduced
    assert not bad["ce-memorisation-gap"].reproduced  # best == last: no gap
    assert not bad["sgce-competitive"].reproduced  # 20 points below CE at η = 0.6
    ev = bad["sgce-competitive"].evidence["settings"]["digits symmetric:0.6"]
    assert ev["gap_points"] == pytest.approx(-20.0)
    assert ev["best_baseline"] == "ce"


@pytest.mark.parametrize(
    "override,match",
    [
        ({"losses": ["ce", "nope"]}, "unknown loss"),
        ({"noise": ["symmetric:1.2"]}, "rate"),
        ({"noise": ["gaussian:0.2"]}, "KIND"),
        ({"loss_grid": {"sgce": {"p": [0.1]}}}, "unknown parameter"),
        ({"loss_grid": {"sgcee": {"q": [0.5]}}}, "unknown loss"),
        ({"lrs": [0.0]}, "positive"),
        ({"datasets": ["imagenet"]}, "unknown dataset"),
    ],
)
def test_config_rejects_bad_values(override, match):
    with pytest.raises(ValueError, match=match):
        study.Config.preset("tiny", **override)


@pytest.mark.slow
def test_cleanlab_baseline_runs_in_pool_workers():
    """cleanlab's own multiprocessing must not be used inside spawned sweep workers."""
    from noisylab import sweep

    config = study.Config.preset(
        "tiny", losses=["ce"], seeds=1, epochs=2, cv_epochs=2, lrs=[0.01], noise=["symmetric:0.6"]
    )
    (res,) = sweep.execute("losses", study.units(config), store=None, jobs=2, progress=False)
    assert [m["family"] for m in res["members"]] == ["ce", study.CLEANLAB]
    assert 0.2 < res["filter"]["removed"][0] < 0.9
    assert res["filter"]["precision"][0] > 0.6  # flagged samples are mostly truly noisy
