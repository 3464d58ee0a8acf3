"""Study ``sharpness``: the extended preset (ρ grid chosen on a noisy validation split, epoch
budgets), the ρ selection and the claims' headlines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from noisylab.studies import sharpness as sh
from noisylab.studies.sharpness import claims as sc
from noisylab.studies.sharpness import tuning
from noisylab.studies.sharpness.records import Member, Unit
from noisylab.studies.sharpness.run import val_split
from noisylab.sweep import run_id


def test_extended_units_are_valid_unique_and_cover_the_grid():
    config = sh.Config.preset("extended")
    units = sh.units(config)
    ids = [run_id(sh, u) for u in units]
    assert len(set(ids)) == len(ids)
    for u in units:
        assert Unit.from_dict(u).to_dict() == u
        assert u["val_frac"] == pytest.approx(0.2)
    keys = {
        (u["dataset"], u["epochs"], u["method"], u["optimizer_params"].get("rho")) for u in units
    }
    assert len(keys) == len(units)
    # SAM and both VaSSO θ at every ρ of the grid and every budget; SGD once, ASAM at asam_rho
    for ds, budgets in (("mnist", [40, 20]), ("mnist1d", [60])):
        for e in budgets:
            for m in ("sam", "vasso:0.9", "vasso:0.4"):
                assert {k[3] for k in keys if k[:3] == (ds, e, m)} == {0.1, 0.2, 0.4}
            assert {k[3] for k in keys if k[:3] == (ds, e, "sgd")} == {None}
            assert {k[3] for k in keys if k[:3] == (ds, e, "asam")} == {config.asam_rho}
    assert len(units) == 2 * 11 + 11
    # the probe radius is the same for every unit (comparable sharpness numbers)
    assert {u["rho_probe"] for u in units} == {config.rho}


def test_quick_units_keep_their_form():
    for u in sh.units(sh.Config.preset("quick")):
        assert "val_frac" not in u  # default left out: quick's stored results stay valid
        assert u["optimizer_params"].get("rho") in (None, 0.1, 1.0)
    assert len(sh.units(sh.Config.preset("quick"))) == 10


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"rhos": [0.05, 0.1], "val_frac": 0.0}, "val_frac"),
        ({"rhos": [0.1, 0.1], "val_frac": 0.2}, "duplicates"),
        ({"rhos": [-0.1]}, "> 0"),
        ({"val_frac": 0.6}, r"\[0, 0.5\)"),
        ({"epoch_budgets": {"mnist": [8]}}, "repeats"),
        ({"epoch_budgets": {"mnist": [0]}}, ">= 1"),
    ],
)
def test_config_rejects_bad_grids(override, match):
    with pytest.raises(ValueError, match=match):
        sh.Config.preset("tiny", **override)


def test_val_split_is_a_seeded_partition():
    tr, va = val_split(100, 0.2, seed=3)
    assert len(va) == 20 and len(tr) == 80
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    _, va2 = val_split(100, 0.2, seed=3)
    assert (va == va2).all() and not (va == val_split(100, 0.2, seed=4)[1]).all()


def _m(seed: int, noise: float, val: float | None, last: float, var: float | None = 0.5):
    return Member(
        noise=noise,
        seed=seed,
        realized_rate=noise,
        best_test_acc=last + 0.01,
        last_test_acc=last,
        best_epoch=1,
        memorised_last=0.3,
        clean_train_acc_last=1.0,
        hessian_top=5.0,
        m_sharpness=0.1,
        dir_cos=None if var is None else 1 - var,
        dir_variance=var,
        diverged_epoch=None,
        val_last_acc=val,
    )


def test_choose_uses_validation_never_test():
    # ρ = 0.2 is best on test, ρ = 0.05 on the noisy validation split: 0.05 is chosen
    sw: tuning.Sweep = {
        ("d", 0.5, "sam", 0.05, 10): [_m(s, 0.5, 0.6, 0.70) for s in range(2)],
        ("d", 0.5, "sam", 0.2, 10): [_m(s, 0.5, 0.5, 0.90) for s in range(2)],
    }
    rho, vals = tuning.choose(sw, "d", 0.5, "sam", 10)
    assert rho == 0.05 and vals == {"0.05": pytest.approx(0.6), "0.2": pytest.approx(0.5)}
    # a tie goes to the smaller ρ; no validation numbers: the default ρ if it ran
    sw[("d", 0.5, "sam", 0.2, 10)] = [_m(s, 0.5, 0.6, 0.9) for s in range(2)]
    assert tuning.choose(sw, "d", 0.5, "sam", 10)[0] == 0.05
    nov = {k: [_m(s, 0.5, None, 0.7) for s in range(2)] for k in sw}
    assert tuning.choose(nov, "d", 0.5, "sam", 10, default_rho=0.2)[0] == 0.2
    assert tuning.choose(nov, "d", 0.5, "sam", 10)[0] == 0.05
    assert tuning.choose(sw, "d", 0.5, "sgd", 10) == (None, {})


def _result(method: str, rho: float | None, epochs: int, val: float, last: float, var=0.5):
    params = {"momentum": 0.9} if rho is None else {"rho": rho}
    return {
        "dataset": "mnist",
        "method": method,
        "optimizer": method.split(":")[0],
        "optimizer_params": params,
        "epochs": epochs,
        "members": [
            _m(s, r, val, last + 0.001 * s, None if method == "sgd" else var).to_dict()
            for r in (0.0, 0.75)
            for s in range(2)
        ],
        "metrics": [],
    }


def test_analyse_picks_rho_on_validation_and_shows_budgets(tmp_path: Path):
    config = sh.Config.preset(
        "tiny",
        noise_rates=[0.0, 0.75],
        methods=["sgd", "sam", "vasso:0.4"],
        rhos=[0.05, 0.2],
        val_frac=0.2,
        epochs={"mnist": 8},
        epoch_budgets={"mnist": [4]},
    )
    results = []
    for e in (8, 4):
        results.append(_result("sgd", None, e, 0.5, 0.5))
        # SAM: ρ=0.2 wins on validation (and loses on test); VaSSO: ρ=0.05 wins on validation
        results.append(_result("sam", 0.05, e, 0.55, 0.80))
        results.append(_result("sam", 0.2, e, 0.60, 0.70))
        results.append(_result("vasso:0.4", 0.05, e, 0.65, 0.72 if e == 8 else 0.69, 0.2))
        results.append(_result("vasso:0.4", 0.2, e, 0.50, 0.60, 0.2))
    claims = {c.id: c for c in sh.analyse(config, results, tmp_path)}
    for c in claims.values():
        assert (
            isinstance(c.evidence["headline"], str) and "reproduced when" in c.evidence["headline"]
        )
    m = claims["vasso-matches-sam-high-noise"]
    # tuned: SAM ρ=0.2 (last 0.70), VaSSO ρ=0.05 (last 0.72): +2 points at 8 epochs
    assert m.evidence["mnist η=0.75"]["sam"] == pytest.approx(70.05)
    assert m.evidence["mnist η=0.75"]["vasso:0.4 − sam (points)"] == pytest.approx(2.0)
    assert m.reproduced and claims["vasso-beats-sam-high-noise"].reproduced
    assert "+2.00 points" in m.evidence["headline"]
    budget = m.evidence["vasso − sam (points) by epoch budget, ρ tuned per budget"]
    assert budget["mnist η=0.75 vasso:0.4"] == {
        "4 epochs": pytest.approx(-1.0),
        "8 epochs": pytest.approx(2.0),
    }
    per_rho = m.evidence["vasso − sam (points) at the same ρ, main budget"]
    assert per_rho["mnist η=0.75 vasso:0.4"] == {
        "ρ=0.05": pytest.approx(-8.0),
        "ρ=0.2": pytest.approx(-10.0),
    }
    tuned = m.evidence["ρ chosen on the noisy validation split (main budget)"]
    assert tuned["mnist η=0.75"] == {"sam": 0.2, "vasso:0.4": 0.05}
    # every (method, ρ, budget, η, seed) is one row of results.csv
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(results) * 4


def test_headlines_name_the_deciding_number():
    g = {
        ("d", 0.5, "sgd"): [_m(s, 0.5, None, 0.7, None) for s in range(2)],
        ("d", 0.5, "sam"): [_m(s, 0.5, None, 0.75) for s in range(2)],
        ("d", 0.5, "vasso:0.4"): [_m(s, 0.5, None, 0.73, 0.25) for s in range(2)],
    }
    c = sc.sam_beats_sgd_under_noise(g, ["d"])
    assert c.evidence["headline"].startswith("smallest SAM − SGD last-epoch accuracy +5.00 points")
    m = sc.vasso_matches_sam_high_noise(g, ["d"], ["vasso:0.4"])
    assert "-2.00 points (vasso:0.4, d η=0.5)" in m.evidence["headline"] and not m.reproduced
    v = sc.vasso_lower_direction_variance(g, ["d"], ["vasso:0.4"])
    assert "-0.25" in v.evidence["headline"] and v.reproduced


def test_direction_variance_compares_at_the_same_rho():
    # VaSSO is below SAM at each ρ, but SAM at ρ=0.4 is below VaSSO at ρ=0.1: comparing the
    # (different) tuned radii would fail; the claim compares at every shared ρ and holds
    def g(sam_var: float, vasso_var: float) -> sc.Groups:
        return {
            ("d", 0.5, "sam"): [_m(s, 0.5, None, 0.7, sam_var) for s in range(2)],
            ("d", 0.5, "vasso:0.4"): [_m(s, 0.5, None, 0.7, vasso_var) for s in range(2)],
        }

    per_rho = {0.1: g(0.9, 0.8), 0.4: g(0.5, 0.4)}
    tuned = {**g(0.5, 0.8)}  # SAM tuned to 0.4, VaSSO to 0.1
    assert not sc.vasso_lower_direction_variance(tuned, ["d"], ["vasso:0.4"]).reproduced
    c = sc.vasso_lower_direction_variance(tuned, ["d"], ["vasso:0.4"], per_rho)
    assert c.reproduced
    assert set(c.evidence) >= {"d η=0.5 ρ=0.1", "d η=0.5 ρ=0.4"}
    per_rho[0.4] = g(0.5, 0.6)
    c = sc.vasso_lower_direction_variance(tuned, ["d"], ["vasso:0.4"], per_rho)
    assert not c.reproduced and "ρ=0.4" in c.evidence["headline"]
