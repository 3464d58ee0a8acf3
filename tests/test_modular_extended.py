"""The ``modular`` study's ``extended`` preset (issue #13): its units, the checkpoint
snapshots (a budget axis inside one run), and the claims' headlines and trends."""

import json

import pytest

from noisylab.studies import modular as study
from noisylab.studies.modular import claims as C
from noisylab.studies.modular.records import SNAPSHOT_KEYS, MemberTable, Unit, UnitResult
from noisylab.sweep import run_id, run_ids
from test_study_modular import _runs

#: the extended preset's budget (unit-seconds), as issue #13 gives it to this study.
BUDGET_S = 1800


def test_extended_builds_and_expands_into_valid_unique_units():
    cfg = study.Config.preset("extended")
    quick = study.Config.preset("quick")
    assert cfg.epochs > quick.epochs  # further toward the paper's long training
    assert cfg.checkpoints == sorted(cfg.checkpoints) and cfg.checkpoints[-1] == cfg.epochs
    assert quick.epochs in cfg.checkpoints  # quick's budget is one point on the axis
    assert max(cfg.noise_rates) >= C.EXTRACTION_NOISE and cfg.seeds >= 2
    units = study.units(cfg)
    assert [u["width"] for u in units] == cfg.widths
    ids = run_ids(study, units)
    assert len(set(ids)) == len(ids)
    for u, rid in zip(units, ids):
        back = json.loads(json.dumps(u))
        assert run_id(study, back) == rid
        parsed = Unit.from_dict(back)
        assert parsed.checkpoints == tuple(cfg.checkpoints) and parsed.to_dict() == u
        assert len(parsed.combos) == len(cfg.noise_rates) * cfg.seeds


def test_extended_cost_model_fits_the_budget():
    """Per member-epoch CPU cost (x², P = 47, 1 thread) is about linear in width; with the
    measured ~35 µs per neuron per member-epoch (362 CPU-s for the N = 513 unit) the widest unit stays under a quarter of
    the budget and the whole preset under the budget."""
    cfg = study.Config.preset("extended")
    per_neuron_epoch_s = 35e-6
    cost = {
        w: w * per_neuron_epoch_s * cfg.epochs * len(cfg.noise_rates) * cfg.seeds
        for w in cfg.widths
    }
    assert max(cost.values()) <= BUDGET_S / 4
    assert sum(cost.values()) <= BUDGET_S


def test_tiny_and_quick_units_keep_their_identity():
    """No checkpoints: the unit dict has no ``checkpoints`` key, so stored runs still match."""
    for name in ("tiny", "quick"):
        for u in study.units(study.Config.preset(name)):
            assert "checkpoints" not in u
            assert Unit.from_dict(u).checkpoints == ()


@pytest.mark.parametrize("bad", [[7], [0], [10_000], [300, 300]])
def test_checkpoints_are_validated(bad):
    with pytest.raises(ValueError, match="checkpoints"):
        study.Config.preset("extended", checkpoints=bad)


def test_run_unit_records_snapshots_at_checkpoints():
    cfg = study.Config.preset(
        "tiny",
        widths=[33],
        noise_rates=[0.5],
        seeds=2,
        epochs=20,
        eval_every=5,
        checkpoints=[10, 20],
        pruning_steps=3,
        partition_grid=[0.5],
    )
    res = study.run_unit(study.units(cfg)[0])
    snaps = res["snapshots"]
    assert [(s["member"], s["epoch"]) for s in snaps] == [(0, 10), (1, 10), (0, 20), (1, 20)]
    assert all(set(s) == {"member", "epoch", *SNAPSHOT_KEYS} for s in snaps)
    # the last snapshot is the trained network: the same accuracies as the final analysis
    last = {s["member"]: s for s in snaps if s["epoch"] == 20}
    for m in res["members"]:
        assert last[m["member"]]["raw_test"] == pytest.approx(m["acc"]["raw"]["test"])
        assert last[m["member"]]["G_test"] == pytest.approx(m["acc"]["G"]["test"])
        assert last[m["member"]]["part_strength_test"] == pytest.approx(
            m["acc"]["part_strength"]["test"]
        )
    parsed = UnitResult.from_dict(json.loads(json.dumps(res)))
    assert parsed.to_dict() == res
    old = {k: v for k, v in res.items() if k != "snapshots"}  # a result stored before #13
    assert UnitResult.from_dict(old).snapshots == []


def _snap_table():
    """Two widths at noise 0.8, one seed, snapshots at epochs 100 and 200: raw test rises
    with width only at the later checkpoint; the partition overtakes raw at 200."""
    rows, snaps = [], []
    for w, raw200 in ((64, 0.05), (256, 0.20)):
        rows.append(
            {
                "width": w,
                "rate": 0.8,
                "seed": 0,
                "raw_test": raw200,
                "G_test": 1.0,
                "part_strength_test": raw200 + 0.1,
                "part_ipr_test": raw200,
                **dict.fromkeys(("raw_noisy", "R_noisy", "mem_strength_noisy"), 1.0),
                **dict.fromkeys(("R_test", "G_noisy"), 0.0),
            }
        )
        for e, raw, part in ((100, 0.05, 0.05), (200, raw200, raw200 + 0.1)):
            snaps.append(
                {
                    "width": w,
                    "rate": 0.8,
                    "seed": 0,
                    "member": 0,
                    "epoch": e,
                    "raw_test": raw,
                    "raw_noisy": 1.0,
                    "G_test": 1.0,
                    "part_strength_test": part,
                    "part_ipr_test": raw,
                    "ipr_mean": e / 1000,
                }
            )
    return MemberTable(rows, snaps)


def test_claims_report_the_budget_trend():
    table = _snap_table()
    assert table.checkpoints == [100, 200]
    width = C.width_helps(table).evidence["by_epoch"]  # JSON-ready: epochs as strings
    assert width["100"]["gain_widest_vs_narrowest"] == pytest.approx(0.0)
    assert width["200"]["gain_widest_vs_narrowest"] == pytest.approx(0.15)
    assert width["200"]["spearman"] == pytest.approx(1.0)
    assert width["200"]["ipr_mean_widest"] == pytest.approx(0.2)
    part = C.partition_between(table, 0.25).evidence["by_epoch"]
    assert part["100"]["part_strength_test"] == part["100"]["raw_test"] == pytest.approx(0.05)
    assert part["200"]["part_strength_test"] - part["200"]["raw_test"] == pytest.approx(0.1)
    assert part["200"]["ipr_mean"] == pytest.approx(0.2)
    assert C.extraction_80(table).evidence["by_epoch"]["200"]["G_test"] == 1.0
    # the other noise rates' trends ride along (here: a 0.4 copy of the 0.8 snapshots)
    low = MemberTable(
        table.rows + [{**r, "rate": 0.4} for r in table.rows],
        table.snapshots + [{**s, "rate": 0.4} for s in table.snapshots],
    )
    at = C.partition_between(low, 0.25).evidence["by_epoch_at_rate"]
    assert list(at) == ["0.4"] and at["0.4"]["200"]["part_strength_test"] == pytest.approx(0.3)
    w_at = C.width_helps(low).evidence["by_epoch_at_rate"]["0.4"]["200"]
    assert w_at["gain_widest_vs_narrowest"] == pytest.approx(0.15)
    # without snapshots the trend is simply empty
    assert C.width_helps(MemberTable(table.rows)).evidence["by_epoch"] == {}


def test_every_claim_has_a_headline_with_its_number_and_threshold():
    table = _snap_table()
    w = C.width_helps(table)
    assert w.reproduced
    assert w.evidence["headline"].startswith("Spearman(width, raw test) 1.00, widest - narrowest")
    assert "+15.0 points" in w.evidence["headline"] and ">= 5 points" in w.evidence["headline"]
    p = C.partition_between(table, 0.25)
    assert p.reproduced and "test 30.0% vs raw 20.0%" in p.evidence["headline"]
    assert "raw + 5 points" in p.evidence["headline"]
    e = C.extraction_80(table)
    assert "G test 100.0%" in e.evidence["headline"] and ">= 99.0%" in e.evidence["headline"]
    mem = C.memorise_first(_runs([(10.0, 20.0), (30.0, 20.0)], lead=0.1), 0.9)
    assert mem.evidence["headline"] == (
        "noisy subset reaches 90% first in 50% of 2 noisy runs (reproduced when >= 80%)"
    )
    assert mem.evidence["fraction_noisy_first_at_50"] == 0.5
    assert mem.evidence["median_max_lead"] == pytest.approx(0.1)
