"""Study ``sharpness``: the tiny preset's stored outputs, its records, and the claim logic."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from noisylab.studies import base as study_base
from noisylab.studies import sharpness as sh
from noisylab.studies.sharpness import claims as sc
from noisylab.studies.sharpness.records import Member, Unit, UnitResult
from noisylab.sweep import open_store, run_id


@pytest.fixture(scope="module")
def tiny(tiny_report, tmp_path_factory):
    """The tiny preset as run by the session's ``noisylab reproduce --preset tiny``: its units,
    their stored results (in unit order), its output folder and the claims analysed anew."""
    config = sh.Config.preset("tiny")
    units = sh.units(config)
    with open_store(tiny_report.parent / "results" / "noisylab.sqlite") as store:
        done = store.done_results([run_id(sh, u) for u in units])
    results = [done[run_id(sh, u)] for u in units]
    out = tiny_report / "sharpness"
    claims = sh.analyse(config, results, tmp_path_factory.mktemp("sharpness-reanalysed"))
    return config, units, results, out, claims


def test_tiny_units_cover_datasets_and_methods(tiny):
    config, units, results, _, _ = tiny
    assert [(u["dataset"], u["method"]) for u in units] == [
        ("mnist", m) for m in ["sgd", "sam", "vasso:0.4"]
    ]
    assert units[2]["optimizer"] == "vasso" and units[2]["optimizer_params"]["theta"] == 0.4
    assert units[0]["optimizer"] == "sgd" and "rho" not in units[0]["optimizer_params"]
    for res in results:
        assert len(res["members"]) == len(config.noise_rates) * config.seeds
        json.dumps(res)  # JSON-serialisable


def test_tiny_members_are_paired_across_methods(tiny):
    _, _, results, _, _ = tiny
    rates = [[m["realized_rate"] for m in r["members"]] for r in results]
    assert rates[0] == rates[1] == rates[2]
    assert sorted({round(x, 2) for x in rates[0]}) == [0.0, 0.5]  # ⌊η·n_c⌋ per class


def test_tiny_metrics_rows_and_direction_stats(tiny):
    _, _, results, _, _ = tiny
    by_method = {r["method"]: r for r in results}
    names = {row[2] for row in by_method["sam"]["metrics"]}
    assert {"test/acc", "noisy/acc_noisy", "dir/cos_consecutive", "dir/variance"} <= names
    assert "dir/variance" not in {row[2] for row in by_method["sgd"]["metrics"]}
    for row in by_method["sam"]["metrics"]:
        member, epoch, _name, value = row
        assert isinstance(member, int) and isinstance(epoch, int) and isinstance(value, float)
    for m in by_method["sam"]["members"]:
        assert 0.0 <= m["dir_variance"] <= 1.0 and -1.0 <= m["dir_cos"] <= 1.0
        assert m["hessian_top"] > 0 and m["m_sharpness"] > 0
    assert all(m["dir_variance"] is None for m in by_method["sgd"]["members"])


def test_tiny_outputs_and_claims_json(tiny):
    config, _, _, out, claims = tiny
    for name in ("results.csv", "table.md", "claims.json", "run.json"):
        assert (out / name).exists(), name
    assert (out / "figures" / "accuracy_vs_noise.png").stat().st_size > 0
    assert (out / "figures" / "direction_stability.png").stat().st_size > 0
    read = study_base.read_claims(out / "claims.json")
    assert [c.id for c in read] == [c.id for c in claims]
    assert read == claims  # analysing the stored results again gives the report's claims
    ids = {c.id for c in read}
    assert {
        "sam-beats-sgd-under-noise",
        "vasso-matches-sam-high-noise",
        "vasso-lower-direction-variance",
        "sam-memorises-less",
        "sam-flatter-minima",
    } <= ids

    # evidence numbers are the means of results.csv
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(config.noise_rates) * config.seeds
    sam_last = np.mean(
        [float(r["last_test_acc"]) for r in rows if r["optimizer"] == "sam" and r["noise"] == "0.5"]
    )
    c1 = next(c for c in read if c.id == "sam-beats-sgd-under-noise")
    assert c1.evidence["mnist η=0.5"]["sam_last"] == pytest.approx(100 * sam_last)
    diff = c1.evidence["mnist η=0.5"]["diff_last_points"]
    assert c1.reproduced == (diff > 0)

    # averaging the perturbation directions (θ = 0.4) lowers their variance: a mechanical fact
    c3 = next(c for c in read if c.id == "vasso-lower-direction-variance")
    assert c3.reproduced
    ev = c3.evidence["mnist η=0.5"]
    assert ev["vasso:0.4_variance"] < ev["sam_variance"]
    assert ev["vasso:0.4_cos"] > ev["sam_cos"]
    assert "| sam |" in (out / "table.md").read_text()


def test_run_unit_is_deterministic():
    config = sh.Config.preset(
        "tiny", epochs={"mnist": 2}, noise_rates=[0.5], seeds=1, methods=["vasso:0.4"]
    )
    unit = sh.units(config)[0]
    assert sh.run_unit(unit) == sh.run_unit(unit)


def _fake(method: str, noise: float, last: float, var: float | None, mem: float, lam: float):
    return {
        "dataset": "d",
        "method": method,
        "members": [
            {
                "noise": noise,
                "seed": s,
                "realized_rate": noise,
                "best_test_acc": last + 0.01,
                "last_test_acc": last + 0.001 * s,
                "best_epoch": 1,
                "memorised_last": mem,
                "clean_train_acc_last": 1.0,
                "hessian_top": lam,
                "m_sharpness": 0.1,
                "dir_cos": None if var is None else 1 - var,
                "dir_variance": var,
                "diverged_epoch": None,
            }
            for s in range(2)
        ],
        "metrics": [],
    }


@pytest.mark.parametrize("sam_wins", [True, False])
def test_claims_follow_the_numbers(tmp_path: Path, sam_wins: bool):
    config = sh.Config.preset(
        "tiny", datasets=["mnist"], noise_rates=[0.0, 0.75], methods=["sgd", "sam", "vasso:0.4"]
    )
    sam = 0.8 if sam_wins else 0.5
    results = []
    for r in (0.0, 0.75):
        results += [
            _fake("sgd", r, 0.6, None, 0.5, 10.0),
            _fake("sam", r, sam, 0.9, 0.2 if sam_wins else 0.7, 5.0 if sam_wins else 20.0),
            _fake("vasso:0.4", r, sam + 0.02, 0.3 if sam_wins else 0.95, 0.2, 5.0),
        ]
    for res in results:
        res["dataset"] = "mnist"
    claims = {c.id: c for c in sh.analyse(config, results, tmp_path)}
    assert claims["sam-beats-sgd-under-noise"].reproduced is sam_wins
    assert claims["vasso-matches-sam-high-noise"].reproduced
    assert claims["vasso-beats-sam-high-noise"].reproduced
    assert claims["vasso-lower-direction-variance"].reproduced is sam_wins
    assert claims["sam-memorises-less"].reproduced is sam_wins
    assert claims["sam-flatter-minima"].reproduced is sam_wins
    ev = claims["sam-beats-sgd-under-noise"].evidence["mnist η=0.75"]
    assert ev["diff_last_points"] == pytest.approx(100 * (sam - 0.6), abs=1e-6)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"methods": ["sam", "vasso:1.5"]}, r"must lie in \(0, 1\]"),
        ({"methods": ["sam:0.4"]}, "only vasso and fsam take"),
        ({"methods": ["adamx"]}, "unknown method"),
        ({"noise_rates": [0.95]}, "noise rate must lie"),
        ({"base": "sam"}, "one-pass"),
        ({"rho": -0.1}, ">= 0"),
        ({"models": {"mnist": "resnet"}}, "not a registered model"),
    ],
)
def test_config_rejects_bad_values(override, match):
    with pytest.raises(ValueError, match=match):
        sh.Config.preset("tiny", **override)


# ----------------------------------------------------------------------------- records


def test_records_round_trip_the_store_dicts(tiny):
    _, units, results, _, _ = tiny
    for u, res in zip(units, results):
        assert Unit.from_dict(u).to_dict() == u
        parsed = UnitResult.from_dict(res)
        assert parsed.to_dict() == res
        assert all(isinstance(m, Member) for m in parsed.members)


def test_records_reject_missing_and_unknown_keys():
    unit = sh.units(sh.Config.preset("tiny"))[0]
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['lr'\]"):
        Unit.from_dict({k: v for k, v in unit.items() if k != "lr"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrs'\]"):
        Unit.from_dict({**unit, "lrs": [0.1]})
    with pytest.raises(ValueError, match="lacks 'members'"):
        sh.analyse(sh.Config.preset("tiny"), [{"dataset": "mnist"}], Path("unused"))


# ----------------------------------------------------------------------------- one test per claim


def _member(seed: int, noise: float = 0.5, **over) -> Member:
    values = {
        "noise": noise,
        "seed": seed,
        "realized_rate": noise,
        "best_test_acc": 0.8,
        "last_test_acc": 0.7,
        "best_epoch": 2,
        "memorised_last": 0.5,
        "clean_train_acc_last": 1.0,
        "hessian_top": 10.0,
        "m_sharpness": 0.1,
        "dir_cos": 0.5,
        "dir_variance": 0.5,
        "diverged_epoch": None,
    }
    return Member(**{**values, **over})


def _groups(spec: dict[tuple[float, str], dict]) -> sc.Groups:
    """Two seeds per (η, method) on dataset "d"; ``spec`` overrides member fields."""
    return {("d", r, m): [_member(s, r, **over) for s in range(2)] for (r, m), over in spec.items()}


@pytest.mark.parametrize("sam_last", [0.75, 0.65])
def test_claim_sam_beats_sgd(sam_last):
    g = _groups({(0.5, "sgd"): {"last_test_acc": 0.7}, (0.5, "sam"): {"last_test_acc": sam_last}})
    c = sc.sam_beats_sgd_under_noise(g, ["d"])
    assert c.reproduced is (sam_last > 0.7)
    assert c.evidence["d η=0.5"]["diff_last_points"] == pytest.approx(100 * (sam_last - 0.7))
    assert c.evidence["d η=0.5"]["seeds_sam_wins_last"] == ("2/2" if sam_last > 0.7 else "0/2")


@pytest.mark.parametrize(
    ("vasso_last", "matches", "beats"),
    [(0.695, True, False), (0.68, False, False), (0.71, True, True)],
)
def test_claims_vasso_vs_sam_at_high_noise(vasso_last, matches, beats):
    # tolerance VASSO_TOLERANCE_POINTS = 1 point: 0.5 below matches, 2 below does not
    g = _groups(
        {
            (0.75, "sam"): {"last_test_acc": 0.7},
            (0.75, "vasso:0.4"): {"last_test_acc": vasso_last},
            (0.25, "sam"): {"last_test_acc": 0.9},  # below HIGH_NOISE: ignored
            (0.25, "vasso:0.4"): {"last_test_acc": 0.1},
        }
    )
    m = sc.vasso_matches_sam_high_noise(g, ["d"], ["vasso:0.4"])
    b = sc.vasso_beats_sam_high_noise(g, ["d"], ["vasso:0.4"])
    assert (m.reproduced, b.reproduced) == (matches, beats)
    assert list(m.evidence) == ["headline", "metric", "tolerance_points", "d η=0.75"]
    assert m.evidence["d η=0.75"]["vasso:0.4 − sam (points)"] == pytest.approx(
        100 * (vasso_last - 0.7)
    )
    assert {k: v for k, v in b.evidence.items() if k != "headline"} == {
        "see": m.id,
        **{k: v for k, v in m.evidence.items() if k != "headline"},
    }


@pytest.mark.parametrize("vasso_var", [0.2, 0.6])
def test_claim_vasso_lower_direction_variance(vasso_var):
    g = _groups(
        {
            (r, m): {"dir_variance": 0.5 if m == "sam" else vasso_var}
            for r in (0.0, 0.5)
            for m in ("sam", "vasso:0.4")
        }
    )
    c = sc.vasso_lower_direction_variance(g, ["d"], ["vasso:0.4"])
    assert c.reproduced is (vasso_var < 0.5)
    assert c.evidence["d η=0"]["vasso:0.4_variance"] == pytest.approx(vasso_var)


@pytest.mark.parametrize("sam_mem", [0.3, 0.9])
def test_claim_sam_memorises_less(sam_mem):
    g = _groups({(0.5, "sgd"): {"memorised_last": 0.6}, (0.5, "sam"): {"memorised_last": sam_mem}})
    c = sc.sam_memorises_less(g, ["d"])
    assert c.reproduced is (sam_mem < 0.6)
    assert c.evidence["d η=0.5"]["memorised_sam"] == pytest.approx(100 * sam_mem)


@pytest.mark.parametrize("sam_lam", [5.0, 50.0])
def test_claim_sam_flatter_minima(sam_lam):
    g = _groups({(0.5, "sgd"): {"hessian_top": 10.0}, (0.5, "sam"): {"hessian_top": sam_lam}})
    c = sc.sam_flatter_minima(g, ["d"])
    assert c.reproduced is (sam_lam < 10.0)
    assert c.evidence["d η=0.5"]["hessian_top_sam"] == pytest.approx(sam_lam)
    assert c.evidence["see"] == "sam-memorises-less"


def test_evaluate_skips_claims_whose_methods_are_missing():
    config = sh.Config.preset("tiny", methods=["sgd", "sam"])
    g = _groups({(0.5, "sgd"): {}, (0.5, "sam"): {}})
    ids = [c.id for c in sc.evaluate(config, g)]
    assert ids == ["sam-beats-sgd-under-noise", "sam-memorises-less", "sam-flatter-minima"]
