"""The study's four figures (``figures/*.png``), all from stored results or their seed means.

- ``bon_curve``: best-of-n's gold reward and win-rates against log n and √KL, per RM;
- ``overoptimization``: gold and win-rates against the proxy along best-of-n and PPO;
- ``kl_frontier``: gold against √KL on every path, Gao's fitted forms, the other methods;
- ``dpo_flip``: DPO and rDPO's gold reward along the flip rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from noisylab.studies.common import pyplot, save_png

from .config import RM_KINDS
from .records import MeanPaths, UnitResult

DPI = 110


def bon_curve(results: Sequence[UnitResult], path: Path) -> None:
    """Best-of-n under each reward model: gold (top) and win-rates (bottom) against log n
    (left) and the √KL bound (right); seed means."""
    plt = pyplot()
    ns = np.asarray(results[0].bon.n, dtype=float)
    d = np.sqrt(np.asarray(results[0].bon.kl_bound))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    for k in RM_KINDS:
        if not all(k in r.bon.by_rm for r in results):
            continue
        gold = np.mean([r.bon.by_rm[k]["gold"] for r in results], axis=0)
        win = np.mean([r.bon.by_rm[k]["win_sim"] for r in results], axis=0)
        wing = np.mean([r.bon.by_rm[k]["win_gold"] for r in results], axis=0)
        for col, x in enumerate((np.log(ns), d)):
            axes[0, col].plot(x, gold, marker="o", label=f"RM: {k}")
            axes[1, col].plot(x, win, marker="o", label=f"sim win, RM: {k}")
            axes[1, col].plot(x, wing, marker="x", ls="--", label=f"gold win, RM: {k}")
    axes[0, 0].set_ylabel("gold reward of best-of-n")
    axes[1, 0].set_ylabel("win-rate vs reference")
    axes[1, 0].set_xlabel("log n")
    axes[1, 1].set_xlabel("√KL bound = √(log n − (n−1)/n)")
    axes[0, 0].legend(fontsize=7)
    axes[1, 1].legend(fontsize=6)
    fig.suptitle("Best-of-n with reward models from three annotator settings")
    save_png(fig, path, DPI)


def overoptimization(means: MeanPaths, path: Path) -> None:
    """Gold reward (left) and win-rates (right) against the proxy reward along best-of-n's
    and PPO's noisy-pool paths."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, label), colour in zip(
        (("bon_noisy_pool", "best-of-n"), ("ppo_noisy_pool", "PPO")), ("C0", "C1"), strict=True
    ):
        if name not in means:
            continue
        m = means[name]
        axes[0].plot(m["proxy"], m["gold"], marker="o", color=colour, label=label)
        axes[1].plot(m["proxy"], m["win_sim"], marker="o", color=colour,
                     label=f"{label}: simulated pool")  # fmt: skip
        axes[1].plot(m["proxy"], m["win_gold"], marker="x", ls="--", color=colour,
                     label=f"{label}: gold")  # fmt: skip
    axes[0].set_ylabel("gold reward")
    axes[1].set_ylabel("win-rate vs reference")
    for ax in axes:
        ax.set_xlabel("proxy reward (noisy-pool reward model)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Over-optimisation under the noisy pool: gold and win-rate against the proxy")
    save_png(fig, path, DPI)


def kl_frontier(
    summary: Mapping[str, Mapping[str, float]],
    means: MeanPaths,
    fits: Mapping[str, Mapping[str, float]],
    path: Path,
) -> None:
    """Gold reward against √KL to SFT on every path (dotted: Gao's fitted form), and the
    single-checkpoint methods as labelled squares."""
    from noisylab.feedback.laws import gao_curve

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    for name, m in means.items():
        d = np.sqrt(np.clip(m["kl"], 0.0, None))
        gold = m["gold"]
        (line,) = ax.plot(d, gold, marker="o", ms=3, label=name)
        f = fits.get(name)
        if f and np.isfinite(f["alpha"]):
            dd = np.linspace(0, d.max(), 100)
            form = "bon" if name.startswith("bon_") else "rl"
            ax.plot(dd, gold[0] + gao_curve(form, dd, f["alpha"], f["beta"]), ls=":",
                    color=line.get_color(), lw=1)  # fmt: skip
    for method in ("feedme", "reward_conditioning", "quark", "dpo", "cdpo", "rdpo"):
        s = summary[method]
        x = np.sqrt(max(s["kl"], 0.0))
        ax.scatter(x, s["gold"], marker="s", color="k", zorder=3)
        ax.annotate(method, (x, s["gold"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("√KL to SFT (best-of-n: analytic bound; others: Monte-Carlo)")
    ax.set_ylabel("gold reward")
    ax.set_title("Gold reward against √KL; dotted: Gao et al.'s fitted forms")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="path")
    ax.grid(alpha=0.3)
    save_png(fig, path, DPI)


def dpo_flip(results: Sequence[UnitResult], path: Path) -> None:
    """DPO's and rDPO's seed-mean gold reward against the preference flip rate (dashed:
    from gold labels, when the units ran that sweep)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for kind in ("dpo", "rdpo"):
        rows = [r.dpo_flip[kind] for r in results]
        p = [row["flip_rate"] for row in rows[0]]
        g = np.mean([[row["gold"] for row in rr] for rr in rows], axis=0)
        ax.plot(p, g, marker="o", label=kind.upper() if kind == "dpo" else "rDPO (ε = rate)")
    if all("dpo_gold" in r.dpo_flip for r in results):  # the same sweep from gold labels
        for kind, name in (("dpo_gold", "DPO, gold labels"), ("rdpo_gold", "rDPO, gold labels")):
            rows = [r.dpo_flip[kind] for r in results]
            p = [row["flip_rate"] for row in rows[0]]
            g = np.mean([[row["gold"] for row in rr] for rr in rows], axis=0)
            ax.plot(p, g, marker="s", linestyle="--", label=name)
    ax.set_xlabel("preference flip rate p")
    ax.set_ylabel("gold reward")
    ax.set_title("DPO vs rDPO under growing label noise")
    ax.legend()
    ax.grid(alpha=0.3)
    save_png(fig, path, DPI)
