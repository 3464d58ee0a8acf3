"""The ``losses`` study's ``extended`` preset (builds, expands into valid unique units, no
training) and the analysis added with it: headlines, clean-train accuracy, gap by epoch."""

from __future__ import annotations

import json
import math

import pytest

from noisylab.studies import losses as study
from noisylab.studies.losses import claims as lc
from noisylab.studies.losses.analyse import family_stats, selected_curves
from noisylab.studies.losses.records import FamilyStats, Member, Selection, Unit, UnitResult
from noisylab.sweep import run_id, run_ids
from test_study_losses import _fs as _study_fs


def test_extended_preset_expands_into_valid_unique_units():
    config = study.Config.preset("extended")
    quick = study.Config.preset("quick")
    units = study.units(config)
    # 5 noise settings (quick's 3 and symmetric 0.4, 0.8) x 2 lrs
    assert [(u["noise"], u["lr"]) for u in units] == [
        (n, lr)
        for n in ("none", "symmetric:0.4", "symmetric:0.6", "symmetric:0.8", "pair:mnist:0.4")
        for lr in (1e-3, 3e-3)
    ]
    ids = run_ids(study, units)
    assert len(set(ids)) == len(ids)
    for u, rid in zip(units, ids):
        back = json.loads(json.dumps(u))
        assert Unit.from_dict(back).to_dict() == back
        assert run_id(study, back) == rid
    u = Unit.from_dict(units[0])
    # ~1700 Adam steps (the reference: ~1500 until CE fits MNIST), against ~500 at quick
    n_fit = round(config.n_train * (1 - config.val_frac))
    steps = math.ceil(n_fit / u.batch_size) * u.epochs
    q_fit = round(quick.n_train * (1 - quick.val_frac))
    q_steps = math.ceil(q_fit / quick.batch_size) * quick.epochs
    assert steps >= 1500 and q_steps < 600
    assert u.seeds >= 3  # unstable losses at eta = 0.8
    labels = [v.label for v in u.variants]
    assert len(labels) == len(set(labels))
    assert [x for x in labels if x.startswith("sgce")] == [
        f"sgce(q={q:g})" for q in (0.1, 0.3, 0.5, 0.7)
    ]
    assert [x for x in labels if x.startswith("alpha-mae")] == [
        f"alpha-mae(alpha={a:g})" for a in (0.1, 0.3)
    ]
    # tiny and quick are untouched by the new preset
    assert len(study.units(quick)) == 6 and quick.epochs == 12


def _member(fam: str, params: dict, val: float, test: float, clean: float, seed: int = 0):
    return Member(
        family=fam,
        variant=fam,
        loss=fam,
        params=params,
        seed=seed,
        realized_rate=0.0,
        logit_scale=1.0,
        best_test_acc=test,
        last_test_acc=test,
        best_epoch=4,
        es_test_acc=test,
        es_epoch=4,
        val_last_acc=val,
        val_best_acc=val,
        memorised_last=None,
        clean_train_acc_last=clean,
        diverged_epoch=None,
    )


def test_selected_curves_and_clean_train_follow_the_selection():
    ce = _member("ce", {}, 0.9, 0.9, 1.0)
    a1 = _member("alpha-mae", {"alpha": 0.1}, 0.8, 0.85, 0.9)
    a3 = _member("alpha-mae", {"alpha": 0.3}, 0.5, 0.5, 0.6)
    metrics = [
        [0, 2, "test/acc", 0.7],
        [0, 4, "test/acc", 0.9],
        [1, 2, "test/acc", 0.5],
        [1, 4, "test/acc", 0.85],
        [2, 4, "test/acc", 0.5],  # alpha 0.3: not selected
        [1, 4, "val/acc", 0.1],  # another metric: ignored
    ]
    res = UnitResult("d", "none", 0.01, [ce, a1, a3], metrics=metrics)
    chosen = {
        ("d", "none", "ce"): Selection(0.01, {}, 0.9, [ce]),
        ("d", "none", "alpha-mae"): Selection(0.01, {"alpha": 0.1}, 0.8, [a1]),
    }
    curves = selected_curves([res], chosen)
    assert curves[("d", "none", "ce")] == {2: 0.7, 4: 0.9}
    assert curves[("d", "none", "alpha-mae")] == {2: 0.5, 4: 0.85}
    stats = family_stats(chosen)
    assert stats[("d", "none", "alpha-mae")].clean_train == pytest.approx(0.9)
    c = lc.paper_loss_competitive(stats, chosen, "alpha-mae", ["ce"], ["d"], ["none"], curves)
    ev = c.evidence["settings"]["d none"]
    assert ev["gap_by_epoch"] == {"2": pytest.approx(-20.0), "4": pytest.approx(-5.0)}
    assert ev["clean_train_acc"] == {"alpha-mae": pytest.approx(90.0), "ce": pytest.approx(100.0)}
    assert not c.reproduced  # -5 points < -COMPETITIVE_POINTS
    assert c.evidence["headline"].startswith("worst gap to the best baseline -5.0 points at d none")


def _fs(last: float, best: float | None = None, **over) -> FamilyStats:
    return _study_fs(last, best, **{"seeds": 3, **over})


def test_every_claim_has_a_headline_with_its_number():
    losses = ["ce", "mae", "sgce", "unhinged"]
    noise = ["none", "symmetric:0.6", "symmetric:0.8"]
    stats = {}
    for spec, ce in zip(noise, (0.95, 0.75, 0.45)):
        stats[("d", spec, "ce")] = _fs(ce, ce + (0.0 if spec == "none" else 0.1))
        stats[("d", spec, "mae")] = _fs(ce + 0.05)
        stats[("d", spec, "sgce")] = _fs(ce + 0.01)
        stats[("d", spec, "unhinged")] = _fs(ce - 0.01, logit_scale=2.0)
        stats[("d", spec, study.RAW_UNHINGED)] = _fs(0.2, logit_scale=1e5)
    chosen = {("d", s, "sgce"): Selection(0.01, {"q": 0.3}, 0.5, []) for s in noise}
    got = {
        c.id: c
        for c in [
            lc.symmetric_beat_ce_high_noise(stats, ["d"], noise, losses),
            lc.paper_loss_competitive(stats, chosen, "sgce", ["ce", "mae"], ["d"], noise),
            lc.ce_degrades_with_noise(stats, ["d"], noise),
            lc.ce_memorisation_gap(stats, ["d"], noise),
            lc.raw_unhinged_diverges(stats, ["d"], noise),
        ]
    }
    head = {k: c.evidence["headline"] for k, c in got.items()}
    assert head["symmetric-beat-ce-high-noise"].startswith(
        "fewest symmetric losses above CE (last epoch): 2/3 at symmetric:0.6"
    )
    assert got["symmetric-beat-ce-high-noise"].reproduced
    assert head["sgce-competitive"].startswith("worst gap to the best baseline -4.0 points")
    assert not got["sgce-competitive"].reproduced
    assert head["ce-degrades-with-noise"].startswith(
        "d: CE last-epoch accuracy 95.0 -> 75.0 -> 45.0 at eta 0, 0.6, 0.8"
    )
    assert got["ce-degrades-with-noise"].reproduced
    assert head["ce-memorisation-gap"].startswith(
        "smallest CE best-minus-last gap 10.0 points at d eta 0.6, 0.0 without noise"
    )
    assert head["raw-unhinged-diverges"].startswith(
        "raw unhinged failed and ended below normalised unhinged in 3/3 settings; "
        "smallest raw/normalised logit-scale ratio 5e+04"
    )
    assert got["raw-unhinged-diverges"].reproduced
    empty = lc.raw_unhinged_diverges({}, ["d"], noise)
    assert not empty.reproduced and "not reproduced" in empty.evidence["headline"]


def test_audit_covers_every_claim_of_the_extended_preset():
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "docs" / "audit" / "losses.yaml"
    audit = yaml.safe_load(path.read_text())
    ids = [c.id for c in lc.evaluate(study.Config.preset("extended"), {}, {})]
    assert sorted(audit) == sorted(ids)
    for entry in audit.values():
        assert entry["category"] in {"reproduced", "budget", "protocol", "not-reproduced"}
        assert entry["why"].strip() and "--preset extended" in entry["experiment"]
