"""The ``losses`` study: the tiny preset's stored outputs, protocol (selection on val only),
records, and the claim logic (one test per claim function)."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from noisylab.studies import losses as study
from noisylab.studies.base import read_claims
from noisylab.studies.losses import claims as lc
from noisylab.studies.losses.records import FamilyStats, Member, Selection, Unit, UnitResult
from noisylab.sweep import open_store, run_id


def _stored(tiny_report: Path, units: list[dict]) -> list[dict]:
    """The results of ``units`` in the session's tiny store, in unit order."""
    with open_store(tiny_report.parent / "results" / "noisylab.sqlite") as store:
        done = store.done_results([run_id(study, u) for u in units])
    return [done[run_id(study, u)] for u in units]


@pytest.fixture(scope="module")
def tiny_run(tiny_report, tmp_path_factory):
    """The tiny preset as run by the session's ``noisylab reproduce --preset tiny``: its config,
    the claims analysed anew from the stored results, and the report's output folder."""
    config = study.Config.preset("tiny")
    results = _stored(tiny_report, study.units(config))
    claims = study.analyse(config, results, tmp_path_factory.mktemp("losses-reanalysed"))
    return config, claims, tiny_report / "losses"


def test_tiny_preset_writes_every_output(tiny_run):
    config, claims, out = tiny_run
    for name in ("results.csv", "table.md", "claims.json", "run.json", "candidates.csv"):
        assert (out / name).is_file(), name
    png = (out / "figures" / "accuracy_vs_noise.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    stored = read_claims(out / "claims.json")
    assert [c.id for c in stored] == [c.id for c in claims]
    assert stored == claims  # analysing the stored results again gives the report's claims
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
    (res,) = sweep.execute(study, study.units(config), store=None, jobs=2, progress=False)
    assert [m["family"] for m in res["members"]] == ["ce", study.CLEANLAB]
    assert 0.2 < res["filter"]["removed"][0] < 0.9
    assert res["filter"]["precision"][0] > 0.6  # flagged samples are mostly truly noisy


# ----------------------------------------------------------------------------- records


def test_records_round_trip_the_store_dicts(tiny_report):
    units = study.units(study.Config.preset("tiny"))
    for u, res in zip(units, _stored(tiny_report, units)):
        assert Unit.from_dict(u).to_dict() == u
        parsed = UnitResult.from_dict(res)
        assert parsed.to_dict() == res
        cl = [m for m in parsed.members if m.family == study.CLEANLAB]
        assert cl and all(m.removed_frac is not None for m in cl)
        assert all("removed_frac" not in m for m in res["members"] if m["family"] != study.CLEANLAB)


def test_records_reject_missing_and_unknown_keys():
    unit = study.units(study.Config.preset("tiny"))[0]
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['val_frac'\]"):
        Unit.from_dict({k: v for k, v in unit.items() if k != "val_frac"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrs'\]"):
        Unit.from_dict({**unit, "lrs": [0.1]})
    member = _fake_results(_acc(0.6, 0.8))[0]["members"][0]
    assert Member.from_dict(member).to_dict() == member
    with pytest.raises(ValueError, match=r"losses member lacks key\(s\) \['seed'\]"):
        Member.from_dict({k: v for k, v in member.items() if k != "seed"})
    with pytest.raises(ValueError, match="lacks 'members'"):
        study.analyse(_config(), [{"dataset": "digits"}], Path("unused"))


# ----------------------------------------------------------------------------- one test per claim


def _fs(last: float, best: float | None = None, **over) -> FamilyStats:
    values = {
        "best": last if best is None else best,
        "last": last,
        "es": last,
        "memorised": 0.5,
        "diverged": 0,
        "logit_scale": 1.0,
        "seeds": 2,
    }
    return FamilyStats(**{**values, **over})


@pytest.mark.parametrize(
    ("mae", "sgce", "alpha_mae", "expected"),
    [
        (0.7, 0.7, 0.4, True),  # 2 of 3 symmetric losses beat CE (0.5): a majority
        (0.7, 0.4, 0.4, False),  # 1 of 3: not a majority
    ],
)
def test_claim_symmetric_beat_ce_high_noise(mae, sgce, alpha_mae, expected):
    losses = ["ce", "mae", "sgce", "alpha-mae"]
    stats = {("d", "symmetric:0.6", f): _fs(v) for f, v in zip(losses, (0.5, mae, sgce, alpha_mae))}
    stats[("d", "symmetric:0.4", "ce")] = _fs(0.9)  # below HIGH_NOISE: not a setting
    c = lc.symmetric_beat_ce_high_noise(stats, ["d"], ["symmetric:0.4", "symmetric:0.6"], losses)
    assert c.reproduced is expected
    assert list(c.evidence) == ["metric", "d symmetric:0.6", "headline"]
    assert c.evidence["d symmetric:0.6"]["beat_ce_last"] == ("2/3" if expected else "1/3")
    assert "(mae, sgce, alpha-mae)" in c.statement


@pytest.mark.parametrize(("sgce", "expected"), [(0.785, True), (0.775, False)])
def test_claim_paper_loss_competitive(sgce, expected):
    stats = {("d", "none", "ce"): _fs(0.8), ("d", "none", "mae"): _fs(0.6)}
    stats[("d", "none", "sgce")] = _fs(sgce)
    chosen = {("d", "none", "sgce"): Selection(0.01, {"q": 0.2}, 0.5, [])}
    c = lc.paper_loss_competitive(stats, chosen, "sgce", ["ce", "mae"], ["d"], ["none"])
    assert c.reproduced is expected  # COMPETITIVE_POINTS = 2: 1.5 below passes, 2.5 fails
    ev = c.evidence["settings"]["d none"]
    assert ev["best_baseline"] == "ce"
    assert ev["gap_points"] == pytest.approx(100 * (sgce - 0.8))
    assert ev["selected"] == {"q": 0.2, "lr": 0.01}
    assert c.evidence["within_2_points"] == ("1/1" if expected else "0/1")
    none = lc.paper_loss_competitive({}, {}, "sgce", ["ce"], ["d"], ["none"])
    assert not none.reproduced  # no setting with results: nothing shown


@pytest.mark.parametrize(
    ("lasts", "expected"),
    [
        ((0.9, 0.8, 0.6), True),
        ((0.9, 0.6, 0.8), False),  # not monotone
        ((0.9, 0.9, 0.6), False),  # not strictly falling
    ],
)
def test_claim_ce_degrades_with_noise(lasts, expected):
    noise = ["none", "symmetric:0.4", "pair:mnist:0.4", "symmetric:0.6"]
    stats = {
        ("d", s, "ce"): _fs(v) for s, v in zip(["none", "symmetric:0.4", "symmetric:0.6"], lasts)
    }
    stats[("d", "pair:mnist:0.4", "ce")] = _fs(0.1)  # not symmetric: ignored
    c = lc.ce_degrades_with_noise(stats, ["d"], noise)
    assert c.reproduced is expected
    assert c.evidence["d"]["rates"] == [0.0, 0.4, 0.6]
    assert c.evidence["d"]["last"] == pytest.approx([100 * v for v in lasts])
    single = lc.ce_degrades_with_noise({("d", "none", "ce"): _fs(0.9)}, ["d"], ["none"])
    assert not single.reproduced  # one rate shows no trend


@pytest.mark.parametrize(
    ("gap0", "gap6", "expected"),
    [
        (0.005, 0.03, True),
        (0.005, 0.008, False),  # below MIN_MEMORISATION_GAP = 1 point
        (0.04, 0.03, False),  # not more than without noise
    ],
)
def test_claim_ce_memorisation_gap(gap0, gap6, expected):
    stats = {
        ("d", "none", "ce"): _fs(0.9, 0.9 + gap0),
        ("d", "symmetric:0.6", "ce"): _fs(0.6, 0.6 + gap6, memorised=0.7),
    }
    c = lc.ce_memorisation_gap(stats, ["d"], ["none", "symmetric:0.6"])
    assert c.reproduced is expected
    assert c.evidence["d"]["0.6"]["gap"] == pytest.approx(100 * gap6)
    assert c.evidence["d"]["0.6"]["memorised_noisy_train_labels"] == pytest.approx(70.0)
    clean_only = lc.ce_memorisation_gap({("d", "none", "ce"): _fs(0.9)}, ["d"], ["none"])
    assert not clean_only.reproduced  # no rate >= MEMORISATION_NOISE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"last": float("nan"), "diverged": 2}, True),  # NaN
        ({"last": 0.3, "logit_scale": 500.0}, True),  # logits 500x, and worse
        ({"last": 0.3, "logit_scale": 50.0}, False),  # worse, but no blow-up (< LOGIT_BLOWUP x)
        ({"last": 0.9, "diverged": 1}, False),  # diverged once, yet ends better
    ],
)
def test_claim_raw_unhinged_diverges(raw, expected):
    stats = {
        ("d", "none", "unhinged"): _fs(0.8),
        ("d", "none", study.RAW_UNHINGED): _fs(**{"last": 0.0, **raw}),
    }
    c = lc.raw_unhinged_diverges(stats, ["d"], ["none"])
    assert c.reproduced is expected
    assert c.evidence["d none"]["raw_diverged_seeds"] == raw.get("diverged", 0)
    assert not lc.raw_unhinged_diverges({}, ["d"], ["none"]).reproduced  # no evidence


def test_evaluate_runs_the_claims_of_the_configured_losses():
    config = _config()
    config_ids = [c.id for c in lc.evaluate(config, {}, {})]
    assert config_ids == [
        "symmetric-beat-ce-high-noise",
        "sgce-competitive",
        "alpha-mae-competitive",
        "ce-degrades-with-noise",
        "ce-memorisation-gap",
    ]
    assert lc.baselines_of(config) == ["ce", "mae"]
    raw = study.Config.preset("tiny", losses=["unhinged"], raw_unhinged=True, cleanlab=True)
    assert [c.id for c in lc.evaluate(raw, {}, {})] == [
        "symmetric-beat-ce-high-noise",
        "raw-unhinged-diverges",
    ]
    assert lc.baselines_of(raw) == [study.CLEANLAB]
