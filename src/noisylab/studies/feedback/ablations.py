"""The ablations, each a function of a :class:`~.pipeline.Pipeline` after the main methods.

- :func:`ppo_low_variance`: PPO against the single low-variance annotator's reward model
  (AlpacaFarm's argument that a low-variance simulator hides over-optimisation);
- :func:`flip_sweep`: DPO against rDPO as the preference flip rate grows (from the pool's
  labels, and optionally from gold labels);
- :func:`preference_size`: reward models (and best-of-n) from fractions of the pairs.

The clean-pool reward model (the pool without flips) is trained in the reward stage.
"""

from __future__ import annotations

import numpy as np

from .methods import dpo_evaluated, ppo_run
from .pipeline import Pipeline
from .records import Metrics


def ppo_low_variance(p: Pipeline) -> None:
    """PPO's path against the low-variance annotator's reward model."""
    p.ppo_curves["low_variance"] = ppo_run(p, "low_variance")[0]
    p.lap("ppo_low_variance")


def flip_sweep(p: Pipeline) -> None:
    """DPO against rDPO along ``flip_grid`` ∪ {``flip_rate``}: the pool's pre-flip labels
    re-flipped at each rate by the same process that made the training labels (the main
    runs of :func:`.methods.dpo` are the point p = ``flip_rate``); rDPO assumes ε = p.

    With ``dpo_gold_sweep`` the same sweep also runs from *gold* labels (the pair with the
    higher gold reward wins, ties by a coin) as ``dpo_gold`` / ``rdpo_gold``: flips of
    unbiased labels, against flips of the length-biased pool's labels."""
    from noisylab.noise import flip_preferences

    c, m = p.c, p.methods
    rates = sorted({*c.flip_grid, c.flip_rate})
    sweep: dict[str, list[Metrics]] = {"dpo": [], "rdpo": []}
    for j, rate in enumerate(rates):
        if rate == c.flip_rate:
            d, r = m["dpo"], m["rdpo"]
        else:
            rng = np.random.default_rng([c.seed, 4, j])
            choices = flip_preferences(p.labels.clean, rate, rng).choices
            d, r = _dpo_rdpo(p, choices, rate)
        sweep["dpo"].append({"flip_rate": rate, **d})
        sweep["rdpo"].append({"flip_rate": rate, **r})
    if c.dpo_gold_sweep:
        gold = gold_choices(p)
        sweep["dpo_gold"], sweep["rdpo_gold"] = [], []
        for j, rate in enumerate(rates):
            choices = flip_preferences(gold, rate, np.random.default_rng([c.seed, 6, j])).choices
            d, r = _dpo_rdpo(p, choices, rate)
            sweep["dpo_gold"].append({"flip_rate": rate, **d})
            sweep["rdpo_gold"].append({"flip_rate": rate, **r})
    p.dpo_flip = sweep
    p.lap("dpo_flip_sweep")


def _dpo_rdpo(p: Pipeline, choices: np.ndarray, rate: float) -> tuple[Metrics, Metrics]:
    """DPO and rDPO (ε = ``rate``) trained on ``choices`` and evaluated."""
    d = dpo_evaluated(p, "dpo", choices, 0.0)
    # rDPO at ε = 0 is DPO exactly (tested), so it is not trained twice
    return d, (d if rate == 0.0 else dpo_evaluated(p, "rdpo", choices, rate))


def gold_choices(p: Pipeline) -> np.ndarray:
    """Gold's choice on each preference pair (1 = the second response has the higher gold
    reward), ties broken by a seeded coin."""
    Pp = p.world.splits["preference"]
    g0 = p.gold_and_length(Pp, p.y0.numpy())[0]
    g1 = p.gold_and_length(Pp, p.y1.numpy())[0]
    coin = np.random.default_rng([p.c.seed, 7]).integers(0, 2, g0.size)
    return np.where(g1 == g0, coin, g1 > g0).astype(np.int64)


def preference_size(p: Pipeline) -> None:
    """Reward models on random fractions ``pref_fractions`` of the noisy preference pairs:
    their accuracy against gold and their best-of-n curves on the same candidates; the last
    row is the full set (the main noisy-pool reward model)."""
    c = p.c
    rows = []
    n = p.xp.shape[0]
    for j, f in enumerate(c.pref_fractions):
        idx = np.random.default_rng([c.seed, 5, j]).choice(n, max(2, round(f * n)), False)
        rm, acc = p.train_rm(p.label_sets["noisy_pool"], np.sort(idx))
        curve = p.bon_curve(rm)
        rows.append({"fraction": f, "pairs": int(idx.size), "val_acc_gold": acc, **curve})
    full_acc = p.reward_models["noisy_pool"]["val_acc_gold"]
    rows.append(
        {"fraction": 1.0, "pairs": n, "val_acc_gold": full_acc, **p.bon.by_rm["noisy_pool"]}
    )
    p.pref_size = rows
    p.lap("preference_size")
