"""The study's ten claims, one function each, evaluated on our data (never tuned to pass).

Inputs are plain: ``summary`` maps a method to its seed-combined values (``win_sim``,
``win_gold``, ``gold``, … and ``<key>_se``); ``per_seed_methods`` holds each seed's method
evaluations; ``means`` maps a path name (``bon_noisy_pool``, ``ppo_noisy_pool``,
``bon_low_variance``, ``ppo_low_variance``, ``expert_iteration``) to the seed means of its
keys along the path. :func:`evaluate` wires them to the unit results in the report's order.

| claim | source | reproduced when |
|---|---|---|
| ``bon16_beats_sft``, ``ppo_beats_sft`` | AlpacaFarm, Table 2 | mean gain in sim and gold win-rate > 0 |
| ``feedme_rc_not_above_sft`` | AlpacaFarm, Table 2 | sim gain ≤ ``FEEDME_RC_MARGIN`` |
| ``ordering_close_to_alpacafarm`` | AlpacaFarm, Table 2 | Spearman ρ ≥ ``ALPACAFARM_MIN_RHO`` |
| ``sim_gold_rankings_agree`` | AlpacaFarm (sim vs human ρ = 0.98) | ρ ≥ ``SIM_GOLD_MIN_RHO`` |
| ``rm_below_agreement_ceiling`` | AlpacaFarm (label noise) | RM accuracy < clean agreement |
| ``inverted_u_noisy_pool`` | AlpacaFarm; Gao et al. 2022 | rise, peak, fall > ``N_SE`` SEs |
| ``spurious_feature_amplified`` | AlpacaFarm (length bias) | length at path end > start |
| ``rdpo_degrades_less`` | rDPO (Chowdhury et al. 2024) | DPO drop > ``N_SE`` SEs, rDPO's less |
| ``low_variance_hides_overoptimization`` | AlpacaFarm (low-variance simulator) | sim fall < gold fall |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from noisylab.studies.base import Claim
from noisylab.studies.common import spearman_rho

from .config import ALPACAFARM, METHODS
from .records import MeanPaths, Metrics, Summary, UnitResult

#: How far above SFT's simulated win-rate FeedME and reward conditioning may land.
FEEDME_RC_MARGIN = 0.05
#: Least Spearman ρ between our simulated win-rates and AlpacaFarm's.
ALPACAFARM_MIN_RHO = 0.6
#: Least Spearman ρ between the simulated and the gold method rankings.
SIM_GOLD_MIN_RHO = 0.8
#: Standard errors a fall (inverted U) or a drop (flip sweep) must exceed.
N_SE = 2.0


def _beats_sft(
    claim_id: str,
    method: str,
    what: str,
    per_seed_methods: Sequence[Mapping[str, Metrics]],
    summary: Summary,
) -> Claim:
    def gain(key: str) -> list[float]:
        return [ms[method][key] - ms["sft"][key] for ms in per_seed_methods]

    d_gold, d_sim = gain("win_gold"), gain("win_sim")
    g, sm = float(np.mean(d_gold)), float(np.mean(d_sim))
    return Claim(
        id=claim_id,
        statement=f"{what} beats SFT in win-rate, judged both by the simulated pool and by gold.",
        reproduced=bool(np.mean(d_gold) > 0 and np.mean(d_sim) > 0),
        evidence={
            "win_gold": {k: summary[k]["win_gold"] for k in ("sft", method)},
            "win_sim": {k: summary[k]["win_sim"] for k in ("sft", method)},
            "per_seed_gold_gain": d_gold,
            "per_seed_sim_gain": d_sim,
            "headline": f"win-rate gain over SFT: gold {g:+.3f}, simulated {sm:+.3f} "
            "(reproduced when both > 0)",
        },
    )


def bon16_beats_sft(per_seed_methods: Sequence[Mapping[str, Metrics]], summary: Summary) -> Claim:
    """Best-of-16 beats SFT: the seed-mean gain in win-rate over SFT is positive both by the
    simulated pool and by gold."""
    what = "Best-of-16 with the noisy-pool reward model"
    return _beats_sft("bon16_beats_sft", "best_of_16", what, per_seed_methods, summary)


def ppo_beats_sft(per_seed_methods: Sequence[Mapping[str, Metrics]], summary: Summary) -> Claim:
    """PPO (the selected checkpoint) beats SFT, by the simulated pool and by gold."""
    what = "PPO against the noisy-pool reward model"
    return _beats_sft("ppo_beats_sft", "ppo", what, per_seed_methods, summary)


def feedme_rc_not_above_sft(summary: Summary, margin: float = FEEDME_RC_MARGIN) -> Claim:
    """Binary FeedME and reward conditioning land at most ``margin`` above SFT's simulated
    win-rate."""
    near = {
        m: summary[m]["win_sim"] - summary["sft"]["win_sim"]
        for m in ("feedme", "reward_conditioning")
    }
    return Claim(
        id="feedme_rc_not_above_sft",
        statement="Binary FeedME and binary reward conditioning land near or below SFT "
        f"(simulated win-rate at most {margin:.2f} above SFT's), unlike best-of-16.",
        reproduced=bool(all(v <= margin for v in near.values())),
        evidence={
            "sim_gain_over_sft": near,
            "gold_gain_over_sft": {
                m: summary[m]["win_gold"] - summary["sft"]["win_gold"]
                for m in ("feedme", "reward_conditioning")
            },
            "tolerance": margin,
            "headline": f"simulated win-rate gain over SFT: FeedME {near['feedme']:+.3f}, "
            f"reward conditioning {near['reward_conditioning']:+.3f} "
            f"(reproduced when both <= {margin:.2f})",
        },
    )


def ordering_close_to_alpacafarm(summary: Summary, min_rho: float = ALPACAFARM_MIN_RHO) -> Claim:
    """Our simulated win-rates rank the methods AlpacaFarm reports like AlpacaFarm does:
    Spearman ρ ≥ ``min_rho`` (NaN, e.g. from tied win-rates, fails)."""
    shared = [m for m in METHODS if m in ALPACAFARM]
    ours = [summary[m]["win_sim"] for m in shared]
    theirs = [ALPACAFARM[m][0] for m in shared]
    rho = spearman_rho(ours, theirs)
    return Claim(
        id="ordering_close_to_alpacafarm",
        statement="The methods' simulated win-rates are ordered close to AlpacaFarm's "
        f"(Spearman ρ ≥ {min_rho} over the seven methods in both: PPO ≥ best-of-n > expert "
        "iteration > SFT ≳ FeedME, Quark, reward conditioning).",
        reproduced=bool(np.isfinite(rho) and rho >= min_rho),
        evidence={
            "spearman": rho,
            "methods": shared,
            "ours": ours,
            "alpacafarm": theirs,
            "headline": f"Spearman {rho:.2f} with AlpacaFarm (reproduced when >= {min_rho})",
        },
    )


def rank_gaps(a: Sequence[float], b: Sequence[float]) -> list[int]:
    """Each item's rank by ``a`` minus its rank by ``b`` (rank 0 = the largest value; ties
    broken by order): negative when ``a`` places the item higher than ``b`` does, e.g. a
    method the simulated pool over-ranks relative to gold.

    >>> rank_gaps([0.5, 0.1, 0.3], [0.2, 0.1, 0.3])
    [-1, 0, 1]
    """
    ra = np.argsort(np.argsort(-np.asarray(a, float), kind="stable"), kind="stable")
    rb = np.argsort(np.argsort(-np.asarray(b, float), kind="stable"), kind="stable")
    return [int(x) for x in ra - rb]


def sim_gold_rankings_agree(summary: Summary, min_rho: float = SIM_GOLD_MIN_RHO) -> Claim:
    """The ten methods ranked by simulated and by gold win-rate: Spearman ρ ≥ ``min_rho``."""
    sim = [summary[m]["win_sim"] for m in METHODS]
    gold = [summary[m]["win_gold"] for m in METHODS]
    rho = spearman_rho(sim, gold)
    gaps = rank_gaps(sim, gold)
    worst = max(range(len(gaps)), key=lambda i: abs(gaps[i]))
    side = "below" if gaps[worst] > 0 else "above"
    return Claim(
        id="sim_gold_rankings_agree",
        statement="Method rankings by the simulated pool and by gold agree "
        f"(Spearman ρ ≥ {min_rho} over all ten methods; AlpacaFarm: 0.98 simulated vs human).",
        reproduced=bool(np.isfinite(rho) and rho >= min_rho),
        evidence={
            "spearman": rho,
            "methods": list(METHODS),
            "win_sim": sim,
            "win_gold": gold,
            "rank_sim_minus_gold": {METHODS[i]: gaps[i] for i in range(len(METHODS))},
            "spearman_without_most_misranked": spearman_rho(
                [v for i, v in enumerate(sim) if i != worst],
                [v for i, v in enumerate(gold) if i != worst],
            ),
            "most_misranked": METHODS[worst],
            "headline": f"Spearman {rho:.2f} simulated vs gold over ten methods (reproduced "
            f"when >= {min_rho}); most misranked: {METHODS[worst]} (the pool ranks it {abs(gaps[worst])} "
            f"places {side} gold)",
        },
    )


def rm_below_agreement_ceiling(
    reward_models: Sequence[Mapping[str, Mapping[str, float]]],
    agreement: Sequence[Mapping[str, Mapping[str, float]]],
) -> Claim:
    """Per seed ``reward_models[k]["val_acc_gold"]`` and ``agreement[k]["with_gold"]`` for
    label sets ``k``: the noisy-pool RM's seed-mean accuracy is below the clean pool's
    agreement with gold and, when every seed has one, below the clean-pool RM's accuracy."""
    acc_noisy = float(np.mean([rm["noisy_pool"]["val_acc_gold"] for rm in reward_models]))
    ceiling = float(np.mean([ag["clean_pool"]["with_gold"] for ag in agreement]))
    ev: dict[str, Any] = {"rm_acc_noisy_pool": acc_noisy, "clean_pool_agreement_with_gold": ceiling}
    ok = acc_noisy < ceiling
    if all("clean_pool" in rm for rm in reward_models):
        acc_clean = float(np.mean([rm["clean_pool"]["val_acc_gold"] for rm in reward_models]))
        ev["rm_acc_clean_pool"] = acc_clean
        ok = ok and acc_noisy < acc_clean
        ev["headline"] = (
            f"noisy-pool RM accuracy {acc_noisy:.3f} vs clean-pool agreement {ceiling:.3f} "
            f"and clean-pool RM {acc_clean:.3f} (reproduced when below both)"
        )
    else:
        ev["headline"] = (
            f"noisy-pool RM accuracy {acc_noisy:.3f} vs clean-pool agreement {ceiling:.3f} "
            "(reproduced when below)"
        )
    ev["noisy_pool_agreement_with_gold"] = float(
        np.mean([ag["noisy_pool"]["with_gold"] for ag in agreement])
    )
    return Claim(
        id="rm_below_agreement_ceiling",
        statement="The reward model trained on the noisy pool is less accurate against gold "
        "than the noise-free pool's agreement with gold (the ceiling), and than a reward "
        "model trained on the same pairs without the flips (when that ablation runs).",
        reproduced=bool(ok),
        evidence=ev,
    )


def path_shape(path: Mapping[str, np.ndarray], key: str, n_seeds: int) -> dict[str, Any]:
    """Inverted-U test (:func:`noisylab.feedback.laws.inverted_u`) of the seed-mean ``key``
    against the proxy along ``path``; the tolerance is ``N_SE`` standard errors of the
    seed mean at the peak (the mean of the seeds' SEs over √``n_seeds``)."""
    from noisylab.feedback.laws import inverted_u

    y, proxy = path[key], path["proxy"]
    se = path[key + "_se"] / np.sqrt(n_seeds)
    tol = N_SE * float(se[int(np.argmax(y))])
    return {**inverted_u(y, proxy, tol=tol), "tolerance": tol, "path": y.tolist()}


def inverted_u_noisy_pool(means: MeanPaths, n_seeds: int) -> Claim:
    """Best-of-n's and PPO's paths under the noisy-pool RM: gold reward or gold win-rate
    is an inverted U against the proxy (see :func:`path_shape`) on both."""
    noisy = {k: v for k, v in means.items() if k in ("bon_noisy_pool", "ppo_noisy_pool")}
    shapes = {
        k: {key: path_shape(path, key, n_seeds) for key in ("gold", "win_gold")}
        for k, path in noisy.items()
    }
    parts = []
    for k, sh in shapes.items():
        key = max(("gold", "win_gold"), key=lambda q: sh[q]["fall"] - sh[q]["tolerance"])
        parts.append(f"{k} {key} falls {sh[key]['fall']:.3f} (2 SE {sh[key]['tolerance']:.3f})")
    headline = "; ".join(parts) + " (reproduced when a rise and a fall > 2 SE on both paths)"
    return Claim(
        id="inverted_u_noisy_pool",
        statement="Under the noisy pool, the gold reward or gold win-rate against the proxy "
        "reward is an inverted U for both best-of-n and PPO: it rises, peaks and falls "
        "(by more than two standard errors) while the proxy keeps rising.",
        reproduced=bool(
            all(s["gold"]["inverted_u"] or s["win_gold"]["inverted_u"] for s in shapes.values())
        ),
        evidence={**shapes, "headline": headline},
    )


def spurious_feature_amplified(means: MeanPaths, eval_target_length: float) -> Claim:
    """Best-of-n's and PPO's noisy-pool paths end with longer responses than they start."""
    lengths = {}
    for k, path in means.items():
        if k in ("bon_noisy_pool", "ppo_noisy_pool"):
            ln = path["length"]
            lengths[k] = {"start": float(ln[0]), "end": float(ln[-1]), "path": ln.tolist()}
    headline = "; ".join(
        f"{k} length {v['start']:.2f} -> {v['end']:.2f}" for k, v in lengths.items()
    )
    return Claim(
        id="spurious_feature_amplified",
        statement="The spurious feature (length) is amplified as optimisation proceeds: "
        "responses at the end of the best-of-n and PPO paths are longer than at the start.",
        reproduced=bool(all(v["end"] > v["start"] for v in lengths.values())),
        evidence={
            "length": lengths,
            "eval_target_length": eval_target_length,
            "headline": headline + " (reproduced when end > start on both)",
        },
    )


def rdpo_degrades_less(flips: Sequence[Mapping[str, Sequence[Metrics]]]) -> Claim:
    """Per seed, DPO's and rDPO's rows along the flip grid (``flip_rate``, ``gold``,
    ``gold_se``): DPO's gold drop from the first to the last rate exceeds ``N_SE`` SEs
    (over seeds when there are several, else from the prompts) and rDPO's drop is smaller.
    When every seed also holds the sweep from gold labels (``dpo_gold``, ``rdpo_gold``) its
    drops are reported too: evidence, not part of the verdict."""
    drops: dict[str, Any] = {}
    gold_too = all("dpo_gold" in f for f in flips)
    for kind in ("dpo", "rdpo", *(("dpo_gold", "rdpo_gold") if gold_too else ())):
        g = np.array([[row["gold"] for row in f[kind]] for f in flips])  # (S, rates)
        se = [np.sqrt(np.mean([row["gold_se"] ** 2 for row in f[kind]])) for f in flips]
        drop = g[:, 0] - g[:, -1]
        drop_se = drop.std(ddof=1) / np.sqrt(drop.size) if drop.size > 1 else np.sqrt(2) * se[0]
        drops[kind] = {"gold_by_flip": g.mean(0).tolist(), "drop": float(drop.mean()),
                       "drop_se": float(drop_se)}  # fmt: skip
        # what the flips do to the trained policy: its KL to SFT and its length
        for key in ("kl", "length"):
            if not all(key in row for f in flips for row in f[kind]):
                continue
            v = np.array([[row[key] for row in f[kind]] for f in flips])
            drops[kind][f"{key}_by_flip"] = v.mean(0).tolist()
    rates = [row["flip_rate"] for row in flips[0]["dpo"]]
    dpo_degrades = drops["dpo"]["drop"] > N_SE * drops["dpo"]["drop_se"]
    d, r = drops["dpo"], drops["rdpo"]
    headline = (
        f"DPO gold drop {rates[0]:.2f} -> {rates[-1]:.2f}: {d['drop']:+.3f} "
        f"(2 SE {N_SE * d['drop_se']:.3f}), rDPO {r['drop']:+.3f} (reproduced when DPO's drop "
        "> 2 SE and rDPO's is smaller)"
    )
    if gold_too:
        dg, rg = drops["dpo_gold"], drops["rdpo_gold"]
        headline += (
            f"; from gold labels: DPO {dg['drop']:+.3f} (2 SE {N_SE * dg['drop_se']:.3f}), "
            f"rDPO {rg['drop']:+.3f}"
        )
    return Claim(
        id="rdpo_degrades_less",
        statement="As the preference flip rate grows from "
        f"{rates[0]:.2f} to {rates[-1]:.2f}, DPO's gold reward degrades (by more than two "
        "standard errors) and rDPO's degrades less.",
        reproduced=bool(dpo_degrades and drops["rdpo"]["drop"] < drops["dpo"]["drop"]),
        evidence={
            "flip_rates": rates,
            "dpo_degrades": bool(dpo_degrades),
            **drops,
            "headline": headline,
        },
    )


def low_variance_hides_overoptimization(means: MeanPaths) -> Claim:
    """On every low-variance path present, the low-variance annotator's win-rate falls less
    from its peak to the end than the gold win-rate; no such path (ablations off) fails."""
    lv = {}
    for k, path in means.items():
        if k in ("bon_low_variance", "ppo_low_variance"):
            w_low, w_gold = path["win_low"], path["win_gold"]
            lv[k] = {
                "fall_simulated": float(w_low.max() - w_low[-1]),
                "fall_gold": float(w_gold.max() - w_gold[-1]),
                "win_low": w_low.tolist(),
                "win_gold": w_gold.tolist(),
            }
    headline = "; ".join(
        f"{k} fall simulated {v['fall_simulated']:.3f} vs gold {v['fall_gold']:.3f}"
        for k, v in lv.items()
    )
    return Claim(
        id="low_variance_hides_overoptimization",
        statement="With a reward model from the single low-variance annotator, that "
        "annotator's simulated win-rate shows less over-optimisation (a smaller fall from "
        "its peak) than the gold win-rate reveals, on every path.",
        reproduced=bool(lv and all(v["fall_simulated"] < v["fall_gold"] for v in lv.values())),
        evidence={
            **lv,
            "headline": (headline or "no low-variance path (ablations off)")
            + " (reproduced when simulated < gold on every path)",
        },
    )


def evaluate(results: Sequence[UnitResult], summary: Summary, means: MeanPaths) -> list[Claim]:
    """All ten claims, in the report's order."""
    per_seed = [r.methods for r in results]
    target = float(np.mean([r.world.eval_target_length for r in results]))
    return [
        bon16_beats_sft(per_seed, summary),
        ppo_beats_sft(per_seed, summary),
        feedme_rc_not_above_sft(summary),
        ordering_close_to_alpacafarm(summary),
        sim_gold_rankings_agree(summary),
        rm_below_agreement_ceiling(
            [r.reward_models for r in results], [r.agreement for r in results]
        ),
        inverted_u_noisy_pool(means, len(results)),
        spurious_feature_amplified(means, target),
        rdpo_degrades_less([r.dpo_flip for r in results]),
        low_variance_hides_overoptimization(means),
    ]
