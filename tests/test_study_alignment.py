"""Study ``alignment``: config validation, units and records, each claim on hand-made sweeps,
claim logic through ``analyse`` on known inputs, the tiny preset end to end (shared store)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from noisylab.studies import alignment as A
from noisylab.studies.alignment import claims as C
from noisylab.studies.alignment.records import (
    LinearResult,
    MLPUnit,
    NSweep,
    SnrSweep,
    result_from_dict,
    unit_from_dict,
)
from noisylab.studies.base import read_claims


def test_config_validation_and_units():
    cfg = A.Config.preset("tiny")
    us = A.units(cfg)
    assert len(us) == len({json.dumps(u, sort_keys=True) for u in us})  # no duplicates
    lin = [u for u in us if u["setting"] == "linear"]
    assert len(lin) == len(cfg.linear_snrs) * len(cfg.linear_alphas) * cfg.seeds
    # the n-sweep and the noise sweep share (η, n) = (0.4, 400): it runs once
    cls = [u for u in us if u["setting"] == "mlp_classification"]
    assert len(cls) == len(cfg.mlp_ns) + len(cfg.mlp_etas) - 1
    json.dumps(us)
    with pytest.raises(ValueError, match="spike"):
        A.Config(linear_alphas=[0.5, 1.0])
    with pytest.raises(ValueError, match="members"):
        A.Config(members=1)
    with pytest.raises(ValueError, match="mlp_etas"):
        A.Config(mlp_etas=[0.95])
    assert A.mlp_parameters(16) == 826  # 40-16-10 MLP, the reference's network


def _fake(setting, level, n, cka, err, seed=0, **kw):
    row = {
        "setting": setting,
        "level": level,
        "n": n,
        "seed": seed,
        "alpha": n / 50,
        "cka": cka,
        "cka_sd": 0.01,
        "knn": cka / 2,
        "test_err": err,
        "train_err": 0.0,
        "threshold": 50.0,
        "theory": cka,
        "theory_finite": cka,
        "steps": 100,
        "converged": True,
        "cpu_s": 0.0,
    }
    row.update(kw)
    return row


def _cfg():
    return A.Config(
        seeds=1,
        linear_d=50,
        linear_snrs=[1.0, 4.0],
        linear_alphas=[0.5, 2.0, 4.0],
        mlp=False,
    )


def test_claims_follow_the_data(tmp_path):
    """The claim logic reads the numbers: a dip at the threshold passes, a monotone curve fails."""
    cfg = _cfg()
    dip = {25: 0.30, 100: 0.50, 200: 0.70}
    rows = [_fake("linear", 4.0, n, c, err=1 - c) for n, c in dip.items()]
    rows += [_fake("linear", 1.0, n, c - 0.2, err=1.2 - c) for n, c in dip.items()]
    claims = {c.id: c for c in A.analyse(cfg, rows, tmp_path)}
    assert claims["alignment_rises_with_snr"].reproduced
    assert claims["linear_theory_matches_simulation"].evidence["mae_large_d"] == 0.0
    # minimum at n = 25 (α = 0.5) is at the edge of the sweep: not an interior dip
    assert not claims["alignment_nonmonotonic_in_n"].reproduced
    # CKA and error move together here: no decoupling
    assert not claims["alignment_decoupled_from_generalisation"].reproduced

    cfg2 = A.Config(
        seeds=1, linear_d=50, linear_snrs=[4.0], linear_alphas=[0.5, 0.8, 2.0, 4.0], mlp=False
    )
    vals = {25: (0.6, 0.9), 40: (0.3, 0.95), 100: (0.7, 0.4), 200: (0.8, 0.2)}
    rows = [_fake("linear", 4.0, n, c, e) for n, (c, e) in vals.items()]
    claims = {c.id: c for c in A.analyse(cfg2, rows, tmp_path)}
    ev = claims["alignment_nonmonotonic_in_n"].evidence["linear SNR=4"]
    assert ev["n_at_min"] == 40 and claims["alignment_nonmonotonic_in_n"].reproduced
    # n = 25 is more aligned than n = 40 and also better on test (0.9 < 0.95): coupled
    assert not claims["alignment_decoupled_from_generalisation"].reproduced
    vals[25] = (0.6, 1.2)  # more aligned than n = 40 AND worse on test: decoupled
    rows = [_fake("linear", 4.0, n, c, e) for n, (c, e) in vals.items()]
    claims = {c.id: c for c in A.analyse(cfg2, rows, tmp_path)}
    pair = claims["alignment_decoupled_from_generalisation"].evidence["linear SNR=4"]
    assert pair["discordant_pair"]["more_aligned_n"] == 25
    assert claims["alignment_decoupled_from_generalisation"].reproduced
    bad = [_fake("linear", 4.0, n, c, e, theory=c + 0.2) for n, (c, e) in vals.items()]
    claims = {c.id: c for c in A.analyse(cfg2, bad, tmp_path)}
    assert not claims["linear_theory_matches_simulation"].reproduced


def test_run_unit_is_deterministic():
    unit = [u for u in A.units(A.Config.preset("tiny")) if u["setting"] == "linear"][7]
    a, b = A.run_unit(unit), A.run_unit(unit)
    a.pop("cpu_s"), b.pop("cpu_s")
    assert a == b
    assert 0.0 <= a["cka"] <= 1.0 and a["converged"]


def test_tiny_preset_end_to_end(tiny_report):
    out = tiny_report / "alignment"
    cfg = A.Config.preset("tiny")
    claims = read_claims(out / "claims.json")
    ids = {c.id for c in claims}
    assert ids == {
        "alignment_rises_with_snr",
        "alignment_nonmonotonic_in_n",
        "alignment_decoupled_from_generalisation",
        "linear_theory_matches_simulation",
    }
    by = {c.id: c for c in claims}
    theory = by["linear_theory_matches_simulation"]
    assert theory.reproduced and theory.evidence["mae_large_d"] <= 0.05
    assert by["alignment_rises_with_snr"].reproduced
    for name in ("alignment_vs_snr", "alignment_vs_n", "theory_vs_simulation"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(A.units(cfg))
    assert all(np.isfinite(float(r["cka"])) for r in rows)
    mlp = [r for r in rows if r["setting"] == "mlp_classification" and float(r["level"]) == 0.0]
    assert float(mlp[0]["cka"]) > 0.99  # no noise + shared init: the members are identical
    assert "mutual kNN" in (out / "table.md").read_text()


def test_label_flips_are_exact_at_small_n():
    """η·n flips at every n: per-class flooring would leave n = 25, η = 0.2 noise-free."""
    y = np.repeat(np.arange(10), [2, 2, 3, 2, 2, 3, 3, 3, 3, 2])  # n = 25, 2–3 per class
    flips = [A.flip_labels(y, 10, 0.2, np.random.default_rng([0, m])) for m in range(8)]
    for f in flips:
        assert (f != y).sum() == 5  # round(0.2 · 25)
        assert f.min() >= 0 and f.max() < 10
    assert len({tuple(f) for f in flips}) == 8  # independent realisations per member
    assert (A.flip_labels(y, 10, 0.0, np.random.default_rng(0)) == y).all()
    big = np.random.default_rng(1).integers(0, 10, size=20000)
    moved = A.flip_labels(big, 10, 0.4, np.random.default_rng(2))
    to = np.bincount(((moved - big) % 10)[moved != big], minlength=10)
    assert to[0] == 0 and np.allclose(to[1:] / to.sum(), 1 / 9, atol=0.01)  # uniform over others


# ----------------------------------------------------------------------------- records


def test_units_are_records_and_round_trip():
    us = A.units(A.Config.preset("tiny"))
    for u in us:
        assert unit_from_dict(json.loads(json.dumps(u))).to_dict() == u
    assert list(us[0]) == [
        "setting",
        "level",
        "n",
        "seed",
        "d",
        "width",
        "members",
        "probe",
        "max_steps",
        "weight_decay",
        "k",
        "device",
    ]
    with pytest.raises(ValueError, match="unknown setting 'cnn'"):
        unit_from_dict({**us[0], "setting": "cnn"})
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['probe'\]"):
        unit_from_dict({k: v for k, v in us[0].items() if k != "probe"})
    mlp = MLPUnit("mlp_regression", 2.0, 400, 0, 16, 8, 10, 0.01, 10, "cpu").to_dict()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['probe'\]"):
        unit_from_dict({**mlp, "probe": 5})
    row = _fake("linear", 4.0, 25, 0.5, 0.3)
    rec = result_from_dict(row)
    assert isinstance(rec, LinearResult) and rec.to_dict() == row
    with pytest.raises(ValueError, match="cpu_s"):
        result_from_dict({k: v for k, v in row.items() if k != "cpu_s"})


# ----------------------------------------------------------------------------- one test per claim


def _pt(cka, err=0.5, cka_se=0.0, err_se=0.0, knn=None):
    return {
        "cka": cka,
        "cka_se": cka_se,
        "test_err": err,
        "test_err_se": err_se,
        "knn": cka if knn is None else knn,
    }


def test_claim_alignment_rises_with_snr():
    def sweep(ckas):
        levels = [0.5, 2.0, 8.0]
        rows = [(("linear", lv, 50), _pt(c)) for lv, c in zip(levels, ckas)]
        return SnrSweep("linear α=1.5", "linear", rows, levels)

    assert C.alignment_rises_with_snr([sweep([0.2, 0.5, 0.9])]).reproduced
    falling = C.alignment_rises_with_snr([sweep([0.2, 0.5, 0.9]), sweep([0.9, 0.5, 0.2])])
    assert not falling.reproduced and falling.evidence["min_spearman_cka"] == pytest.approx(-1.0)
    flat = C.alignment_rises_with_snr([sweep([0.4, 0.4, 0.4])])  # ρ undefined: nothing shown
    assert not flat.reproduced and flat.evidence["sweeps"] == 0
    assert "ρ > 0.9" in flat.statement


def _nsweep(ckas, ns=(25, 50, 100, 200), nominal=50.0, se=0.0, errs=None):
    errs = errs or [0.5] * len(ns)
    rows = [(("linear", 4.0, n), _pt(c, e, cka_se=se)) for n, c, e in zip(ns, ckas, errs)]
    return NSweep("linear SNR=4", "linear", rows, list(ns), nominal, nominal)


def test_claim_alignment_nonmonotonic_in_n():
    dip = C.alignment_nonmonotonic_in_n([_nsweep([0.6, 0.3, 0.7, 0.8])])
    assert dip.reproduced and dip.evidence["linear SNR=4"]["n_at_min"] == 50
    assert dip.evidence["linear SNR=4"]["dip_depth"] == pytest.approx(0.3)
    assert not C.alignment_nonmonotonic_in_n([_nsweep([0.3, 0.5, 0.7, 0.8])]).reproduced
    # a dip at n = 200, four times the threshold: too far from it
    assert not C.alignment_nonmonotonic_in_n(
        [_nsweep([0.6, 0.6, 0.7, 0.3, 0.8], ns=(25, 50, 100, 200, 400))]
    ).reproduced
    # a dip within seed noise (depth 0.1 < 2 SE = 0.2) does not count
    assert not C.alignment_nonmonotonic_in_n([_nsweep([0.6, 0.5, 0.7, 0.8], se=0.1)]).reproduced


def test_claim_alignment_decoupled_from_generalisation():
    coupled = _nsweep([0.3, 0.5, 0.7, 0.8], errs=[0.9, 0.7, 0.5, 0.3])
    assert not C.alignment_decoupled_from_generalisation([coupled]).reproduced
    decoupled = _nsweep([0.3, 0.5, 0.7, 0.8], errs=[0.5, 0.7, 0.9, 0.3])
    claim = C.alignment_decoupled_from_generalisation([decoupled])
    assert claim.reproduced
    pair = claim.evidence["linear SNR=4"]["discordant_pair"]
    assert (pair["more_aligned_n"], pair["other_n"]) == (100, 25)  # the largest CKA gap
    # the same pattern inside the CKA margin (gaps ≤ 0.03) is noise, not decoupling
    small = _nsweep([0.30, 0.31, 0.32, 0.33], errs=[0.5, 0.7, 0.9, 0.3])
    assert not C.alignment_decoupled_from_generalisation([small]).reproduced


def test_claim_linear_theory_matches_simulation():
    def agg(offset):
        return {
            ("linear", 4.0, n): {
                "cka": c,
                "theory": c + offset,
                "theory_finite": c,
                "alpha": n / 50,
            }
            for n, c in ((25, 0.4), (100, 0.7))
        }

    close = C.linear_theory_matches_simulation(agg(0.04))
    assert close.reproduced and close.evidence["mae_large_d"] == pytest.approx(0.04)
    assert not C.linear_theory_matches_simulation(agg(0.06)).reproduced
    assert not C.linear_theory_matches_simulation({}).reproduced  # no linear points
