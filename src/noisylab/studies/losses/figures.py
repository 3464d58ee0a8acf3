"""The ``losses`` study's figure: last-epoch clean test accuracy vs symmetric noise rate."""

from __future__ import annotations

import math
from pathlib import Path

from noisylab.studies.common import noise_axis, pyplot, save_png

from .config import PAPER_LOSSES, Config, symmetric_rate
from .records import StatsTable


def accuracy_figure(config: Config, stats: StatsTable, families: list[str], path: Path) -> None:
    """Per dataset: each family's last-epoch accuracy vs η (paper losses and CE bold), and CE's
    best-epoch accuracy dotted — the gap between the two CE curves is memorisation."""
    n = len(config.datasets)
    fig, axes = pyplot().subplots(1, n, figsize=(6.5 * n, 4.5), squeeze=False)
    for ax, ds in zip(axes[0], config.datasets):
        sym = sorted((r, spec) for spec in config.noise if (r := symmetric_rate(spec)) is not None)
        for fam in families:
            xs, ys = [], []
            for r, spec in sym:
                st = stats.get((ds, spec, fam))
                if st and not math.isnan(st.last):
                    xs.append(r)
                    ys.append(100 * st.last)
            if xs:
                style = "-" if fam in PAPER_LOSSES else ("--" if fam != "ce" else "-")
                lw = 2.5 if fam in ("ce", *PAPER_LOSSES) else 1.2
                ax.plot(xs, ys, style, marker="o", lw=lw, label=fam)
        ce_best = [
            (r, 100 * stats[(ds, spec, "ce")].best) for r, spec in sym if (ds, spec, "ce") in stats
        ]
        if ce_best:
            ax.plot(*zip(*ce_best), ":", color="k", lw=1.5, label="ce (best epoch)")
        noise_axis(ax, f"{ds}: last-epoch clean test accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower left", ncol=2)
    save_png(fig, path)
