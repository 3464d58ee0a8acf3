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

This module parses and validates the file; :func:`noisylab.studies.runner.plan` (one layer
up, where studies are known by name) validates each grid point through the study's
``Config`` and :func:`noisylab.studies.runner.run_sweep` sends the units of all points
through one :func:`noisylab.sweep.execute` call (so units shared by points run once) and
analyses each point into ``OUT/<point-slug>/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .grid import grid_points

SPEC_KEYS = ("study", "preset", "set", "grid", "zip")

#: the preset used when none is named (sweep files, ``noisylab run``, ``noisylab reproduce``)
DEFAULT_PRESET = "quick"


@dataclass
class SweepSpec:
    """A parsed sweep file."""

    study: str
    preset: str = DEFAULT_PRESET
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
        preset = data.get("preset", DEFAULT_PRESET)
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
