"""Run a study end to end: units through the sweep executor (cached in the store), then analysis.

Also where sweep files meet the studies: :func:`plan` validates each grid point of a
:class:`noisylab.sweep.spec.SweepSpec` through the study's ``Config`` and :func:`run_sweep`
runs and analyses all points. The sweep layer below takes the study module itself, never
its name.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noisylab.runtime import machine
from noisylab.sweep.grid import grid_points, slug
from noisylab.sweep.spec import SweepSpec, override

from . import apply_sets, get
from .base import Claim, StudyConfig, jsonable, write_claims


def run(
    name: str,
    config: StudyConfig,
    out: Path,
    *,
    store: Any = None,
    executor: str = "local",
    jobs: int = 1,
    address: str | None = None,
    progress: bool = True,
    command: str | None = None,
) -> list[Claim]:
    """Run study ``name`` with ``config`` and write its outputs under ``out``.

    Finished units are read back from ``store`` instead of being recomputed.
    """
    from noisylab import sweep

    study = get(name)
    units = study.units(config)
    results = sweep.execute(
        study, units, store=store, executor=executor, jobs=jobs, address=address, progress=progress
    )
    return analyse(name, config, results, out, command=command)


def analyse(
    name: str,
    config: StudyConfig,
    results: list[dict],
    out: Path,
    *,
    command: str | None = None,
) -> list[Claim]:
    """Write a study's outputs from stored results (no training)."""
    import noisylab

    study = get(name)
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    claims = study.analyse(config, results, out)
    write_claims(out / "claims.json", claims)
    meta = {
        "study": name,
        "title": getattr(study, "TITLE", name),
        "paper": getattr(study, "PAPER", ""),
        "config": jsonable(config.model_dump()),
        "command": command,
        "units": len(results),
        "versions": versions(),
        "machine": machine(),
        "noisylab": noisylab.__version__,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    return claims


def versions() -> dict[str, str]:
    """Versions of Python and the numeric stack, read from package metadata (no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for dist in ("noisylab", "torch", "numpy", "scipy", "scikit-learn"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover
            pass
    return out


@dataclass
class Point:
    """One grid point of a sweep file: its overrides, validated config, units and run ids."""

    slug: str
    overrides: dict[str, Any]
    config: Any  # the study's StudyConfig
    units: list[dict[str, Any]]
    run_ids: list[str]


def plan(spec: SweepSpec) -> list[Point]:
    """Expand a sweep spec into validated points with their units and run ids.

    Raises
    ------
    ValueError
        For an unknown study, preset or field, or a value its ``Config`` rejects.
    """
    from noisylab.sweep import run_ids

    mod = get(spec.study)
    base = mod.Config.preset(spec.preset)
    if isinstance(spec.sets, list):
        base = apply_sets(base, spec.sets)
    else:
        base = override(base, spec.sets, what="set")
    points: list[Point] = []
    used: set[str] = set()
    for values in grid_points(spec.grid, spec.zip):
        config = override(base, values)
        name = slug(values)
        if name in used:
            i = 2
            while f"{name}-{i}" in used:
                i += 1
            name = f"{name}-{i}"
        used.add(name)
        units = mod.units(config)
        points.append(Point(name, values, config, units, run_ids(mod, units)))
    return points


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    store: Any = None,
    executor: str = "local",
    jobs: int | None = 1,
    address: str | None = None,
    progress: bool = True,
    command: str | None = None,
    points: list[Point] | None = None,
) -> list[dict[str, Any]]:
    """Run every point of ``spec`` (units cached in ``store``) and analyse each into ``out``.

    The units of all points go through one :func:`noisylab.sweep.execute` call, so units
    shared by points run once. ``points`` may pass in ``plan(spec)`` when the caller
    validated the spec already.

    Returns
    -------
    list of dict
        Per point: ``slug``, ``overrides``, ``units`` (count), ``run_ids``, ``claims``
        (``{id: reproduced}``), ``out`` (its directory). Also written to
        ``out/sweep.json``.
    """
    from noisylab.sweep import execute

    out = Path(out)
    if points is None:
        points = plan(spec)
    all_units = [u for p in points for u in p.units]
    results = execute(
        get(spec.study),
        all_units,
        store=store,
        executor=executor,
        jobs=jobs,
        address=address,
        progress=progress,
    )
    summary = []
    start = 0
    for p in points:
        part = results[start : start + len(p.units)]
        start += len(p.units)
        claims = analyse(spec.study, p.config, part, out / p.slug, command=command)
        summary.append(
            {
                "slug": p.slug,
                "overrides": p.overrides,
                "units": len(p.units),
                "run_ids": p.run_ids,
                "claims": {c.id: c.reproduced for c in claims},
                "out": str(out / p.slug),
            }
        )
    meta: Mapping[str, Any] = {
        "study": spec.study,
        "preset": spec.preset,
        "set": spec.sets,
        "grid": spec.grid,
        "zip": spec.zip,
        "command": command,
        "distinct_units": len(set().union(*(p.run_ids for p in points))) if points else 0,
        "points": summary,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return summary
