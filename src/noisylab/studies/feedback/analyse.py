"""From stored unit results to the study's outputs (``analyse``); nothing here trains.

The analysis parses the results into :class:`~.records.UnitResult` records, then derives

- the **summary**: each method's seed-combined mean and SE of every evaluation key;
- the **paths**: every optimisation path present in all seeds (best-of-n and PPO per reward
  model, expert iteration) and their **seed means** key by key;
- **Gao et al.'s fits** of gold gain against d = √KL on those means;

and hands them to :mod:`.tables`, :mod:`.figures` and :mod:`.claims`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.studies.base import Claim, write_csv

from . import claims as claims_
from . import figures, tables
from .config import EVAL_KEYS, METHODS, RM_KINDS, Config
from .records import MeanPaths, Metrics, UnitResult

#: A path: the rows (one per n, step or round) of one optimisation path in one result.
PathRows = Callable[[UnitResult], list[Metrics]]


def analyse(config: Config, results: Sequence[Mapping[str, Any]], out: Path) -> list[Claim]:
    """Write results.csv, table.md, the figures, and evaluate the claims."""
    out = Path(out)
    if not results:
        raise ValueError("analyse needs at least one unit result, got none")
    recs = [UnitResult.from_dict(r) for r in results]
    write_csv(out / "results.csv", csv_rows(recs))
    summary = summarise(recs)
    paths = path_rows(recs)
    means = seed_means(recs, paths)
    fits = gao_fits(means)
    (out / "table.md").write_text(tables.table(config, recs, summary, means, fits))
    figures.bon_curve(recs, out / "figures" / "bon_curve.png")
    figures.overoptimization(means, out / "figures" / "overoptimization.png")
    figures.kl_frontier(summary, means, fits, out / "figures" / "kl_frontier.png")
    figures.dpo_flip(recs, out / "figures" / "dpo_flip.png")
    return claims_.evaluate(recs, summary, means)


def summarise(results: Sequence[UnitResult]) -> dict[str, dict[str, float]]:
    """Every method's mean and SE of every evaluation key, combined over seeds
    (:func:`noisylab.feedback.evaluate.combine_seeds`; a missing key counts as NaN)."""
    from noisylab.feedback.evaluate import combine_seeds

    summary: dict[str, dict[str, float]] = {}
    for m in METHODS:
        summary[m] = {}
        for key in EVAL_KEYS:
            means = [r.methods[m].get(key, float("nan")) for r in results]
            ses = [r.methods[m].get(key + "_se", float("nan")) for r in results]
            summary[m][key], summary[m][key + "_se"] = combine_seeds(means, ses)
    return summary


def _bon_rows(k: str) -> PathRows:
    def rows(r: UnitResult) -> list[Metrics]:
        b, bound = r.bon.by_rm[k], r.bon.kl_bound
        return [{key: b[key][i] for key in b} | {"kl": bound[i]} for i in range(len(r.bon.n))]

    return rows


def _ppo_rows(k: str) -> PathRows:
    return lambda r: r.curves.ppo[k]


def _ei_rows(r: UnitResult) -> list[Metrics]:
    return r.curves.expert_iteration


def path_rows(results: Sequence[UnitResult]) -> dict[str, PathRows]:
    """Every optimisation path present in all seeds, in order ``bon_<rm>``, ``ppo_<rm>`` per
    reward-model kind, then ``expert_iteration``: name → rows function."""
    out: dict[str, PathRows] = {}
    for k in RM_KINDS:
        if all(k in r.bon.by_rm for r in results):
            out[f"bon_{k}"] = _bon_rows(k)
        if all(k in r.curves.ppo for r in results):
            out[f"ppo_{k}"] = _ppo_rows(k)
    out["expert_iteration"] = _ei_rows
    return out


def mean_path(results: Sequence[UnitResult], rows_of: PathRows, key: str) -> np.ndarray:
    """Seed-mean of ``key`` along a path; ``rows_of(result)`` gives the path's rows."""
    return np.mean([[row[key] for row in rows_of(r)] for r in results], axis=0)


class _SeedMeans(Mapping[str, np.ndarray]):
    """One path's seed means, key by key, computed when first read (a key that no claim,
    table or figure reads is never averaged)."""

    def __init__(self, results: Sequence[UnitResult], rows_of: PathRows) -> None:
        self._results, self._rows_of = results, rows_of
        self._keys = list(rows_of(results[0])[0])
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            if key not in self._keys:
                raise KeyError(key)
            self._cache[key] = mean_path(self._results, self._rows_of, key)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def seed_means(
    results: Sequence[UnitResult], paths: Mapping[str, PathRows]
) -> dict[str, Mapping[str, np.ndarray]]:
    """Every path's seed mean of every key its rows hold (see :func:`mean_path`)."""
    return {name: _SeedMeans(results, rows_of) for name, rows_of in paths.items()}


def gao_fits(means: MeanPaths) -> dict[str, dict[str, float]]:
    """Gao et al.'s forms on the seed-mean gold gain against d = √KL (the bound for
    best-of-n, the Monte-Carlo estimate for PPO): best-of-n d(α − βd), PPO d(α − β log d)
    (Gao, Schulman & Hilton 2022, eqs. 1–2; :func:`noisylab.feedback.laws.fit_gao`)."""
    from noisylab.feedback.laws import fit_gao

    fits = {}
    for name, path in means.items():
        if not name.startswith(("bon_", "ppo_")):
            continue
        gold = path["gold"]
        d = np.sqrt(np.clip(path["kl"], 0.0, None))
        fits[name] = fit_gao("bon" if name.startswith("bon_") else "rl", d, gold - gold[0])
    return fits


def csv_rows(results: Sequence[UnitResult]) -> list[dict[str, Any]]:
    """The long-format results table: one row per method evaluation (``kind = method``),
    path point (``path``), PPO training step (``ppo_step``), flip-sweep point
    (``flip_sweep``) and preference-set size (``pref_size``, at the largest n), per seed."""
    rows: list[dict[str, Any]] = []
    for r in results:
        s = r.seed
        for m, v in r.methods.items():
            rows.append({"seed": s, "kind": "method", "method": m, **v})
        for name, path in path_rows([r]).items():
            for i, row in enumerate(path(r)):
                rows.append({"seed": s, "kind": "path", "method": name, "index": i, **row})
        log = r.ppo_log
        for i in range(len(log.get("step", []))):
            step = {k: v[i] for k, v in log.items()}
            rows.append({"seed": s, "kind": "ppo_step", "method": "ppo_noisy_pool", **step})
        for kind, sweep in r.dpo_flip.items():
            for row in sweep:
                rows.append({"seed": s, "kind": "flip_sweep", "method": kind, **row})
        for row in r.pref_size:
            flat = {k: (v[-1] if isinstance(v, list) else v) for k, v in row.items()}
            rows.append({"seed": s, "kind": "pref_size", "method": "bon_noisy_pool", **flat})
    return rows
