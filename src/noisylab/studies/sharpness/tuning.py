"""ρ selection on the noisy validation split, and the (ρ, epoch budget) sweep of a preset.

A unit runs one method at one ρ and one epoch budget. :func:`sweep_groups` keeps every
member by (dataset, η, method, ρ, epochs); :func:`tuned_groups` picks, for each (dataset, η,
method) at the dataset's main budget ``config.epochs[ds]``, the ρ with the highest mean
(over seeds) last-epoch accuracy on the *noisy* validation split — never on test — and
returns the members of that ρ as the claims' groups. With one ρ per method (tiny, quick) it
is the plain grouping by (dataset, η, method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from noisylab.studies.common import nan_mean

from .records import Groups, Member, UnitResult

#: members by (dataset, η, method spec, ρ or None, epochs).
Sweep = dict[tuple[str, float, str, float | None, int], list[Member]]
#: chosen ρ by (dataset, η, method, epochs), with the validation accuracy of every ρ tried.
Selection = dict[tuple[str, float, str, int], dict[str, Any]]


def unit_rho(res: UnitResult) -> float | None:
    """ρ of a result's optimiser (``None`` for SGD)."""
    params = res.optimizer_params or {}
    rho = params.get("rho")
    return None if rho is None else float(rho)


def sweep_groups(results: Sequence[UnitResult], epochs_of: dict[str, int]) -> Sweep:
    """Every member by (dataset, η, method, ρ, epochs), in result order (a result without
    ``epochs`` counts as the dataset's main budget ``epochs_of[ds]``, default 20)."""
    out: Sweep = {}
    for res in results:
        epochs = res.epochs if res.epochs is not None else epochs_of.get(res.dataset, 20)
        for m in res.members:
            key = (res.dataset, float(m.noise), res.method, unit_rho(res), epochs)
            out.setdefault(key, []).append(m)
    return out


def choose(
    sweep: Sweep, ds: str, r: float, method: str, epochs: int, default_rho: float | None = None
) -> tuple[float | None, dict[str, float]]:
    """The ρ of (ds, η, method, epochs) with the best mean noisy-validation accuracy.

    Returns (ρ, {ρ: mean validation accuracy}). Ties go to the smaller ρ; without validation
    numbers, ``default_rho`` if it ran, else the smallest ρ. ``(None, {})`` if nothing ran.

    >>> from noisylab.studies.sharpness.records import Member
    >>> def mem(v):
    ...     return Member(0.5, 0, 0.5, 0.8, 0.8, 1, 0.1, 0.9, 1.0, 0.1, 0.1, 0.5, None, v)
    >>> sw = {("d", 0.5, "sam", 0.05, 9): [mem(0.4)], ("d", 0.5, "sam", 0.1, 9): [mem(0.5)]}
    >>> choose(sw, "d", 0.5, "sam", 9)
    (0.1, {'0.05': 0.4, '0.1': 0.5})
    """
    cands = sorted(
        (k[3] for k in sweep if k[0] == ds and k[1] == r and k[2] == method and k[4] == epochs),
        key=lambda x: -1.0 if x is None else x,
    )
    if not cands:
        return None, {}
    vals = {
        rho: nan_mean([m.val_last_acc for m in sweep[(ds, r, method, rho, epochs)]])
        for rho in cands
    }
    finite = {rho: v for rho, v in vals.items() if not math.isnan(v)}
    table = {f"{rho:g}": v for rho, v in vals.items() if rho is not None}
    if len(cands) == 1:
        return cands[0], table
    if finite:
        best = max(finite.values())
        return next(rho for rho in cands if finite.get(rho) == best), table
    return (default_rho if default_rho in cands else cands[0]), table


def tuned_groups(
    sweep: Sweep, default_rho: float | None = None
) -> tuple[dict[int, Groups], Selection]:
    """Groups (dataset, η, method) → members of the chosen ρ, for every epoch budget.

    Returns ({epochs: groups}, selection); :func:`main_groups` keeps each dataset's main
    budget for the claims.
    """
    by_budget: dict[int, Groups] = {}
    selection: Selection = {}
    for ds, r, method, epochs in sorted({(k[0], k[1], k[2], k[4]) for k in sweep}):
        rho, vals = choose(sweep, ds, r, method, epochs, default_rho)
        by_budget.setdefault(epochs, {})[(ds, r, method)] = sweep[(ds, r, method, rho, epochs)]
        selection[(ds, r, method, epochs)] = {"rho": rho, "val_acc_by_rho": vals}
    return by_budget, selection


def main_groups(by_budget: dict[int, Groups], epochs_of: dict[str, int]) -> Groups:
    """The groups of each dataset's main budget ``epochs_of[ds]`` (default 20), merged."""
    out: Groups = {}
    for epochs, groups in by_budget.items():
        for key, members in groups.items():
            if epochs_of.get(key[0], 20) == epochs:
                out[key] = members
    return out
