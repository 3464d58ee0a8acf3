"""Study ``alignment``: the ``extended`` preset's units (no training), the empirical
interpolation threshold (capacity) and the claims' headlines."""

from __future__ import annotations

import json
import math

import pytest

from noisylab.studies import alignment as A
from noisylab.studies.alignment import claims as C
from noisylab.studies.alignment.analyse import empirical_threshold, memorisation_half_n
from noisylab.studies.alignment.records import NSweep, SnrSweep
from noisylab.sweep import run_id, run_ids


def test_extended_preset_builds_and_expands_into_unique_units():
    quick, ext = A.Config.preset("quick"), A.Config.preset("extended")
    units = A.units(ext)
    ids = run_ids(A, units)
    assert len(set(ids)) == len(ids) == len(units)
    for u, rid in zip(units, ids):
        assert run_id(A, json.loads(json.dumps(u))) == rid
    assert len(A.units(quick)) < len(units) < len(A.units(A.Config.preset("paper")))
    lin = [u for u in units if u["setting"] == "linear"]
    assert len(lin) == ext.seeds * len(ext.linear_snrs) * len(ext.linear_alphas)
    assert all(abs(u["n"] / u["d"] - 1) >= 0.05 for u in lin)  # away from the n = d spike
    assert ext.seeds >= 3  # the reference: float32 training is chaotic, use >= 3 seeds
    # the MLP n sweep is dense around the regression threshold (params / outputs ≈ 83)
    nominal = A.mlp_parameters(ext.mlp_width) / 10
    near = [n for n in ext.mlp_ns if nominal / 2 <= n <= 2 * nominal]
    assert len(near) >= 4
    reg = {(u["level"], u["n"]) for u in units if u["setting"] == "mlp_regression"}
    assert {(ext.mlp_snr_n, n) for n in ext.mlp_ns} <= reg
    assert {(s, ext.mlp_snr_sweep_n) for s in ext.mlp_snrs} <= reg


def _mem_rows(mems):
    return [(("mlp_regression", 2.0, n), {"memorisation": m}) for n, m in mems]


def test_empirical_threshold_is_the_capacity_not_the_50_percent_crossing():
    ns = (25, 50, 100, 150, 200, 300, 400, 800, 1600)
    cap = 120.0
    rows = _mem_rows([(n, min(1.0, cap / n)) for n in ns])
    assert empirical_threshold(rows) == pytest.approx(cap)
    # the earlier estimate lands at twice the threshold on the same curve
    assert memorisation_half_n(rows) == pytest.approx(2 * cap, rel=0.05)
    # never below half its noise: the capacity is not measured
    assert empirical_threshold(_mem_rows([(50, 1.0), (100, 0.8), (200, 0.6)])) is None
    # no noise (η = 0): no memorisation, no threshold
    assert empirical_threshold(_mem_rows([(50, math.nan), (100, math.nan)])) is None
    # at least the largest n still fitted exactly
    rows = _mem_rows([(100, 1.0), (400, 1.0), (800, 0.6), (1600, 0.3)])
    assert empirical_threshold(rows) == pytest.approx(480.0)


def _pt(cka, err=0.5):
    return {"cka": cka, "cka_se": 0.0, "test_err": err, "test_err_se": 0.0, "knn": cka}


def test_every_claim_has_a_headline_with_its_number():
    levels = [0.5, 2.0, 8.0]
    snr = SnrSweep(
        "linear α=2",
        "linear",
        [(("linear", s, 50), _pt(c)) for s, c in zip(levels, [0.2, 0.5, 0.9])],
        levels,
    )
    claim = C.alignment_rises_with_snr([snr])
    assert "1.00" in claim.evidence["headline"] and "> 0.9" in claim.evidence["headline"]

    ns = [25, 50, 100, 200]
    rows = [
        (("mlp_regression", 2.0, n), _pt(c, e))
        for n, c, e in zip(ns, [0.6, 0.3, 0.7, 0.8], [0.3, 0.9, 0.4, 0.2])
    ]
    sw = NSweep("mlp_regression SNR=2", "mlp_regression", rows, ns, 40.0, 50.0, 100.0)
    claim = C.alignment_nonmonotonic_in_n([sw])
    ev = claim.evidence[sw.name]
    assert claim.reproduced and ev["min_over_threshold"] == pytest.approx(1.0)
    assert ev["threshold_memorisation_half"] == 100.0 and ev["n_at_test_err_peak"] == 50
    assert "1/1" in claim.evidence["headline"] and "1.00 × threshold" in claim.evidence["headline"]
    far = NSweep("mlp_regression SNR=2", "mlp_regression", rows, ns, 40.0, 200.0)
    claim = C.alignment_nonmonotonic_in_n([far])
    assert not claim.reproduced and "0/1" in claim.evidence["headline"]
    assert "0.25 × threshold" in claim.evidence["headline"]

    dec = C.alignment_decoupled_from_generalisation([sw])
    assert dec.reproduced and "largest CKA gap 0.100" in dec.evidence["headline"]

    agg = {("linear", 4.0, 25): {"cka": 0.4, "theory": 0.44, "theory_finite": 0.4, "alpha": 0.5}}
    theory = C.linear_theory_matches_simulation(agg)
    assert "0.040" in theory.evidence["headline"] and "<= 0.05" in theory.evidence["headline"]
