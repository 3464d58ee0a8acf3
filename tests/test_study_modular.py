"""The ``modular`` study: config validation, units, the tiny preset end to end, and its claims."""

import json

import numpy as np
import pytest

from noisylab.studies import modular as study
from noisylab.studies.base import read_claims


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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from noisylab.studies import runner

    out = tmp_path_factory.mktemp("modular-tiny")
    cfg = study.Config.preset("tiny")
    claims = runner.run("modular", cfg, out, store=None, progress=False)
    return cfg, out, claims


def test_tiny_outputs_written_and_read(tiny_run):
    cfg, out, claims = tiny_run
    for f in ("results.csv", "table.md", "claims.json", "run.json"):
        assert (out / f).exists(), f
    for f in ("learning_curves", "accuracy_vs_width", "spectra_ipr", "pruning_curves"):
        assert (out / "figures" / f"{f}.png").stat().st_size > 1000
    back = read_claims(out / "claims.json")
    assert [c.id for c in back] == [c.id for c in claims]
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
