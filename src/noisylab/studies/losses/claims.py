"""The ``losses`` study's claims, one function each, evaluated on the selected families' stats.

Every function takes ``stats`` (:data:`~.records.StatsTable`: means over seeds per (dataset,
noise spec, family), for the hyper-parameters selected on the noisy validation split) and
returns one :class:`~noisylab.studies.base.Claim` whose evidence holds the numbers behind the
verdict, accuracies in percent. Thresholds are the named constants below, stated once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from noisylab.studies.base import Claim

from .config import BASELINES, CLEANLAB, RAW_UNHINGED, Config, symmetric_rate
from .records import Chosen, Curves, Key, StatsTable

#: symmetric noise rates at or above this are "high noise" for the symmetric-vs-CE claim.
HIGH_NOISE = 0.6
#: a paper loss is "competitive" when at most this many points below the best baseline.
COMPETITIVE_POINTS = 2.0
#: the memorisation-gap claim looks at symmetric noise rates at or above this.
MEMORISATION_NOISE = 0.4
#: the smallest CE best-minus-last gap (points) that counts as memorisation.
MIN_MEMORISATION_GAP = 1.0
#: raw unhinged "explodes" when its logit scale exceeds this multiple of the normalised one.
LOGIT_BLOWUP = 100

_LAST = "last-epoch clean test accuracy (%), mean over seeds"


def _stat(stats: StatsTable, key: Key, field: str) -> float:
    st = stats.get(key)
    return float("nan") if st is None else float(getattr(st, field))


def _ce_curve(stats: StatsTable, ds: str, noise: Sequence[str]) -> list[tuple[float, str]]:
    """(rate, spec) of the symmetric-noise settings (and ``none``) where CE has results."""
    return sorted(
        (r, spec)
        for spec in noise
        if (r := symmetric_rate(spec)) is not None and (ds, spec, "ce") in stats
    )


def symmetric_beat_ce_high_noise(
    stats: StatsTable, datasets: Sequence[str], noise: Sequence[str], losses: Sequence[str]
) -> Claim:
    """In every setting with symmetric η ≥ HIGH_NOISE, a strict majority of the symmetric
    losses among ``losses`` (the registry's ``symmetric`` flag) beat CE's last-epoch accuracy."""
    from noisylab.losses import LOSSES

    sym_losses = [f for f in losses if LOSSES.meta(f)["symmetric"]]
    high = [
        (ds, spec)
        for ds in datasets
        for spec in noise
        if (r := symmetric_rate(spec)) is not None and r >= HIGH_NOISE
    ]
    ev: dict[str, Any] = {"metric": _LAST}
    ok = bool(high) and "ce" in losses and bool(sym_losses)
    fewest: tuple[float, str, str] = (math.inf, "", "")
    for ds, spec in high:
        ce = _stat(stats, (ds, spec, "ce"), "last")
        per = {f: stats[(ds, spec, f)].last for f in sym_losses if (ds, spec, f) in stats}
        wins = [f for f, v in per.items() if v > ce]
        best_per = {f: stats[(ds, spec, f)].best for f in per}
        ce_best = _stat(stats, (ds, spec, "ce"), "best")
        ev[f"{ds} {spec}"] = {
            "ce_last": 100 * ce,
            "symmetric_last": {f: 100 * v for f, v in per.items()},
            "beat_ce_last": f"{len(wins)}/{len(per)}",
            "ce_best": 100 * ce_best,
            "beat_ce_best": f"{sum(v > ce_best for v in best_per.values())}/{len(per)}",
        }
        ok = ok and len(wins) * 2 > len(per)
        fewest = min(fewest, (len(wins) / max(len(per), 1), f"{len(wins)}/{len(per)}", spec))
    ev["headline"] = (
        f"fewest symmetric losses above CE (last epoch): {fewest[1]} at {fewest[2]} "
        f"(reproduced when a strict majority in every setting with eta >= {HIGH_NOISE:g})"
        if high
        else f"no setting with symmetric eta >= {HIGH_NOISE:g} (not reproduced)"
    )
    return Claim(
        id="symmetric-beat-ce-high-noise",
        statement=(
            f"At symmetric noise >= {HIGH_NOISE:g}, most symmetric losses ("
            + ", ".join(sym_losses)
            + ") beat CE in last-epoch clean test accuracy, in every such setting."
        ),
        reproduced=ok,
        evidence=ev,
    )


def paper_loss_competitive(
    stats: StatsTable,
    chosen: Chosen,
    family: str,
    baselines: Sequence[str],
    datasets: Sequence[str],
    noise: Sequence[str],
    curves: Curves | None = None,
) -> Claim:
    """``family``'s last-epoch accuracy is at most COMPETITIVE_POINTS below the best of
    ``baselines`` in every setting where both have results (and there is one).

    The evidence also shows, per setting, the family's and the best baseline's last-epoch
    training accuracy on the samples whose label is clean (``clean_train_acc``; without
    noise, the whole training set: does the loss underfit?)
    and, with ``curves`` (mean test accuracy per evaluated epoch of each selected family),
    ``gap_by_epoch``: the same gap at every evaluated epoch of the run (does it shrink with
    training?). Neither changes the verdict.
    """
    ev: dict[str, Any] = {"metric": _LAST, "settings": {}}
    hits, total = 0, 0
    worst: tuple[float, str] = (math.inf, "")
    for ds in datasets:
        for spec in noise:
            base = {f: stats[(ds, spec, f)].last for f in baselines if (ds, spec, f) in stats}
            if not base or (ds, spec, family) not in stats:
                continue
            top = max(base, key=lambda f: -1 if math.isnan(base[f]) else base[f])
            mine = stats[(ds, spec, family)].last
            gap = 100 * (mine - base[top])
            total += 1
            hits += bool(gap >= -COMPETITIVE_POINTS)
            sel = chosen[(ds, spec, family)]
            setting = {
                family: 100 * mine,
                "best_baseline": top,
                "best_baseline_acc": 100 * base[top],
                "gap_points": gap,
                "selected": sel.params | {"lr": sel.lr},
                "clean_train_acc": {
                    family: 100 * _stat(stats, (ds, spec, family), "clean_train"),
                    top: 100 * _stat(stats, (ds, spec, top), "clean_train"),
                },
            }
            if curves is not None:
                setting["gap_by_epoch"] = gap_by_epoch(curves, ds, spec, family, baselines)
            ev["settings"][f"{ds} {spec}"] = setting
            if not gap >= worst[0]:  # NaN counts as the worst
                worst = (
                    gap,
                    f"{ds} {spec} ({family} {100 * mine:.1f} vs {top} {100 * base[top]:.1f})",
                )
    ev[f"within_{COMPETITIVE_POINTS:g}_points"] = f"{hits}/{total}"
    ev["headline"] = (
        f"worst gap to the best baseline {worst[0]:+.1f} points at {worst[1]}; "
        f"{hits}/{total} settings within {COMPETITIVE_POINTS:g} "
        f"(reproduced when gap >= -{COMPETITIVE_POINTS:g} in every setting)"
        if total
        else "no setting with results (not reproduced)"
    )
    return Claim(
        id=f"{family}-competitive",
        statement=(
            f"{family} is within {COMPETITIVE_POINTS:g} points of the best baseline "
            f"({', '.join(baselines)}) or better, in last-epoch clean test accuracy, in every "
            "setting."
        ),
        reproduced=total > 0 and hits == total,
        evidence=ev,
    )


def ce_degrades_with_noise(
    stats: StatsTable, datasets: Sequence[str], noise: Sequence[str]
) -> Claim:
    """On every dataset CE has ≥ 2 symmetric rates and its last-epoch accuracy strictly falls
    from each rate to the next."""
    ev: dict[str, Any] = {"metric": "CE clean test accuracy (%), mean over seeds"}
    ok = True
    for ds in datasets:
        sym = _ce_curve(stats, ds, noise)
        lasts = [100 * stats[(ds, spec, "ce")].last for _, spec in sym]
        bests = [100 * stats[(ds, spec, "ce")].best for _, spec in sym]
        ev[ds] = {"rates": [r for r, _ in sym], "last": lasts, "best": bests}
        ok = ok and len(lasts) >= 2 and all(b < a for a, b in itertools.pairwise(lasts))
    ev["headline"] = (
        "; ".join(
            f"{ds}: CE last-epoch accuracy "
            + (" -> ".join(f"{v:.1f}" for v in ev[ds]["last"]) or "none")
            + " at eta "
            + (", ".join(f"{r:g}" for r in ev[ds]["rates"]) or "none")
            for ds in datasets
        )
        + " (reproduced when strictly falling over >= 2 rates)"
    )
    return Claim(
        id="ce-degrades-with-noise",
        statement="CE's last-epoch clean test accuracy falls as the symmetric noise rate grows.",
        reproduced=ok,
        evidence=ev,
    )


def ce_memorisation_gap(stats: StatsTable, datasets: Sequence[str], noise: Sequence[str]) -> Claim:
    """At every symmetric η ≥ MEMORISATION_NOISE, CE's best − last accuracy is at least
    MIN_MEMORISATION_GAP points and larger than at η = 0 (when η = 0 was run)."""
    ev: dict[str, Any] = {"metric": "CE best-epoch minus last-epoch clean test accuracy (points)"}
    ok, n = True, 0
    smallest: tuple[float, str, float | None] = (math.inf, "", None)
    for ds in datasets:
        sym = _ce_curve(stats, ds, noise)
        gap0 = None
        gaps = {}
        for r, spec in sym:
            st = stats[(ds, spec, "ce")]
            gap = 100 * st.best - 100 * st.last
            gaps[str(r)] = {"gap": gap, "memorised_noisy_train_labels": 100 * st.memorised}
            if r == 0.0:
                gap0 = gap
        ev[ds] = gaps
        for r, spec in sym:
            if r >= MEMORISATION_NOISE:
                st = stats[(ds, spec, "ce")]
                gap = 100 * st.best - 100 * st.last
                n += 1
                ok = ok and gap >= MIN_MEMORISATION_GAP and (gap0 is None or gap > gap0)
                if not gap >= smallest[0]:
                    smallest = (gap, f"{ds} eta {r:g}", gap0)
    if n:
        g0 = "" if smallest[2] is None else f", {smallest[2]:.1f} without noise"
        ev["headline"] = (
            f"smallest CE best-minus-last gap {smallest[0]:.1f} points at {smallest[1]}{g0} "
            f"(reproduced when >= {MIN_MEMORISATION_GAP:g} and above the noise-free gap)"
        )
    else:
        ev["headline"] = f"no symmetric rate >= {MEMORISATION_NOISE:g} (not reproduced)"
    return Claim(
        id="ce-memorisation-gap",
        statement=(
            f"Under symmetric noise >= {MEMORISATION_NOISE:g}, CE memorises: its best-epoch "
            f"accuracy exceeds its last-epoch accuracy by at least {MIN_MEMORISATION_GAP:g} "
            "point, more than without noise."
        ),
        reproduced=n > 0 and ok,
        evidence=ev,
    )


def raw_unhinged_diverges(
    stats: StatsTable, datasets: Sequence[str], noise: Sequence[str]
) -> Claim:
    """In every setting, unhinged on raw logits diverges (a NaN seed, or logit scale above
    LOGIT_BLOWUP × the normalised loss's) and ends below the logit-normalised unhinged loss."""
    ev: dict[str, Any] = {}
    ok, n_ok, ratio = True, 0, math.inf
    for ds in datasets:
        for spec in noise:
            raw = stats.get((ds, spec, RAW_UNHINGED))
            norm = stats.get((ds, spec, "unhinged"))
            if raw is None or norm is None:
                continue
            exploded = raw.diverged > 0 or raw.logit_scale > LOGIT_BLOWUP * norm.logit_scale
            worse = math.isnan(raw.last) or raw.last < norm.last
            ok = ok and exploded and worse
            n_ok += exploded and worse
            ratio = min(ratio, raw.logit_scale / norm.logit_scale)
            ev[f"{ds} {spec}"] = {
                "raw_diverged_seeds": raw.diverged,
                "raw_logit_scale": raw.logit_scale,
                "normalised_logit_scale": norm.logit_scale,
                "raw_last": 100 * raw.last,
                "raw_best": 100 * raw.best,
                "normalised_last": 100 * norm.last,
            }
    n = len(ev)  # one entry per setting, before the headline
    ev["headline"] = (
        f"raw unhinged failed and ended below normalised unhinged in {n_ok}/{n} settings; "
        f"smallest raw/normalised logit-scale ratio {ratio:.3g} "
        f"(reproduced when in every setting: NaN or ratio > {LOGIT_BLOWUP:g})"
        if n
        else "no setting with both unhinged variants (not reproduced)"
    )
    return Claim(
        id="raw-unhinged-diverges",
        statement=(
            "The multi-class unhinged loss on raw logits fails (NaN, or logits > "
            f"{LOGIT_BLOWUP:g}x those of the normalised loss) and ends below the "
            "logit-normalised unhinged loss, in every setting."
        ),
        reproduced=n > 0 and ok,
        evidence=ev,
    )


def gap_by_epoch(
    curves: Curves, ds: str, spec: str, family: str, baselines: Sequence[str]
) -> dict[str, float]:
    """``{epoch: family − best baseline at that epoch}`` (points) over the epochs where the
    family and at least one baseline were evaluated.

    >>> c = {("d", "none", "a"): {2: 0.5, 4: 0.8}, ("d", "none", "b"): {2: 0.7, 4: 0.85}}
    >>> {k: round(v, 6) for k, v in gap_by_epoch(c, "d", "none", "a", ["b"]).items()}
    {'2': -20.0, '4': -5.0}
    """
    mine = curves.get((ds, spec, family), {})
    out = {}
    for ep in sorted(mine):
        base = [
            v
            for f in baselines
            if not math.isnan(v := curves.get((ds, spec, f), {}).get(ep, math.nan))
        ]
        if base:
            out[str(ep)] = 100 * (mine[ep] - max(base))
    return out


def baselines_of(config: Config) -> list[str]:
    """The baselines the paper's losses are compared with: configured peers, then cleanlab."""
    out = [f for f in BASELINES if f in config.losses]
    return out + ([CLEANLAB] if config.cleanlab else [])


def evaluate(
    config: Config, chosen: Chosen, stats: StatsTable, curves: Curves | None = None
) -> list[Claim]:
    """Every claim whose losses the configuration trains, in report order."""
    ds, noise = config.datasets, config.noise
    claims = [symmetric_beat_ce_high_noise(stats, ds, noise, config.losses)]
    for fam in ("sgce", "alpha-mae"):
        if fam in config.losses:
            claims.append(
                paper_loss_competitive(stats, chosen, fam, baselines_of(config), ds, noise, curves)
            )
    if "ce" in config.losses:
        claims.append(ce_degrades_with_noise(stats, ds, noise))
        claims.append(ce_memorisation_gap(stats, ds, noise))
    if config.raw_unhinged and "unhinged" in config.losses:
        claims.append(raw_unhinged_diverges(stats, ds, noise))
    return claims
