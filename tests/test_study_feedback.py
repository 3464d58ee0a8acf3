"""The ``feedback`` study: config validation, units, records, each claim on hand-made data,
one seed's pipeline, and the tiny preset's outputs (from the session's ``tiny_report``)."""

import json
import re

import numpy as np
import pytest

from noisylab.studies import feedback as study
from noisylab.studies.base import read_claims
from noisylab.studies.feedback import claims as C
from noisylab.studies.feedback.records import Unit, UnitResult

CLAIM_IDS = [
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
]


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


def test_unit_dicts_are_the_config_less_seeds_and_parse_back():
    c = study.Config.preset("quick", seed=5)
    us = study.units(c)
    expected = c.model_dump()
    del expected["seeds"]
    for i, u in enumerate(us):
        assert u == {**expected, "seed": 5 + i}
        assert list(u) == list(expected)  # field order, as the store has always had it
        assert Unit.from_dict(u).to_dict() == u
    with pytest.raises(ValueError, match="unknown key"):
        study.run_unit({**us[0], "epochs": 3})
    with pytest.raises(TypeError, match="dict"):
        Unit.from_dict([1, 2])  # type: ignore[arg-type]


def test_unit_result_rejects_missing_and_unknown_keys():
    with pytest.raises(ValueError, match=r"missing key\(s\) \['seed'"):
        UnitResult.from_dict({"methods": {}})
    with pytest.raises(TypeError, match="dict"):
        UnitResult.from_dict("not a result")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the claims
def _summary(**win_sim: float) -> dict[str, dict[str, float]]:
    """A summary where every method has ``win_sim`` (default 0.5) and ``win_gold`` equal."""
    out = {}
    for m in study.METHODS:
        w = win_sim.get(m, 0.5)
        out[m] = {"win_sim": w, "win_gold": w}
    return out


@pytest.mark.parametrize(
    ("fn", "method"), [(C.bon16_beats_sft, "best_of_16"), (C.ppo_beats_sft, "ppo")]
)
def test_beats_sft_needs_a_gain_by_both_judges(fn, method):
    def seeds(d_sim, d_gold):
        base = {"win_sim": 0.3, "win_gold": 0.2}
        return [{"sft": base, method: {"win_sim": 0.3 + d_sim, "win_gold": 0.2 + d_gold}}]

    summary = _summary()
    up = fn(seeds(0.1, 0.05), summary)
    assert up.reproduced and up.evidence["per_seed_gold_gain"] == pytest.approx([0.05])
    assert not fn(seeds(0.1, -0.01), summary).reproduced  # gold disagrees
    assert not fn(seeds(-0.1, 0.05), summary).reproduced  # the simulator disagrees
    # the mean over seeds decides: one loss is outweighed by a larger gain
    two = seeds(0.1, 0.1) + seeds(-0.05, -0.05)
    assert fn(two, summary).reproduced


def test_feedme_rc_not_above_sft_uses_the_margin():
    margin = C.FEEDME_RC_MARGIN
    near = _summary(sft=0.4, feedme=0.4 + margin, reward_conditioning=0.3)
    assert C.feedme_rc_not_above_sft(near).reproduced
    above = _summary(sft=0.4, feedme=0.4 + margin + 0.01, reward_conditioning=0.3)
    claim = C.feedme_rc_not_above_sft(above)
    assert not claim.reproduced and claim.evidence["tolerance"] == margin
    assert C.feedme_rc_not_above_sft(above, margin=0.1).reproduced


def test_ordering_close_to_alpacafarm():
    same = _summary(**{m: af[0] / 100 for m, af in study.ALPACAFARM.items()})
    claim = C.ordering_close_to_alpacafarm(same)
    assert claim.reproduced and claim.evidence["spearman"] == pytest.approx(1.0)
    reversed_ = _summary(**{m: -af[0] for m, af in study.ALPACAFARM.items()})
    assert not C.ordering_close_to_alpacafarm(reversed_).reproduced
    tied = _summary()  # all equal: ρ undefined, not reproduced
    assert not C.ordering_close_to_alpacafarm(tied).reproduced


def test_sim_gold_rankings_agree():
    s = {m: {"win_sim": i / 10, "win_gold": i / 20} for i, m in enumerate(study.METHODS)}
    assert C.sim_gold_rankings_agree(s).reproduced
    for i, m in enumerate(study.METHODS):
        s[m]["win_gold"] = (-1) ** i * i  # alternating: ranks unrelated
    claim = C.sim_gold_rankings_agree(s)
    assert not claim.reproduced and claim.evidence["spearman"] < C.SIM_GOLD_MIN_RHO


def test_rm_below_agreement_ceiling():
    agree = [{"clean_pool": {"with_gold": 0.84}, "noisy_pool": {"with_gold": 0.67}}]
    below = [{"noisy_pool": {"val_acc_gold": 0.80}, "clean_pool": {"val_acc_gold": 0.88}}]
    assert C.rm_below_agreement_ceiling(below, agree).reproduced
    above_clean_rm = [{"noisy_pool": {"val_acc_gold": 0.80}, "clean_pool": {"val_acc_gold": 0.79}}]
    assert not C.rm_below_agreement_ceiling(above_clean_rm, agree).reproduced
    no_ablation = [{"noisy_pool": {"val_acc_gold": 0.80}}]
    claim = C.rm_below_agreement_ceiling(no_ablation, agree)
    assert claim.reproduced and "rm_acc_clean_pool" not in claim.evidence
    above_ceiling = [{"noisy_pool": {"val_acc_gold": 0.85}}]
    assert not C.rm_below_agreement_ceiling(above_ceiling, agree).reproduced


def _path(gold, proxy=None, se=0.01, **extra):
    gold = np.asarray(gold, float)
    proxy = np.arange(gold.size, dtype=float) if proxy is None else np.asarray(proxy, float)
    d = {"gold": gold, "proxy": proxy, "win_gold": gold, "gold_se": np.full(gold.size, se)}
    d["win_gold_se"] = d["gold_se"]
    return d | {k: np.asarray(v, float) for k, v in extra.items()}


def test_inverted_u_noisy_pool_needs_a_fall_beyond_two_se_on_both_paths():
    u, rising = [0.5, 0.7, 0.6], [0.5, 0.6, 0.7]
    both = {"bon_noisy_pool": _path(u), "ppo_noisy_pool": _path(u)}
    claim = C.inverted_u_noisy_pool(both, n_seeds=1)
    assert claim.reproduced
    assert claim.evidence["bon_noisy_pool"]["gold"]["tolerance"] == pytest.approx(2 * 0.01)
    assert not C.inverted_u_noisy_pool({**both, "ppo_noisy_pool": _path(rising)}, 1).reproduced
    # a fall of 0.1 is inside two SEs of 0.06: not an inverted U
    assert not C.inverted_u_noisy_pool({k: _path(u, se=0.06) for k in both}, 1).reproduced
    # with 4 seeds the SE of the seed mean halves: 2 · 0.06 / 2 = 0.06 < 0.1
    assert C.inverted_u_noisy_pool({k: _path(u, se=0.06) for k in both}, 4).reproduced
    # the proxy must keep rising after the gold peak
    flat_proxy = {k: _path(u, proxy=[0.0, 1.0, 1.0]) for k in both}
    assert not C.inverted_u_noisy_pool(flat_proxy, 1).reproduced


def test_spurious_feature_amplified():
    longer = {
        k: {"length": np.array([4.0, 5.0, 6.0])} for k in ("bon_noisy_pool", "ppo_noisy_pool")
    }
    claim = C.spurious_feature_amplified({**longer, "expert_iteration": {}}, 5.0)
    assert claim.reproduced and set(claim.evidence["length"]) == set(longer)
    longer["ppo_noisy_pool"]["length"] = np.array([6.0, 5.0, 6.0])
    assert not C.spurious_feature_amplified(longer, 5.0).reproduced


def test_rdpo_degrades_less():
    def seed(dpo_gold, rdpo_gold, se=0.01):
        rates = [0.0, 0.25, 0.4]
        return {
            k: [{"flip_rate": p, "gold": g, "gold_se": se} for p, g in zip(rates, golds)]
            for k, golds in (("dpo", dpo_gold), ("rdpo", rdpo_gold))
        }

    good = seed([0.6, 0.5, 0.4], [0.6, 0.58, 0.55])
    claim = C.rdpo_degrades_less([good])
    assert claim.reproduced and claim.evidence["dpo"]["drop"] == pytest.approx(0.2)
    # one seed: the drop's SE is √2 times the prompts' SE
    assert claim.evidence["dpo"]["drop_se"] == pytest.approx(np.sqrt(2) * 0.01)
    assert not C.rdpo_degrades_less([seed([0.6, 0.5, 0.4], [0.6, 0.4, 0.3])]).reproduced
    assert not C.rdpo_degrades_less([seed([0.6, 0.5, 0.4], [0.6, 0.6, 0.6], se=0.1)]).reproduced
    # several seeds: the SE comes from the spread of the drops
    spread = [seed([0.6, 0.5, 0.4], [0.6, 0.6, 0.6]), seed([0.6, 0.6, 0.59], [0.6, 0.6, 0.6])]
    assert not C.rdpo_degrades_less(spread).reproduced


def test_low_variance_hides_overoptimization():
    def path(win_low, win_gold):
        return {"win_low": np.array(win_low), "win_gold": np.array(win_gold)}

    hides = {
        "bon_low_variance": path([0.5, 0.6, 0.6], [0.5, 0.6, 0.4]),
        "ppo_low_variance": path([0.5, 0.7, 0.69], [0.5, 0.6, 0.5]),
    }
    claim = C.low_variance_hides_overoptimization({**hides, "bon_noisy_pool": {}})
    assert claim.reproduced and set(claim.evidence) == {*hides, "headline"}
    hides["ppo_low_variance"] = path([0.5, 0.7, 0.4], [0.5, 0.6, 0.5])
    assert not C.low_variance_hides_overoptimization(hides).reproduced
    assert not C.low_variance_hides_overoptimization({}).reproduced  # ablations off


# ----------------------------------------------------------------------------- end to end
def test_tiny_preset_writes_its_outputs(tiny_report):
    out = tiny_report / "feedback"
    read = read_claims(out / "claims.json")
    assert [c.id for c in read] == CLAIM_IDS
    for c in read:  # every claim states the number that decides it, and the threshold
        assert "reproduced when" in c.evidence["headline"], c.id
        assert re.search(r"\d\.\d{2}", c.evidence["headline"]), c.id
    table = (out / "table.md").read_text()
    for m in study.METHODS:
        assert f"| {m} |" in table
    for section in ("PPO along training", "Expert iteration by round", "Gao et al.", "rDPO"):
        assert section in table
    assert not re.search(r"\b(nan|inf)\b", table)  # undefined numbers print as "—"
    for fig in ("bon_curve", "overoptimization", "kl_frontier", "dpo_flip"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 10_000
    assert (out / "results.csv").read_text().count("\n") > 4
    meta = json.loads((out / "run.json").read_text())
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
    assert UnitResult.from_dict(a).to_dict() == a  # the record round-trips the result
    assert UnitResult.from_dict(json.loads(json.dumps(a))).to_dict() == json.loads(json.dumps(a))
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
