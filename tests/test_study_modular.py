"""The ``modular`` study: config validation, units and records, each claim on a hand-made
member table, the tiny preset end to end (the shared tiny store), and its claims."""

import dataclasses
import json

import numpy as np
import pytest

from noisylab.studies import modular as study
from noisylab.studies.base import read_claims
from noisylab.studies.modular import claims as C
from noisylab.studies.modular.records import MemberTable, Unit, UnitResult


def test_presets_validate_and_units_per_width():
    for name in ("tiny", "quick", "paper"):
        cfg = study.Config.preset(name)
        us = study.units(cfg)
        assert [u["width"] for u in us] == cfg.widths
        assert all(u["noise_rates"] == cfg.noise_rates for u in us)
    paper = study.Config.preset("paper")
    assert paper.p == 113 and paper.activation == "relu" and max(paper.widths) == 4097
    assert paper.noise_rates == [0.0, 0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"op": "div"}, "op must be"),
        ({"noise": "flip"}, "noise must be"),
        ({"noise_rates": [0.5, 1.5]}, "noise_rates"),
        ({"widths": []}, "widths"),
        ({"activation": "tanh"}, "activation"),
        ({"train_fraction": 1.0}, "fraction"),
    ],
)
def test_config_rejects_bad_values(override, match):
    with pytest.raises(ValueError, match=match):
        study.Config.preset("tiny", **override)


def test_crossing_epoch_interpolates():
    assert study.crossing_epoch([10, 20, 30], np.array([0.2, 0.6, 1.0]), 0.9) == pytest.approx(27.5)
    assert study.crossing_epoch([10, 20], np.array([0.1, 0.5]), 0.9) is None
    assert study.crossing_epoch([10], np.array([1.0]), 0.5) == pytest.approx(5.0)


#: the claims, in the order ``analyse`` returns them.
CLAIM_IDS = ["extraction_80", "memorise_first", "width_helps", "partition_between"]


@pytest.fixture(scope="module")
def tiny_run(tiny_report):
    out = tiny_report / "modular"
    return study.Config.preset("tiny"), out, read_claims(out / "claims.json")


def test_tiny_outputs_written_and_read(tiny_run):
    cfg, out, claims = tiny_run
    for f in ("results.csv", "table.md", "claims.json", "run.json"):
        assert (out / f).exists(), f
    for f in ("learning_curves", "accuracy_vs_width", "spectra_ipr", "pruning_curves"):
        assert (out / "figures" / f"{f}.png").stat().st_size > 1000
    back = read_claims(out / "claims.json")
    assert [c.id for c in back] == [c.id for c in claims] == CLAIM_IDS
    assert {c.id for c in back} == {
        "extraction_80",
        "memorise_first",
        "width_helps",
        "partition_between",
    }
    import csv

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == len(cfg.widths) * len(cfg.noise_rates) * cfg.seeds
    assert {"raw_test", "G_test", "R_test", "part_strength_test", "memorised_epoch"} <= set(rows[0])
    json.loads((out / "run.json").read_text())


def test_tiny_extraction_claim_holds(tiny_run):
    """P = 31, x², N = 513 at 80% noise: G generalises while the raw network memorises."""
    _, _, claims = tiny_run
    c = {c.id: c for c in claims}["extraction_80"]
    assert c.reproduced
    ev = c.evidence
    assert ev["G_test"] >= 0.99 and ev["raw_test"] < 0.2
    assert ev["raw_noisy_vs_noisy"] > 0.95  # the raw network memorised the noisy labels
    assert ev["R_noisy_vs_noisy"] > 0.9  # and the memorisation lives in R
    assert ev["G_noisy_vs_noisy"] < 0.1


def test_tiny_claim_evidence_is_consistent(tiny_run):
    _, _, claims = tiny_run
    c = {c.id: c for c in claims}
    mem = c["memorise_first"].evidence
    assert mem["runs"] == 4
    firsts = [
        r["noisy_90"] is not None and (r["clean_90"] is None or r["noisy_90"] < r["clean_90"])
        for r in mem["per_run"]
    ]
    assert mem["fraction_noisy_first"] == pytest.approx(np.mean(firsts))
    assert c["memorise_first"].reproduced == (np.mean(firsts) >= 0.8)
    part = c["partition_between"].evidence
    expect = part["part_strength_test"] >= part["raw_test"] + 0.05
    expect = expect and part["part_strength_test"] < part["G_test"]
    assert c["partition_between"].reproduced == expect
    width = c["width_helps"].evidence
    assert width["widths"] == [129, 513] and len(width["raw_test"]) == 2


def test_run_unit_is_deterministic_and_json():
    cfg = study.Config.preset(
        "tiny", widths=[33], noise_rates=[0.5], epochs=20, pruning_steps=3, partition_grid=[0.5]
    )
    unit = study.units(cfg)[0]
    a, b = study.run_unit(unit), study.run_unit(unit)
    assert json.dumps(a) == json.dumps(b)
    names = {row[2] for row in a["metrics"]}
    assert {"clean/acc", "noisy/acc_noisy", "noisy/acc_true", "test/acc"} <= names
    m = a["members"][0]
    assert m["realized_rate"] == pytest.approx(0.5, abs=1e-3)
    assert len(m["pruning"]["ipr"]["ascending"]["removed"]) == 3
    assert UnitResult.from_dict(json.loads(json.dumps(a))).to_dict() == a  # a typed round trip


def test_units_are_records_of_every_config_field():
    cfg = study.Config.preset("tiny")
    unit = study.units(cfg)[0]
    # every Config field but the sweep's (widths) and the seed travels with the unit
    expect = (set(study.Config.model_fields) - {"widths", "seed"}) | {"width", "split_seed"}
    assert {f.name for f in dataclasses.fields(Unit)} == expect
    assert set(unit) == expect - {"checkpoints"}  # left out when empty (tiny, quick: #13)
    back = json.loads(json.dumps(unit))  # as the store keeps it
    assert Unit.from_dict(back).to_dict() == unit  # the same unit (betas a pair again)
    assert Unit.from_dict(unit).combos == [(0.4, 0), (0.8, 0)]
    with pytest.raises(ValueError, match="lacks key"):
        Unit.from_dict({k: v for k, v in unit.items() if k != "betas"})
    with pytest.raises(ValueError, match="unknown key"):
        Unit.from_dict({**unit, "widths": [1]})


# ----------------------------------------------------------------------------- one test per claim


def _table(cells, **extra):
    """A member table: one seed per (width, rate), columns from ``cells[(width, rate)]``."""
    return MemberTable(
        [{"width": w, "rate": a, "seed": 0, **c, **extra} for (w, a), c in cells.items()]
    )


def test_claim_extraction_80():
    def table(g_wide):
        cells = {"R_test": 0.0, "G_noisy": 0.0, "R_noisy": 1.0, "raw_noisy": 1.0}
        return _table(
            {
                (129, 0.8): {"G_test": 0.5, "raw_test": 0.05, **cells},
                (513, 0.8): {"G_test": g_wide, "raw_test": 0.1, **cells},
            }
        )

    claim = C.extraction_80(table(0.995))
    assert claim.reproduced and claim.evidence["width"] == 513  # the widest network decides
    assert claim.statement.startswith("At 80% label noise") and ">= 99%" in claim.statement
    assert not C.extraction_80(table(0.98)).reproduced  # below 99 %
    low = _table({(513, 0.4): {"G_test": 1.0, "raw_test": 0.1}})  # no rate reaches 80 %
    assert not C.extraction_80(low).reproduced and "0.8" in C.extraction_80(low).evidence["reason"]


def _runs(pairs, lead=None):
    """Rows of noisy runs with (noisy 90 % epoch, clean 90 % epoch) pairs, and one clean run;
    with ``lead``, each run's 50 % epochs are half its 90 % ones and its largest lead is
    ``lead``."""
    rows = [
        {
            "width": 8,
            "rate": 0.4,
            "seed": s,
            "memorised_epoch": m,
            "fit_epoch": f,
            "memorised_epoch_50": None if lead is None else m / 2,
            "fit_epoch_50": None if lead is None else f / 2,
            "max_lead": lead,
        }
        for s, (m, f) in enumerate(pairs)
    ]
    rows.append({"width": 8, "rate": 0.0, "seed": 0, "memorised_epoch": None, "fit_epoch": 5.0})
    return MemberTable(rows)


def test_claim_memorise_first():
    first = C.memorise_first(_runs([(10.0, 20.0), (10.0, None), (5.0, 50.0), (1.0, 2.0)]), 0.9)
    assert first.reproduced and first.evidence["runs"] == 4  # the clean run is not counted
    assert "90% accuracy" in first.statement
    # 3 of 4 (75 % < 80 %): one run fitted the clean data first, one never memorised
    late = C.memorise_first(_runs([(10.0, 20.0), (30.0, 20.0), (5.0, 50.0), (1.0, 2.0)]), 0.9)
    assert not late.reproduced and late.evidence["fraction_noisy_first"] == 0.75
    assert not C.memorise_first(_runs([(None, 20.0)] * 4), 0.9).reproduced


def test_claim_width_helps():
    def table(raws):
        return _table({(w, 0.8): {"raw_test": r, "G_test": 1.0} for w, r in zip((129, 513), raws)})

    assert C.width_helps(table([0.1, 0.2])).reproduced
    assert not C.width_helps(table([0.1, 0.12])).reproduced  # 2 points < 5
    assert not C.width_helps(table([0.3, 0.1])).reproduced  # narrower is better
    one = _table({(513, 0.8): {"raw_test": 0.9, "G_test": 1.0}})
    assert not C.width_helps(one).reproduced  # a single width shows nothing


def test_claim_partition_between():
    def table(part):
        cell = {
            "raw_test": 0.1,
            "G_test": 0.99,
            "part_strength_test": part,
            "part_ipr_test": part,
            "mem_strength_noisy": 0.9,
        }
        return _table({(513, 0.8): cell})

    assert C.partition_between(table(0.5), k_fraction=0.25).reproduced
    assert not C.partition_between(table(0.12), k_fraction=0.25).reproduced  # +2 points only
    assert not C.partition_between(table(1.0), k_fraction=0.25).reproduced  # above G
    assert not C.partition_between(table(None), k_fraction=0.25).reproduced
