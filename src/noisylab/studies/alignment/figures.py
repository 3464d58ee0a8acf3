"""The ``alignment`` study's three figures, drawn from aggregated points and sweeps.

* ``alignment_vs_snr.png``: CKA against SNR for the linear network (theory dashed) and the
  alignment measures against the noise level for the two MLP settings;
* ``alignment_vs_n.png``: alignment (and test error, right axis) against n, per setting,
  with the nominal and empirical interpolation thresholds;
* ``theory_vs_simulation.png``: the linear network's CKA against α with the large-d and
  finite-size estimates, and simulation against theory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noisylab.studies.common import label_decades_only, pyplot, save_png

from .config import SETTINGS, Config
from .records import Key, NSweep, Point, SnrSweep, curve

DPI = 110


def plot_snr(path: Path, config: Config, agg: dict[Key, Point], sweeps: list[SnrSweep]) -> None:
    """Alignment against SNR: linear network per α (left), the MLPs' noise sweeps (middle, right)."""
    from noisylab.similarity.theory import cka_theory

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    snrs = config.linear_snrs or [1.0]  # none: no linear units, nothing plotted on the left
    snr_grid = np.geomspace(min(snrs) / 1.5, max(snrs) * 1.5, 100)
    for i, a in enumerate(config.linear_alphas):
        n = config.linear_n(a)
        rows = curve(agg, "linear", n=n)
        if not rows:
            continue
        col = f"C{i}"
        ax.errorbar(
            [k[1] for k, _ in rows],
            [v["cka"] for _, v in rows],
            yerr=[v["cka_se"] for _, v in rows],
            fmt="o-",
            color=col,
            label=f"α={a:g}",
        )
        ax.plot(snr_grid, cka_theory(snr_grid, n / config.linear_d), "--", color=col, lw=0.8)
    ax.set(xscale="log", xlabel="SNR", ylabel="linear CKA", title="linear2 (dashed: theory)")
    label_decades_only(ax)
    ax.legend(fontsize=7)
    for ax, setting, knob in (
        (axes[1], "mlp_regression", "SNR"),
        (axes[2], "mlp_classification", "label-flip rate η"),
    ):
        mine = [s for s in sweeps if s.setting == setting]
        if not mine:
            continue
        rows = mine[0].rows
        x = [k[1] for k, _ in rows]
        for metric, colour, label in (
            ("cka", "C0", "linear CKA"),
            ("knn", "C1", "mutual kNN"),
            ("cca", "C2", "CCA"),
        ):
            ax.errorbar(
                x,
                [v[metric] for _, v in rows],
                yerr=[v[metric + "_se"] for _, v in rows],
                fmt="o-",
                color=colour,
                label=label,
            )
        ax.set(xlabel=knob, ylabel="alignment", title=f"{setting} (n={rows[0][0][2]})")
        if setting == "mlp_regression":
            ax.set_xscale("log")
            label_decades_only(ax)
        ax.legend(fontsize=7)
    save_png(fig, path, DPI)


def plot_n(path: Path, sweeps: list[NSweep]) -> None:
    """Alignment (and test error, dashed, right axis) against n, one panel per setting."""
    plt = pyplot()
    settings = [s for s in SETTINGS if any(sw.setting == s for sw in sweeps)]
    fig, axes = plt.subplots(
        1, max(1, len(settings)), figsize=(5 * max(1, len(settings)), 4), squeeze=False
    )
    for ax, setting in zip(axes[0], settings):
        twin = ax.twinx()
        mine = [sw for sw in sweeps if sw.setting == setting]
        for i, sw in enumerate(mine):
            col = f"C{i}"
            rows = [v for _, v in sw.rows]
            ax.errorbar(
                sw.n,
                [v["cka"] for v in rows],
                yerr=[v["cka_se"] for v in rows],
                fmt="o-",
                color=col,
                label=f"CKA {sw.name}",
            )
            ax.plot(sw.n, [v["knn"] for v in rows], "s:", color=col, alpha=0.6, label="mutual kNN")
            twin.plot(sw.n, [v["test_err"] for v in rows], "x--", color=col, alpha=0.5)
        thr = mine[0].nominal
        ax.axvline(
            thr,
            color="k",
            ls="--",
            lw=1,
            label=f"threshold params/outputs = {thr:.0f}"
            if setting != "linear"
            else f"threshold n = d = {thr:.0f}",
        )
        emp = mine[0].empirical
        if setting != "linear" and emp is not None:
            ax.axvline(
                emp,
                color="r",
                ls=":",
                lw=1,
                label=f"empirical threshold (capacity max n·memorisation) ≈ {emp:.0f}",
            )
        ax.set(xscale="log", xlabel="training-set size n", ylabel="alignment", title=setting)
        label_decades_only(ax)
        if setting == "linear":
            twin.set_yscale("log")  # the excess risk spans decades around n = d
        twin.set_ylabel("test error (× dashed)" if setting != "mlp_regression" else "test MSE (×)")
        ax.legend(fontsize=6, loc="lower right")
    save_png(fig, path, DPI)


def plot_theory(path: Path, config: Config, agg: dict[Key, Point]) -> None:
    """The linear network's CKA against α beside both estimates; simulation against theory."""
    from noisylab.similarity.theory import cka_theory

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    alphas = config.linear_alphas or [1.0]  # none: no linear units, nothing plotted
    grid = np.linspace(min(alphas) * 0.9, max(alphas) * 1.05, 400)
    for i, snr in enumerate(config.linear_snrs):
        rows = curve(agg, "linear", level=snr)
        if not rows:
            continue
        col = f"C{i}"
        axes[0].plot(grid, cka_theory(snr, grid), "-", color=col, lw=1, label=f"theory SNR={snr:g}")
        axes[0].errorbar(
            [v["alpha"] for _, v in rows],
            [v["cka"] for _, v in rows],
            yerr=[v["cka_se"] for _, v in rows],
            fmt="o",
            color=col,
            label=f"simulation SNR={snr:g}",
        )
        axes[0].plot(
            [v["alpha"] for _, v in rows], [v["theory_finite"] for _, v in rows], "x", color=col
        )
        axes[1].scatter(
            [v["theory"] for _, v in rows],
            [v["cka"] for _, v in rows],
            color=col,
            label=f"SNR={snr:g}",
        )
    axes[0].axvline(1.0, color="k", ls="--", lw=1)
    axes[0].set_xscale("log")
    label_decades_only(axes[0])
    axes[0].set_xticks(config.linear_alphas, [f"{a:g}" for a in config.linear_alphas])
    axes[0].set(
        xlabel="α = n/d",
        ylabel="linear CKA",
        title="linear2: theory (lines), finite-size (x), simulation (o)",
    )
    axes[0].legend(fontsize=6)
    axes[1].plot([0, 1], [0, 1], "k--", lw=1)
    axes[1].set(xlabel="theory cos²", ylabel="simulated CKA", title="simulation vs theory")
    axes[1].legend(fontsize=7)
    save_png(fig, path, DPI)
