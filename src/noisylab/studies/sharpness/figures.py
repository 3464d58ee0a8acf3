"""Figures of the ``sharpness`` study: accuracy vs noise, and perturbation-direction stability."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noisylab.studies.common import nan_mean, noise_axis, pyplot, save_png

from .claims import methods_present
from .config import Config, parse_method
from .records import Groups, UnitResult


def accuracy_figure(config: Config, groups: Groups, path: Path) -> None:
    """Per dataset: mean clean test accuracy vs η per method (solid last epoch, dotted best)."""
    methods = methods_present(config, groups)
    n = len(config.datasets)
    fig, axes = pyplot().subplots(1, n, figsize=(6 * n, 4.3), squeeze=False)
    for ax, ds in zip(axes[0], config.datasets):
        for i, m in enumerate(methods):
            rates = sorted(r for (d, r, mm) in groups if d == ds and mm == m)
            last = [100 * nan_mean([x.last_test_acc for x in groups[(ds, r, m)]]) for r in rates]
            best = [100 * nan_mean([x.best_test_acc for x in groups[(ds, r, m)]]) for r in rates]
            color = f"C{i}"
            ax.plot(rates, last, "-o", color=color, lw=2, label=f"{m} (last)")
            ax.plot(rates, best, ":", color=color, lw=1.2)
        noise_axis(ax, f"{ds}: clean test accuracy (solid last epoch, dotted best)")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    save_png(fig, path)


def direction_figure(config: Config, curves: dict[tuple[str, str], UnitResult], path: Path) -> None:
    """Per-window mean consecutive cosine and direction variance vs epoch at the highest η."""
    n = len(config.datasets)
    fig, axes = pyplot().subplots(2, n, figsize=(6 * n, 7), squeeze=False)
    top_rate = max(config.noise_rates)
    for col, ds in enumerate(config.datasets):
        for i, m in enumerate(config.methods):
            res = curves.get((ds, m))
            if res is None or parse_method(m)[0] == "sgd":
                continue
            top = max(x.noise for x in res.members)
            idx = {j for j, x in enumerate(res.members) if x.noise == top}
            for row, name in enumerate(("dir/cos_consecutive", "dir/variance")):
                by_epoch: dict[int, list[float]] = {}
                for mem, ep, nm, v in res.metrics:
                    if nm == name and mem in idx:
                        by_epoch.setdefault(int(ep), []).append(float(v))
                if by_epoch:
                    eps = sorted(by_epoch)
                    axes[row][col].plot(
                        eps, [np.mean(by_epoch[e]) for e in eps], "-o", color=f"C{i}", label=m
                    )
        axes[0][col].set_title(f"{ds}, η = {top_rate:g}: cos(u_t, u_t−1)")
        axes[1][col].set_title(f"{ds}, η = {top_rate:g}: variance 1 − ‖ū‖²")
        for row in range(2):
            axes[row][col].set_xlabel("epoch")
            axes[row][col].grid(alpha=0.3)
    if axes[0][-1].get_legend_handles_labels()[0]:
        axes[0][-1].legend(fontsize=8)
    save_png(fig, path)
