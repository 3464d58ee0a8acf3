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
from .records import Chosen, Key, StatsTable

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
) -> Claim:
    """``family``'s last-epoch accuracy is at most COMPETITIVE_POINTS below the best of
    ``baselines`` in every setting where both have results (and there is one)."""
    ev: dict[str, Any] = {"metric": _LAST, "settings": {}}
    hits, total = 0, 0
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
            ev["settings"][f"{ds} {spec}"] = {
                family: 100 * mine,
                "best_baseline": top,
                "best_baseline_acc": 100 * base[top],
                "gap_points": gap,
                "selected": sel.params | {"lr": sel.lr},
            }
    ev[f"within_{COMPETITIVE_POINTS:g}_points"] = f"{hits}/{total}"
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
    ok = True
    for ds in datasets:
        for spec in noise:
            raw = stats.get((ds, spec, RAW_UNHINGED))
            norm = stats.get((ds, spec, "unhinged"))
            if raw is None or norm is None:
                continue
            exploded = raw.diverged > 0 or raw.logit_scale > LOGIT_BLOWUP * norm.logit_scale
            worse = math.isnan(raw.last) or raw.last < norm.last
            ok = ok and exploded and worse
            ev[f"{ds} {spec}"] = {
                "raw_diverged_seeds": raw.diverged,
                "raw_logit_scale": raw.logit_scale,
                "normalised_logit_scale": norm.logit_scale,
                "raw_last": 100 * raw.last,
                "raw_best": 100 * raw.best,
                "normalised_last": 100 * norm.last,
            }
    return Claim(
        id="raw-unhinged-diverges",
        statement=(
            "The multi-class unhinged loss on raw logits fails (NaN, or logits > "
            f"{LOGIT_BLOWUP:g}x those of the normalised loss) and ends below the "
            "logit-normalised unhinged loss, in every setting."
        ),
        reproduced=bool(ev) and ok,
        evidence=ev,
    )


def baselines_of(config: Config) -> list[str]:
    """The baselines the paper's losses are compared with: configured peers, then cleanlab."""
    out = [f for f in BASELINES if f in config.losses]
    return out + ([CLEANLAB] if config.cleanlab else [])


def evaluate(config: Config, chosen: Chosen, stats: StatsTable) -> list[Claim]:
    """Every claim whose losses the configuration trains, in report order."""
    ds, noise = config.datasets, config.noise
    claims = [symmetric_beat_ce_high_noise(stats, ds, noise, config.losses)]
    for fam in ("sgce", "alpha-mae"):
        if fam in config.losses:
            claims.append(
                paper_loss_competitive(stats, chosen, fam, baselines_of(config), ds, noise)
            )
    if "ce" in config.losses:
        claims.append(ce_degrades_with_noise(stats, ds, noise))
        claims.append(ce_memorisation_gap(stats, ds, noise))
    if config.raw_unhinged and "unhinged" in config.losses:
        claims.append(raw_unhinged_diverges(stats, ds, noise))
    return claims
