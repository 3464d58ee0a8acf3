"""The feedback study's ``extended`` preset (issue #13) and the analysis added for it: the
preset builds, expands into valid distinct units without training, and every claim carries a
headline generated from its numbers."""

import json

import numpy as np
import pytest

from noisylab.studies import feedback as study
from noisylab.studies.feedback import claims as C
from noisylab.sweep import run_id, run_ids


def test_extended_preset_builds_and_expands_into_distinct_units():
    quick, ext = study.Config.preset("quick"), study.Config.preset("extended")
    units = study.units(ext)
    assert len(units) == ext.seeds == 6
    ids = run_ids(study, units)
    assert len(set(ids)) == len(ids)
    for u, rid in zip(units, ids):
        assert run_id(study, json.loads(json.dumps(u))) == rid
    # quick's seeds are the first three units' seeds, with a longer PPO and a wider sweep
    assert [u["seed"] for u in units][:3] == [u["seed"] for u in study.units(quick)]
    assert ext.ppo_steps > quick.ppo_steps and ext.ppo_steps % ext.ppo_eval_every == 0
    assert max(ext.flip_grid) == 0.45 > max(quick.flip_grid)
    assert ext.scale == quick.scale and ext.bon_samples == quick.bon_samples
    # between quick and paper in every size it changes
    paper = study.Config.preset("paper")
    assert quick.seeds < ext.seeds and ext.ppo_steps < paper.ppo_steps


def test_rank_gaps():
    assert C.rank_gaps([0.5, 0.1, 0.3], [0.2, 0.1, 0.3]) == [-1, 0, 1]
    assert C.rank_gaps([1, 2, 3], [1, 2, 3]) == [0, 0, 0]


def test_sim_gold_names_the_most_misranked_method():
    s = {m: {"win_sim": i / 10, "win_gold": i / 10} for i, m in enumerate(study.METHODS)}
    s["sft"]["win_sim"] = 5.0  # ranked first by the pool, last by gold
    claim = C.sim_gold_rankings_agree(s)
    ev = claim.evidence
    assert ev["most_misranked"] == "sft" and ev["rank_sim_minus_gold"]["sft"] == -9
    assert ev["spearman_without_most_misranked"] == pytest.approx(1.0)
    assert (
        f"Spearman {ev['spearman']:.2f}" in ev["headline"]
        and "sft (the pool ranks it 9 places above gold)" in ev["headline"]
    )


def test_rdpo_headline_and_what_flips_do_to_dpo():
    rates = [0.0, 0.4, 0.45]

    def rows(golds, kls):
        return [
            {"flip_rate": p, "gold": g, "gold_se": 0.01, "kl": k, "length": 5.0}
            for p, g, k in zip(rates, golds, kls)
        ]

    f = {"dpo": rows([0.5, 0.5, 0.5], [3.0, 1.0, 0.5]), "rdpo": rows([0.5] * 3, [3.0] * 3)}
    claim = C.rdpo_degrades_less([f, f])
    ev = claim.evidence
    assert not claim.reproduced and ev["dpo"]["kl_by_flip"] == pytest.approx([3.0, 1.0, 0.5])
    assert ev["headline"].startswith("DPO gold drop 0.00 -> 0.45: +0.000")


@pytest.mark.parametrize("n_seeds", [1, 3])
def test_every_claim_has_a_headline_from_its_numbers(n_seeds):
    summary = {
        m: {"win_sim": 0.3 + i / 50, "win_gold": 0.2 + i / 70} for i, m in enumerate(study.METHODS)
    }
    per_seed = [{m: dict(v) for m, v in summary.items()} for _ in range(n_seeds)]
    u = np.array([0.5, 0.7, 0.6])
    path = {"gold": u, "win_gold": u, "proxy": np.arange(3.0), "gold_se": np.full(3, 0.01)}
    path |= {"win_gold_se": path["gold_se"], "length": np.array([4.0, 5.0, 6.0])}
    claims = [
        C.bon16_beats_sft(per_seed, summary),
        C.ordering_close_to_alpacafarm(summary),
        C.sim_gold_rankings_agree(summary),
        C.inverted_u_noisy_pool({"bon_noisy_pool": path, "ppo_noisy_pool": path}, n_seeds),
        C.spurious_feature_amplified({"bon_noisy_pool": path}, 5.0),
        C.low_variance_hides_overoptimization({}),
    ]
    for c in claims:
        assert "reproduced when" in c.evidence["headline"], c.id
    assert "gold +0.043, simulated +0.060" in claims[0].evidence["headline"]  # 3/70, 3/50


def test_gold_choices_pick_the_higher_gold_reward_and_break_ties_by_a_seeded_coin():
    from types import SimpleNamespace

    from noisylab.studies.feedback.ablations import gold_choices

    g0 = np.array([0.1, 0.9, 0.5, 0.5, 0.5, 0.5])
    g1 = np.array([0.2, 0.3, 0.5, 0.5, 0.5, 0.5])
    p = SimpleNamespace(
        c=SimpleNamespace(seed=1),
        world=SimpleNamespace(splits={"preference": None}),
        y0=SimpleNamespace(numpy=lambda: g0),
        y1=SimpleNamespace(numpy=lambda: g1),
        gold_and_length=lambda P, ys: (ys, ys),  # the "responses" are their gold rewards
    )
    a = gold_choices(p)
    assert a.dtype == np.int64 and a[:2].tolist() == [1, 0]
    assert set(a[2:].tolist()) <= {0, 1} and (gold_choices(p) == a).all()


def test_the_gold_label_sweep_runs_from_gold_labels():
    small = {"scale": 0.02, "min_eval": 30, "bon_samples": 16, "ppo_steps": 2, "ppo_eval_every": 2}
    small |= {"ei_prompts": 16, "ei_steps": 2, "quark_samples": 32, "quark_steps": 2}
    config = study.Config.preset(
        "tiny", sft_steps=30, rm_steps=5, method_steps=3, dpo_steps=3, dpo_gold_sweep=True,
        flip_grid=[0.0, 0.45], **small,
    )  # fmt: skip
    r = study.run_unit(study.units(config)[0])
    flips = r["dpo_flip"]
    assert set(flips) == {"dpo", "rdpo", "dpo_gold", "rdpo_gold"}
    for kind in flips:
        assert [row["flip_rate"] for row in flips[kind]] == [0.0, 0.25, 0.45]
    assert flips["rdpo_gold"][0] == flips["dpo_gold"][0]  # rDPO at ε = 0 is DPO
    assert flips["dpo_gold"][0]["gold"] != flips["dpo"][0]["gold"]  # other labels
    claim = C.rdpo_degrades_less([flips])
    assert "from gold labels" in claim.evidence["headline"]
    assert len(claim.evidence["dpo_gold"]["kl_by_flip"]) == 3


def test_the_audit_covers_every_claim_once_with_a_known_category():
    from pathlib import Path

    import yaml

    from test_study_feedback import CLAIM_IDS

    audit = yaml.safe_load((Path(__file__).parents[1] / "docs/audit/feedback.yaml").read_text())
    assert list(audit) == CLAIM_IDS
    for entry in audit.values():
        assert entry["category"] in {"reproduced", "budget", "protocol", "not-reproduced"}
        assert entry["why"] and entry["experiment"].startswith("noisylab run feedback")
