"""From stored results to the ``alignment`` study's outputs: aggregates, sweeps, table, claims.

``analyse`` never trains: it parses the stored results into records, averages them over
seeds per grid point (setting, noise level, n), groups the points into the sweeps the
claims read (alignment vs SNR at fixed n, alignment vs n at a fixed noise level), and
writes ``results.csv``, ``table.md``, ``figures/`` and the four claims.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from noisylab.studies.base import Claim, markdown_table, write_csv
from noisylab.studies.common import mean_se

from . import claims as C
from . import figures
from .config import Config
from .records import Key, NSweep, Point, SnrSweep, UnitResult, curve, result_from_dict

#: the metrics averaged over seeds (each also gets a ``*_se`` standard error).
METRIC_COLS = ("cka", "knn", "cca", "test_err", "train_err", "memorisation", "theory")
#: a sweep measures its capacity (:func:`empirical_threshold`) only if some point fits less
#: than this share of its noise; :func:`memorisation_half_n` is where memorisation crosses it.
MEMORISATION_HALF = 0.5


def aggregate(results: list[UnitResult]) -> dict[Key, Point]:
    """(setting, level, n) → mean and standard error over seeds of each metric, sorted by key.

    A metric a setting does not measure (``theory`` for the MLPs, ``cca`` for the linear
    network) aggregates to NaN.
    """
    groups: dict[Key, list[UnitResult]] = defaultdict(list)
    for r in results:
        groups[(r.setting, float(r.level), int(r.n))].append(r)
    out = {}
    for key, rows in sorted(groups.items()):
        agg: Point = {"seeds": len(rows), "alpha": rows[0].alpha, "threshold": rows[0].threshold}
        for col in (*METRIC_COLS, "theory_finite"):
            agg[col], agg[col + "_se"] = mean_se(getattr(r, col, None) for r in rows)
        out[key] = agg
    return out


def snr_sweeps(config: Config, agg: dict[Key, Point]) -> list[SnrSweep]:
    """Alignment vs SNR groups: x = SNR (or −η for label flips); two points at least."""
    sweeps = []
    for a in config.linear_alphas:
        rows = curve(agg, "linear", n=config.linear_n(a))
        if len(rows) >= 2:
            sweeps.append(SnrSweep(f"linear α={a:g}", "linear", rows, [k[1] for k, _ in rows]))
    n = config.mlp_snr_sweep_n
    rows = curve(agg, "mlp_regression", n=n)
    if len(rows) >= 2:
        x = [k[1] for k, _ in rows]
        sweeps.append(SnrSweep(f"mlp_regression n={n}", "mlp_regression", rows, x))
    n = config.mlp_eta_sweep_n
    rows = curve(agg, "mlp_classification", n=n)
    if len(rows) >= 2:
        name = f"mlp_classification n={n} (x = −η)"
        sweeps.append(SnrSweep(name, "mlp_classification", rows, [-k[1] for k, _ in rows]))
    return sweeps


def n_sweeps(config: Config, agg: dict[Key, Point]) -> list[NSweep]:
    """Alignment vs n groups (three points at least), each with its interpolation threshold."""
    found: list[tuple[str, str, list[tuple[Key, Point]]]] = []
    for snr in config.linear_snrs:
        rows = curve(agg, "linear", level=snr)
        if len(rows) >= 3:
            found.append((f"linear SNR={snr:g}", "linear", rows))
    for setting, level in (
        ("mlp_regression", config.mlp_snr_n),
        ("mlp_classification", config.mlp_eta_n),
    ):
        rows = curve(agg, setting, level=level)
        if len(rows) >= 3:
            knob = "SNR" if setting == "mlp_regression" else "η"
            found.append((f"{setting} {knob}={level:g}", setting, rows))
    sweeps = []
    for name, setting, rows in found:
        nominal = rows[0][1]["threshold"]
        ns = [k[2] for k, _ in rows]
        if setting == "linear":
            sweeps.append(NSweep(name, setting, rows, ns, nominal, nominal))
        else:
            half = memorisation_half_n(rows)
            emp = empirical_threshold(rows)
            sweeps.append(NSweep(name, setting, rows, ns, nominal, emp, half))
    return sweeps


def empirical_threshold(rows: list[tuple[Key, Point]]) -> float | None:
    """The sweep's effective capacity in samples: max over n of n × memorisation(n).

    Belkin et al. (2019) put the interpolation threshold where n·outputs equals the
    number of parameters. Memorisation, the share of the noise the fit follows, is the
    fit's effective degrees of freedom per target (Efron 2004: E⟨f, ε⟩ = σ²·df, so
    memorisation ≈ df / (n·outputs)): it is 1 while the ensemble interpolates and ≈ C/n
    past the threshold C, so n × memorisation is n below the threshold and ≈ C above it,
    and its maximum estimates C with effective instead of nominal parameters. It is at
    least the largest n that is still fitted exactly (Nakkiran et al. 2019's effective
    model complexity). With label flips, memorisation is the share of flipped labels the
    members fit and the same saturation reading holds. ``None`` when no point fits less than half its noise: the sweep
    never leaves the interpolating regime and C is not measured.

    The earlier estimate, the n where memorisation falls through 50 %
    (:func:`memorisation_half_n`), sits at 2C on the same curve by construction.

    >>> ns = (50, 100, 150, 200, 250, 400)
    >>> pts = [(("m", 2.0, n), {"memorisation": min(1.0, 100 / n)}) for n in ns]
    >>> empirical_threshold(pts), round(memorisation_half_n(pts))
    (100.0, 200)
    """
    caps = [k[2] * v["memorisation"] for k, v in rows if np.isfinite(v.get("memorisation", np.nan))]
    past = [
        v["memorisation"] < MEMORISATION_HALF
        for _, v in rows
        if np.isfinite(v.get("memorisation", np.nan))
    ]
    if not caps or not any(past):
        return None
    return float(max(caps))


def memorisation_half_n(rows: list[tuple[Key, Point]]) -> float | None:
    """n where the ensemble's memorisation of its noise falls through 50 % (log-interpolated).

    Reported beside :func:`empirical_threshold` (the estimate before extended): on a
    memorisation curve min(1, C/n) it returns 2C, twice the interpolation threshold.

    >>> pts = [(("m", 0.2, n), {"memorisation": m}) for n, m in ((10, 0.9), (1000, 0.1))]
    >>> round(memorisation_half_n(pts), 6)
    100.0
    """
    ns = [k[2] for k, _ in rows]
    mem = [v["memorisation"] for _, v in rows]
    for i in range(1, len(ns)):
        a, b = mem[i - 1], mem[i]
        if np.isfinite(a) and np.isfinite(b) and a >= MEMORISATION_HALF > b:
            t = (a - MEMORISATION_HALF) / (a - b)
            return float(
                math.exp(math.log(ns[i - 1]) + t * (math.log(ns[i]) - math.log(ns[i - 1])))
            )
    return None


def write_table(path: Path, agg: dict[Key, Point]) -> None:
    """``table.md``: one line per grid point, metrics averaged over seeds."""
    rows = []
    for (setting, level, n), v in agg.items():
        rows.append(
            [
                setting,
                f"{level:g}",
                n,
                f"{v['alpha']:.2f}",
                f"{v['cka']:.3f} ± {v['cka_se']:.3f}",
                f"{v['knn']:.3f}",
                "—" if not np.isfinite(v["cca"]) else f"{v['cca']:.3f}",
                f"{v['test_err']:.3f}",
                "—" if not np.isfinite(v["theory"]) else f"{v['theory']:.3f}",
                v["seeds"],
            ]
        )
    header = [
        "setting",
        "SNR / η",
        "n",
        "n / nominal threshold",
        "CKA",
        "mutual kNN",
        "CCA",
        "test error",
        "theory",
        "seeds",
    ]
    path.write_text("# Alignment vs noise and sample size\n\n" + markdown_table(header, rows))


def analyse(config: Config, results: list[dict], out: Path) -> list[Claim]:
    """Write results.csv, table.md and the three figures; evaluate the four claims."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    records = [result_from_dict(r) for r in results]
    ordered = sorted(records, key=lambda r: (r.setting, r.level, r.n, r.seed))
    # sorted keys: the store's order, which the CSV's columns have always followed
    write_csv(out / "results.csv", [dict(sorted(r.to_dict().items())) for r in ordered])
    agg = aggregate(records)
    by_snr = snr_sweeps(config, agg)
    by_n = n_sweeps(config, agg)
    claims = [
        C.alignment_rises_with_snr(by_snr),
        C.alignment_nonmonotonic_in_n(by_n),
        C.alignment_decoupled_from_generalisation(by_n),
        C.linear_theory_matches_simulation(agg),
    ]
    write_table(out / "table.md", agg)
    figures.plot_snr(out / "figures" / "alignment_vs_snr.png", config, agg, by_snr)
    figures.plot_n(out / "figures" / "alignment_vs_n.png", by_n)
    figures.plot_theory(out / "figures" / "theory_vs_simulation.png", config, agg)
    return claims
