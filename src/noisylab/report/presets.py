"""Every preset of every study in the store, side by side: the claims matrix.

The report's main section of a study shows its latest reproduction; this module re-analyses
the latest reproduction of *each* preset (``tiny``, ``quick``, ``extended``, ``paper``, then
any other) from the store, so a reader sees how each claim's verdict and number move with the
budget. ``docs/gen_claims.py`` renders the same matrix as ``docs/claims.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisylab.studies.base import Claim

#: presets in order of budget; others follow in name order.
PRESET_ORDER = ("tiny", "quick", "extended", "paper")


def preset_key(name: str) -> tuple[int, str]:
    """Sort key: the known presets by budget, then any other by name.

    >>> sorted(["paper", "custom", "tiny", "extended"], key=preset_key)
    ['tiny', 'extended', 'paper', 'custom']
    """
    return (PRESET_ORDER.index(name) if name in PRESET_ORDER else len(PRESET_ORDER), name)


@dataclass
class PresetClaims:
    """One preset of one study as analysed from the store (``error`` set if that failed)."""

    preset: str
    claims: list[Claim] = field(default_factory=list)
    units: int = 0
    compute_s: float = 0.0
    error: str | None = None

    @property
    def reproduced(self) -> int:
        return sum(c.reproduced for c in self.claims)


def headline(claim: Claim, width: int = 110) -> str:
    """The number behind a verdict: the claim's ``evidence["headline"]`` when it states one,
    else its evidence in brief (cut at ``width`` characters).

    >>> headline(Claim(id="a", statement="s", reproduced=True, evidence={"headline": "r 0.9"}))
    'r 0.9'
    >>> headline(Claim(id="a", statement="s", reproduced=True, evidence={"x": 0.123456}))
    'x: 0.1235'
    """
    from noisylab.report.build import format_evidence

    text = claim.evidence.get("headline")
    if isinstance(text, str) and text:
        return text
    brief = format_evidence({k: v for k, v in claim.evidence.items() if k != "headline"})
    return brief if len(brief) <= width else brief[: width - 1] + "…"


def latest_by_preset(store_path: Path) -> dict[str, dict[str, Any]]:
    """``{study: {preset: StudyRun}}``: the latest recorded reproduction of each pair."""
    from noisylab.report.build import StudyRun, _connect

    if not Path(store_path).exists():
        raise FileNotFoundError(f"no results store at {store_path}; run `noisylab reproduce` first")
    con = _connect(Path(store_path))
    rows = con.execute(
        "SELECT study, preset, config, run_ids, command, finished FROM study_runs ORDER BY finished"
    ).fetchall()
    con.close()
    out: dict[str, dict[str, Any]] = {}
    for s, p, c, r, cmd, f in rows:
        out.setdefault(s, {})[p] = StudyRun(s, p, json.loads(c), json.loads(r), cmd, f)
    return {s: dict(sorted(by.items(), key=lambda kv: preset_key(kv[0]))) for s, by in out.items()}


def analyse_run(store: Any, run: Any, out: Path) -> PresetClaims:
    """Re-analyse one recorded reproduction into ``out``; a failure is kept in ``error``."""
    from noisylab import studies
    from noisylab.report.build import _load_results, _timings
    from noisylab.studies import runner

    result = PresetClaims(run.preset, units=len(run.run_ids))
    try:
        mod = studies.get(run.study)
        config = mod.Config(**run.config)
        results = _load_results(store, run.run_ids)
        result.compute_s, _hosts = _timings(store, run.study, run.run_ids)
        result.claims = runner.analyse(run.study, config, results, out, command=run.command)
    except Exception as exc:  # one broken preset must not hide the others
        result.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return result


def claims_matrix(store_path: Path, out: Path) -> dict[str, dict[str, PresetClaims]]:
    """``{study: {preset: PresetClaims}}`` for every study and preset in the store; each
    preset's outputs are written to ``out/<study>/<preset>/``."""
    from noisylab.studies import STUDIES
    from noisylab.sweep import open_store

    runs = latest_by_preset(store_path)
    store = open_store(store_path)
    order = list(STUDIES)
    matrix: dict[str, dict[str, PresetClaims]] = {}
    for study in sorted(runs, key=lambda s: order.index(s) if s in order else len(order)):
        matrix[study] = {
            p: analyse_run(store, run, Path(out) / study / p) for p, run in runs[study].items()
        }
    return matrix


def matrix_rows(by_preset: dict[str, PresetClaims]) -> list[dict[str, Any]]:
    """One row per claim id (in first-seen order): its statement and, per preset, the claim
    (``None`` where that preset did not evaluate it)."""
    rows: dict[str, dict[str, Any]] = {}
    for preset, pc in by_preset.items():
        for c in pc.claims:
            row = rows.setdefault(c.id, {"id": c.id, "statement": c.statement, "cells": {}})
            row["cells"][preset] = c
    for row in rows.values():
        row["cells"] = {p: row["cells"].get(p) for p in by_preset}
    return list(rows.values())
