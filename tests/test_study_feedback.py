"""The ``feedback`` study: config validation, units, and the tiny preset end to end."""

import json
import time

import pytest

from noisylab.studies import feedback as study
from noisylab.studies.base import read_claims


def test_units_one_per_seed_and_validation():
    c = study.Config.preset("quick")
    us = study.units(c)
    assert [u["seed"] for u in us] == [0, 1, 2]
    assert all("seeds" not in u for u in us)
    with pytest.raises(ValueError, match="bon_samples"):
        study.units(study.Config.preset("tiny", bon_samples=8))
    with pytest.raises(ValueError, match="seeds"):
        study.units(study.Config.preset("tiny", seeds=0))


def test_tiny_preset_runs_and_writes_its_outputs(tmp_path):
    from noisylab.studies import runner

    config = study.Config.preset("tiny")
    t0 = time.process_time()
    claims = runner.run("feedback", config, tmp_path, store=None, progress=False)
    assert time.process_time() - t0 < 60
    read = read_claims(tmp_path / "claims.json")
    assert [c.id for c in read] == [c.id for c in claims]
    assert {c.id for c in read} == {
        "bon16_beats_sft",
        "feedme_rc_not_above_sft",
        "sim_gold_rankings_agree",
        "rm_below_agreement_ceiling",
    }
    table = (tmp_path / "table.md").read_text()
    for m in study.METHODS:
        assert m in table
    assert (tmp_path / "figures" / "bon_curve.png").stat().st_size > 10_000
    assert (tmp_path / "results.csv").read_text().count("\n") > 4
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["study"] == "feedback"


def test_run_unit_is_deterministic_and_sane():
    small = {"scale": 0.02, "min_eval": 30, "bon_samples": 16}
    config = study.Config.preset("tiny", sft_steps=60, rm_steps=10, method_steps=5, **small)
    unit = study.units(config)[0]
    a = study.run_unit(unit)
    b = study.run_unit(unit)
    assert a["methods"] == b["methods"]
    assert a["bon"] == b["bon"]
    r = a
    for m in study.METHODS:
        v = r["methods"][m]
        assert 0.0 <= v["win_sim"] <= 1.0 and 0.0 <= v["win_gold"] <= 1.0
    assert r["methods"]["sft"]["kl"] == 0.0
    assert r["methods"]["feedme"]["kl"] > 0.0
    assert abs(r["realised_flip_rate"] - 0.25) < 0.06
    bon = r["bon"]["noisy_pool"]
    # n = 1 of the estimator is the plain mean over the SFT candidates; proxy rises with n
    assert all(x <= y + 1e-9 for x, y in zip(bon["proxy"], bon["proxy"][1:]))
    assert r["bon"]["kl_bound"][0] == 0.0
