"""The ``modular`` study's four figures, drawn from the widest unit and the member table.

* ``learning_curves.png``: per-subset accuracy over training, one panel per noise rate;
* ``accuracy_vs_width.png``: test accuracy of raw, G, R and the partitions against width;
* ``spectra_ipr.png``: dominant-frequency strength shares and the neuron IPR histogram;
* ``pruning_curves.png``: accuracies while pruning the least / most periodic neurons first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noisylab.studies.common import pyplot, save_png

from .config import IPR_BINS
from .records import MemberResult, MemberTable, UnitResult

DPI = 110
#: the learning curves drawn, as (label, colour).
CURVES = {
    "clean/acc": ("clean-train", "tab:blue"),
    "noisy/acc_noisy": ("noisy-train vs noisy label", "tab:orange"),
    "noisy/acc_true": ("noisy-train vs true label", "tab:green"),
    "test/acc": ("test", "tab:red"),
}


def draw_figures(results: list[UnitResult], table: MemberTable, fig_dir: Path) -> None:
    """All four figures; per noise rate, the first member of the widest unit stands for it."""
    widest = max(results, key=lambda r: r.width)
    rates = sorted({m.rate for m in widest.members})
    first = {a: next(m for m in widest.members if m.rate == a) for a in rates}
    learning_curves(widest, first, fig_dir / "learning_curves.png")
    accuracy_vs_width(table, rates, fig_dir / "accuracy_vs_width.png")
    spectra_ipr(first, fig_dir / "spectra_ipr.png")
    pruning_curves(first, fig_dir / "pruning_curves.png")


def learning_curves(widest: UnitResult, first: dict[float, MemberResult], path: Path) -> None:
    curves: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for i, e, name, v in widest.metrics:
        curves.setdefault((i, name), []).append((e, np.nan if v is None else v))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(first), figsize=(4 * len(first), 3.2), squeeze=False)
    for ax, (a, m) in zip(axes[0], first.items()):
        for name, (lab, colour) in CURVES.items():
            pts = curves.get((m.member, name))
            if pts and not all(np.isnan(v) for _, v in pts):
                ax.plot(*zip(*pts), label=lab, color=colour)
        ax.set_title(f"noise {a:.0%}, width {widest.width}")
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    save_png(fig, path, DPI)


def accuracy_vs_width(table: MemberTable, rates: list[float], path: Path) -> None:
    widths = table.widths
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rates), figsize=(4 * len(rates), 3.2), squeeze=False)
    for ax, a in zip(axes[0], rates):
        for key, lab in (
            ("raw_test", "raw"),
            ("G_test", "G (extracted)"),
            ("R_test", "R (residual)"),
            ("part_strength_test", "partition (strength)"),
            ("part_ipr_test", "partition (IPR)"),
        ):
            ys = [table.cell(w, a, key) for w in widths]
            ax.plot(widths, [np.nan if y is None else y for y in ys], "o-", label=lab)
        ax.set_xscale("log", base=2)
        ax.set_title(f"test accuracy, noise {a:.0%}")
        ax.set_xlabel("width")
        ax.set_ylim(-0.02, 1.02)
    axes[0][-1].legend(fontsize=7, loc="center right")
    save_png(fig, path, DPI)


def spectra_ipr(first: dict[float, MemberResult], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(first), figsize=(4 * len(first), 6), squeeze=False)
    for j, (a, m) in enumerate(first.items()):
        f = np.arange(len(m.spectrum))
        axes[0][j].bar(f, m.freq_strength, color="tab:blue", alpha=0.7, label="strength share")
        axes[0][j].plot(f, m.spectrum, "k.-", lw=0.8, label="mean spectrum")
        axes[0][j].set_title(f"dominant frequencies, noise {a:.0%}")
        axes[0][j].set_xlabel("frequency ω")
        edges = np.linspace(0, 1, IPR_BINS + 1)
        axes[1][j].bar(edges[:-1], m.ipr_hist, width=1 / IPR_BINS, align="edge")
        axes[1][j].set_title(f"neuron IPR, noise {a:.0%}")
        axes[1][j].set_xlabel("IPR (1 = one frequency)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    save_png(fig, path, DPI)


def pruning_curves(first: dict[float, MemberResult], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(first), figsize=(4 * len(first), 6), squeeze=False)
    for j, (a, m) in enumerate(first.items()):
        for row, order in enumerate(("ascending", "descending")):
            c = m.pruning["ipr"][order]
            ax = axes[row][j]
            for k, lab in (("clean", "clean-train"), ("noisy", "noisy vs noisy"), ("test", "test")):
                vals = [np.nan if v is None else v for v in c[k]]
                ax.plot(c["removed"], vals, label=lab)
            word = "least" if order == "ascending" else "most"
            ax.set_title(f"noise {a:.0%}: prune {word} periodic first", fontsize=9)
            ax.set_xlabel("neurons removed")
            ax.set_ylim(-0.02, 1.02)
    axes[0][-1].legend(fontsize=7, loc="center right")
    save_png(fig, path, DPI)
