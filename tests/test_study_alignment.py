"""Study ``alignment``: config validation, units, claim logic on known inputs, tiny end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from noisylab.studies import alignment as A
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


def test_tiny_preset_end_to_end(tmp_path):
    from noisylab.studies import runner

    cfg = A.Config.preset("tiny")
    runner.run("alignment", cfg, tmp_path, store=None, progress=False)
    claims = read_claims(tmp_path / "claims.json")
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
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000
    with (tmp_path / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(A.units(cfg))
    assert all(np.isfinite(float(r["cka"])) for r in rows)
    mlp = [r for r in rows if r["setting"] == "mlp_classification" and float(r["level"]) == 0.0]
    assert float(mlp[0]["cka"]) > 0.99  # no noise + shared init: the members are identical
    assert "mutual kNN" in (tmp_path / "table.md").read_text()


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
