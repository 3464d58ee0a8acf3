"""Sweep files: a YAML naming a study, a preset, overrides and a grid → configs → results.

A sweep file::

    study: losses            # any study, or the pseudo-study ``train``
    preset: tiny             # default: quick
    set:                     # optional overrides shared by every point (mapping or k=v list)
      epochs: 5
    grid:                    # cartesian axes over the study's config fields
      loss: [ce, gce]
      noise_rate: [0.2, 0.4]
    zip:                     # optional axes whose fields vary together
      - {lr: [0.1, 0.01], batch_size: [64, 128]}

Each grid point is validated through the study's ``Config``; the units of all points go
through one :func:`noisylab.sweep.execute` call (so units shared by points run once), and
each point is analysed into ``OUT/<point-slug>/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .grid import grid_points, slug

SPEC_KEYS = ("study", "preset", "set", "grid", "zip")


@dataclass
class SweepSpec:
    """A parsed sweep file."""

    study: str
    preset: str = "quick"
    sets: dict[str, Any] | list[str] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    zip: list[dict[str, list[Any]]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, source: str = "sweep spec") -> SweepSpec:
        """Validate a mapping (e.g. loaded YAML) into a spec.

        Raises
        ------
        ValueError
            On a missing ``study``, unknown keys or wrongly typed sections.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{source} must be a YAML mapping with a 'study' key, got {data!r}")
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))} in {source}; "
                f"expected: {', '.join(SPEC_KEYS)}"
            )
        if not isinstance(data.get("study"), str) or not data["study"]:
            raise ValueError(f"{source} needs 'study: NAME', got {data.get('study')!r}")
        preset = data.get("preset", "quick")
        if not isinstance(preset, str):
            raise ValueError(f"'preset' in {source} must be a name, got {preset!r}")
        sets = data.get("set") or {}
        if isinstance(sets, list):
            if not all(isinstance(s, str) for s in sets):
                raise ValueError(f"'set' in {source} must be a mapping or a list of key=value")
        elif not isinstance(sets, Mapping):
            raise ValueError(f"'set' in {source} must be a mapping or a list, got {sets!r}")
        else:
            sets = dict(sets)
        grid = data.get("grid") or {}
        if not isinstance(grid, Mapping):
            raise ValueError(f"'grid' in {source} must map field names to lists, got {grid!r}")
        zips = data.get("zip") or []
        if isinstance(zips, Mapping):
            zips = [zips]
        if not isinstance(zips, list):
            raise ValueError(f"'zip' in {source} must be a list of mappings, got {zips!r}")
        spec = cls(data["study"], preset, sets, dict(grid), [dict(z) for z in zips])
        grid_points(spec.grid, spec.zip)  # validates the axes
        return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the YAML is malformed or the spec invalid.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"sweep file {str(path)!r} is not valid YAML: {exc}") from None
    return SweepSpec.from_dict(data, source=f"sweep file {str(path)!r}")


@dataclass
class Point:
    """One grid point: its overrides, validated config and units."""

    slug: str
    overrides: dict[str, Any]
    config: Any  # the study's StudyConfig
    units: list[dict[str, Any]]
    run_ids: list[str]


def override(config: Any, values: Mapping[str, Any], what: str = "grid") -> Any:
    """``config`` with ``values`` replaced, validated by its class.

    Raises
    ------
    ValueError
        If a key is not a field of the config (pydantic's ``ValidationError``, also a
        ``ValueError``, for bad values).
    """
    data = config.model_dump()
    for key in values:
        if key not in data:
            raise ValueError(
                f"unknown {what} key {key!r} for {type(config).__name__}; "
                f"known: {', '.join(sorted(data))}"
            )
    return type(config)(**{**data, **values})


def plan(spec: SweepSpec) -> list[Point]:
    """Expand a spec into validated points with their units and run ids."""
    from noisylab import studies

    from . import run_id, use_pseudo_study

    use_pseudo_study(spec.study)
    mod = studies.get(spec.study)
    base = mod.Config.preset(spec.preset)
    if isinstance(spec.sets, list):
        base = studies.apply_sets(base, spec.sets)
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
        points.append(Point(name, values, config, units, [run_id(spec.study, u) for u in units]))
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

    ``points`` may pass in ``plan(spec)`` when the caller validated the spec already.

    Returns
    -------
    list of dict
        Per point: ``slug``, ``overrides``, ``units`` (count), ``run_ids``, ``claims``
        (``{id: reproduced}``), ``out`` (its directory). Also written to
        ``out/sweep.json``.
    """
    from noisylab.studies import runner

    from . import execute

    out = Path(out)
    if points is None:
        points = plan(spec)
    all_units = [u for p in points for u in p.units]
    results = execute(
        spec.study,
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
        claims = runner.analyse(spec.study, p.config, part, out / p.slug, command=command)
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
    meta = {
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
