"""The ``feedback`` study: config validation, units, and the tiny preset end to end."""

import json
import re

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
    with pytest.raises(ValueError, match="CPU only"):
        study.Config.preset("tiny", device="cuda")
    with pytest.raises(ValueError, match="flip_grid"):
        study.units(study.Config.preset("tiny", flip_grid=[0.0, 0.5]))


def test_tiny_preset_runs_and_writes_its_outputs(tmp_path):
    from noisylab.studies import runner

    config = study.Config.preset("tiny")
    claims = runner.run("feedback", config, tmp_path, store=None, progress=False)
    read = read_claims(tmp_path / "claims.json")
    assert [c.id for c in read] == [c.id for c in claims]
    assert {c.id for c in read} == {
        "bon16_beats_sft",
        "ppo_beats_sft",
        "feedme_rc_not_above_sft",
        "ordering_close_to_alpacafarm",
        "sim_gold_rankings_agree",
        "rm_below_agreement_ceiling",
        "inverted_u_noisy_pool",
        "spurious_feature_amplified",
        "rdpo_degrades_less",
        "low_variance_hides_overoptimization",
    }
    table = (tmp_path / "table.md").read_text()
    for m in study.METHODS:
        assert f"| {m} |" in table
    for section in ("PPO along training", "Expert iteration by round", "Gao et al.", "rDPO"):
        assert section in table
    assert not re.search(r"\b(nan|inf)\b", table)  # undefined numbers print as "—"
    for fig in ("bon_curve", "overoptimization", "kl_frontier", "dpo_flip"):
        assert (tmp_path / "figures" / f"{fig}.png").stat().st_size > 10_000
    assert (tmp_path / "results.csv").read_text().count("\n") > 4
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["study"] == "feedback"


def test_run_unit_is_deterministic_and_sane():
    small = {"scale": 0.02, "min_eval": 30, "bon_samples": 16, "ppo_steps": 4, "ppo_eval_every": 2}
    small |= {"ei_prompts": 16, "ei_steps": 3, "quark_samples": 32, "quark_steps": 3}
    config = study.Config.preset(
        "tiny", sft_steps=60, rm_steps=10, method_steps=5, dpo_steps=5, **small
    )
    unit = study.units(config)[0]
    a = study.run_unit(unit)
    b = study.run_unit(unit)
    assert a["methods"] == b["methods"]
    assert a["bon"] == b["bon"]
    assert a["curves"] == b["curves"] and a["dpo_flip"] == b["dpo_flip"]
    r = a
    assert set(r["methods"]) == set(study.METHODS)
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
    # every path starts at the SFT policy: zero KL; PPO is evaluated at steps 0, 2, 4
    ppo = r["curves"]["ppo"]["noisy_pool"]
    assert [row["step"] for row in ppo] == [0, 2, 4] and ppo[0]["kl"] == 0.0
    assert [row["round"] for row in r["curves"]["expert_iteration"]] == [0, 1]
    assert r["methods"]["ppo"]["selected_step"] in (2, 4)
    # the flip sweep contains the main runs at p = flip_rate, and rDPO = DPO at p = 0
    flips = r["dpo_flip"]
    assert [row["flip_rate"] for row in flips["dpo"]] == [0.0, 0.25, 0.4]
    assert flips["rdpo"][0]["gold"] == flips["dpo"][0]["gold"]
    assert flips["dpo"][1]["gold"] == r["methods"]["dpo"]["gold"]
    for m in ("ppo", "quark", "dpo", "expert_iteration"):
        assert r["methods"][m]["kl"] > 0.0
