"""The ``modular`` study's four claims, one function each, evaluated on the member table.

Each function states its claim, takes its threshold from a named constant (or parameter)
defined once here, and returns a :class:`~noisylab.studies.base.Claim` with the numbers it
decided on. Claims about "high noise" and "sufficient width" read the table's largest noise
rate and widest network. Nothing here is tuned to pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from noisylab.studies.base import Claim
from noisylab.studies.common import spearman_rho

from .records import MemberTable

#: the extraction claim is about this label-noise rate (or above) ...
EXTRACTION_NOISE = 0.8
#: ... where the frequency-extracted network G must reach this test accuracy.
EXTRACTION_MIN_TEST = 0.99
#: the noisy subset must be memorised first in at least this fraction of the noisy runs.
MEMORISE_FIRST_MIN_FRACTION = 0.8
#: the widest network's raw test accuracy must beat the narrowest's by this much (5 points).
WIDTH_MIN_GAIN = 0.05
#: the networks the partition claim compares (raw, partitions, G), in its evidence.
PARTITION_NETS = ("raw", "part_strength", "part_ipr", "G")
#: the strength partition must beat the raw network's test accuracy by this much (5 points).
PARTITION_MIN_GAIN = 0.05


def _pct(x: float | None) -> str:
    """An accuracy in %, one decimal, for headlines.

    >>> _pct(0.9876), _pct(None)
    ('98.8%', 'n/a')
    """
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _trend(table: MemberTable, width: int, rate: float, keys: tuple[str, ...]) -> dict[int, Any]:
    """``{epoch: {key: seed-mean}}`` of the checkpoint snapshots at (``width``, ``rate``);
    empty when the run recorded no checkpoints (the budget axis inside one run).

    >>> t = MemberTable([], [{"width": 8, "rate": 0.8, "epoch": e, "x": e / 10} for e in (1, 2)])
    >>> _trend(t, 8, 0.8, ("x",))
    {1: {'x': 0.1}, 2: {'x': 0.2}}
    """
    return {e: {k: table.snap(width, rate, e, k) for k in keys} for e in table.checkpoints}


def _points(x: float) -> str:
    """An accuracy difference in percentage points, for statements.

    >>> _points(0.05)
    '5'
    """
    return f"{100 * x:g}"


def extraction_80(
    table: MemberTable, noise: float = EXTRACTION_NOISE, min_test: float = EXTRACTION_MIN_TEST
) -> Claim:
    """At the top noise rate (≥ ``noise``), the widest network's G has test accuracy
    ≥ ``min_test`` and above the raw network's; not reproduced without such a rate."""
    widths, top = table.widths, max(table.rates)
    wide = widths[-1]
    ev: dict[str, Any]
    if top >= noise:
        g = table.cell(wide, top, "G_test")
        raw = table.cell(wide, top, "raw_test")
        ok = g is not None and raw is not None and g >= min_test and g > raw
        ev = {
            "noise": top,
            "width": wide,
            "G_test": g,
            "raw_test": raw,
            "R_test": table.cell(wide, top, "R_test"),
            "G_noisy_vs_noisy": table.cell(wide, top, "G_noisy"),
            "R_noisy_vs_noisy": table.cell(wide, top, "R_noisy"),
            "raw_noisy_vs_noisy": table.cell(wide, top, "raw_noisy"),
            "G_test_by_width": {w: table.cell(w, top, "G_test") for w in widths},
            "by_epoch": _trend(table, wide, top, ("G_test", "raw_test")),
            "headline": f"G test {_pct(g)} vs raw {_pct(raw)} at noise {top:g}, width {wide} "
            f"(reproduced when G >= {_pct(min_test)} and above raw)",
        }
    else:
        ok, ev = False, {"reason": f"no noise rate >= {noise:g} in this config (max {top})"}
        ev["headline"] = f"no noise rate >= {noise:g} (max {top:g}): not testable"
    return Claim(
        id="extraction_80",
        statement=(
            f"At {noise:.0%} label noise and sufficient width, frequency extraction gives test "
            f"accuracy >= {min_test:.0%}, above the raw network's"
        ),
        reproduced=ok,
        evidence=ev,
    )


def memorise_first(
    table: MemberTable, threshold: float, min_fraction: float = MEMORISE_FIRST_MIN_FRACTION
) -> Claim:
    """In at least ``min_fraction`` of the noisy runs, the noisy subset (vs its noisy labels)
    reaches ``threshold`` accuracy at an earlier epoch than the clean subset (or the clean
    subset never does)."""
    earlier = []
    detail = []
    for r in table.rows:
        if not r["rate"] > 0:
            continue
        m, f = r["memorised_epoch"], r["fit_epoch"]
        earlier.append(m is not None and (f is None or m < f))
        detail.append(
            {
                "width": r["width"],
                "rate": r["rate"],
                "seed": r["seed"],
                "noisy_90": m,
                "clean_90": f,
                "noisy_50": r["memorised_epoch_50"],
                "clean_50": r["fit_epoch_50"],
                "max_lead": r["max_lead"],
            }
        )
    frac = float(np.mean(earlier)) if earlier else 0.0
    half = [
        d["noisy_50"] is not None and (d["clean_50"] is None or d["noisy_50"] < d["clean_50"])
        for d in detail
    ]
    leads = [d["max_lead"] for d in detail if d["max_lead"] is not None]
    return Claim(
        id="memorise_first",
        statement=(
            f"Noisy labels are memorised before the clean data is fitted: the noisy subset "
            f"(vs its noisy labels) reaches {threshold:.0%} accuracy before the clean "
            f"subset does (in at least {min_fraction:.0%} of noisy runs)"
        ),
        reproduced=bool(earlier) and frac >= min_fraction,
        evidence={
            "fraction_noisy_first": frac,
            "runs": len(earlier),
            "fraction_noisy_first_at_50": float(np.mean(half)) if half else None,
            "median_max_lead": float(np.median(leads)) if leads else None,
            "headline": f"noisy subset reaches {threshold:.0%} first in {frac:.0%} of "
            f"{len(earlier)} noisy runs (reproduced when >= {min_fraction:.0%})",
            "per_run": detail,
        },
    )


def width_helps(table: MemberTable, min_gain: float = WIDTH_MIN_GAIN) -> Claim:
    """At the top noise rate, raw test accuracy rises with width: Spearman(width, raw test)
    > 0 and the widest beats the narrowest by ≥ ``min_gain``; needs ≥ 2 widths and noise."""
    widths, top = table.widths, max(table.rates)
    ev: dict[str, Any]
    if len(widths) >= 2 and top > 0:
        raw_by_w = [table.cell(w, top, "raw_test") for w in widths]
        rho = spearman_rho([float(w) for w in widths], [v or 0.0 for v in raw_by_w])
        gain = (raw_by_w[-1] or 0.0) - (raw_by_w[0] or 0.0)
        ok = np.isfinite(rho) and rho > 0 and gain >= min_gain
        ev = {
            "noise": top,
            "widths": widths,
            "raw_test": raw_by_w,
            "spearman": rho if np.isfinite(rho) else None,
            "gain_widest_vs_narrowest": gain,
            "G_test": [table.cell(w, top, "G_test") for w in widths],
            "criterion": "Spearman(width, raw test) > 0 and widest - narrowest >= "
            f"{_points(min_gain)} points",
            "by_epoch": _width_trend(table, top),
            "by_epoch_at_rate": {a: _width_trend(table, a) for a in table.rates if a != top},
            "headline": f"Spearman(width, raw test) {rho:.2f}, widest - narrowest "
            f"{100 * gain:+.1f} points at noise {top:g} (reproduced when > 0 and >= "
            f"{_points(min_gain)} points)",
        }
    else:
        ok, ev = False, {"reason": "needs >= 2 widths and a noise rate > 0"}
        ev["headline"] = "needs >= 2 widths and a noise rate > 0: not testable"
    return Claim(
        id="width_helps",
        statement="Wider networks generalise better (raw test accuracy) at high label noise",
        reproduced=bool(ok),
        evidence=ev,
    )


def _width_trend(table: MemberTable, rate: float) -> dict[int, Any]:
    """Per checkpoint epoch: raw test accuracy by width at ``rate``, its Spearman with width,
    the widest-minus-narrowest gain and the widest network's mean neuron IPR."""
    widths = table.widths
    out: dict[int, Any] = {}
    for e in table.checkpoints:
        raw = [table.snap(w, rate, e, "raw_test") or 0.0 for w in widths]
        rho = spearman_rho([float(w) for w in widths], raw)
        out[e] = {
            "raw_test": raw,
            "spearman": rho if np.isfinite(rho) else None,
            "gain_widest_vs_narrowest": raw[-1] - raw[0],
            "G_test": [table.snap(w, rate, e, "G_test") for w in widths],
            "ipr_mean_widest": table.snap(widths[-1], rate, e, "ipr_mean"),
        }
    return out


def partition_between(
    table: MemberTable, k_fraction: float, min_gain: float = PARTITION_MIN_GAIN
) -> Claim:
    """At the top noise rate and widest network, the strength partition (top ``k_fraction``
    of neurons) beats the raw network's test accuracy by ≥ ``min_gain`` but stays below G's."""
    wide, top = table.widths[-1], max(table.rates)
    raw = table.cell(wide, top, "raw_test")
    g = table.cell(wide, top, "G_test")
    part = table.cell(wide, top, "part_strength_test")
    keys = (*(f"{k}_test" for k in PARTITION_NETS), "ipr_mean")
    ok = raw is not None and g is not None and part is not None
    ok = ok and part >= raw + min_gain and part < g  # type: ignore[operator]
    return Claim(
        id="partition_between",
        statement=(
            "The strength-partitioned generalisation subnetwork improves test accuracy over "
            f"the raw network (by >= {_points(min_gain)} points), but by less than frequency "
            "extraction"
        ),
        reproduced=bool(ok),
        evidence={
            "noise": top,
            "width": wide,
            "k_fraction": k_fraction,
            "raw_test": raw,
            "G_test": g,
            "part_strength_test": part,
            "part_ipr_test": table.cell(wide, top, "part_ipr_test"),
            "mem_strength_noisy_vs_noisy": table.cell(wide, top, "mem_strength_noisy"),
            "by_rate": {
                a: {k: table.cell(wide, a, f"{k}_test") for k in PARTITION_NETS}
                for a in table.rates
            },
            "by_epoch": _trend(table, wide, top, keys),
            "by_epoch_at_rate": {a: _trend(table, wide, a, keys) for a in table.rates if a != top},
            "headline": f"strength partition test {_pct(part)} vs raw {_pct(raw)} and G "
            f"{_pct(g)} at noise {top:g}, width {wide} (reproduced when >= raw + "
            f"{_points(min_gain)} points and < G)",
        },
    )
