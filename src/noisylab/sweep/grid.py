"""Grid expansion: a base config and lists of values → one config per grid point.

``expand_grid(base, {"a": [1, 2], "b": ["x", "y"]})`` is the cartesian product in a stable
order (the first key varies slowest, like nested loops written in key order).
``zip`` groups vary several keys together: ``zip=[{"lr": [0.1, 0.01], "epochs": [5, 10]}]``
adds one axis of two points ``(lr=0.1, epochs=5)`` and ``(lr=0.01, epochs=10)``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any


def grid_points(
    grid: Mapping[str, Sequence[Any]] | None = None,
    zip: Sequence[Mapping[str, Sequence[Any]]] | None = None,
) -> list[dict[str, Any]]:
    """The overrides of each grid point (without the base), in expansion order.

    Parameters
    ----------
    grid : mapping of str to list
        Independent axes; their cartesian product is taken.
    zip : list of mappings of str to list, optional
        Each mapping is one axis whose lists (all the same length) vary together.

    Returns
    -------
    list of dict
        One dict of overrides per point; ``[{}]`` when there are no axes.

    Raises
    ------
    ValueError
        If an axis is not a non-empty list, a key appears twice, or a zip group's lists
        differ in length.

    Examples
    --------
    >>> grid_points({"a": [1, 2], "b": ["x"]})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    >>> grid_points(zip=[{"lr": [0.1, 0.01], "epochs": [5, 10]}])
    [{'lr': 0.1, 'epochs': 5}, {'lr': 0.01, 'epochs': 10}]
    """
    axes: list[list[dict[str, Any]]] = []
    seen: set[str] = set()

    def _check(key: str, values: Any) -> list[Any]:
        if not isinstance(key, str):
            raise ValueError(f"grid key {key!r} must be a string")
        if key in seen:
            raise ValueError(f"grid key {key!r} appears more than once")
        seen.add(key)
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
            raise ValueError(f"grid values for {key!r} must be a list, got {values!r}")
        if len(values) == 0:
            raise ValueError(f"grid values for {key!r} must be a non-empty list")
        return list(values)

    for key, values in (grid or {}).items():
        axes.append([{key: v} for v in _check(key, values)])
    for group in zip or []:
        if not isinstance(group, Mapping) or not group:
            raise ValueError(f"each zip group must be a non-empty mapping of lists, got {group!r}")
        cols = {k: _check(k, v) for k, v in group.items()}
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"zip group lists must have equal lengths, got {lengths}")
        n = next(iter(lengths.values()))
        axes.append([{k: cols[k][i] for k in cols} for i in range(n)])
    points = []
    for combo in itertools.product(*axes):
        point: dict[str, Any] = {}
        for part in combo:
            point.update(part)
        points.append(point)
    return points


def expand_grid(
    base: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    zip: Sequence[Mapping[str, Sequence[Any]]] | None = None,
) -> list[dict[str, Any]]:
    """Configs of every grid point: ``base`` updated with each point's values.

    Parameters
    ----------
    base : mapping
        Values shared by all points.
    grid : mapping of str to list, optional
        Cartesian axes (first key slowest).
    zip : list of mappings, optional
        Axes whose keys vary together (see :func:`grid_points`).

    Returns
    -------
    list of dict

    Examples
    --------
    >>> expand_grid({"lr": 0.1, "seed": 0}, {"seed": [0, 1], "loss": ["ce", "mae"]})
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'lr': 0.1, 'seed': 0, 'loss': 'ce'}, {'lr': 0.1, 'seed': 0, 'loss': 'mae'},
     {'lr': 0.1, 'seed': 1, 'loss': 'ce'}, {'lr': 0.1, 'seed': 1, 'loss': 'mae'}]
    """
    return [{**base, **p} for p in grid_points(grid, zip)]


def _text(value: Any) -> str:
    """A short text for a grid value: lists as ``a+b``, the empty list as ``empty``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "+".join(_text(v) for v in value) if value else "empty"
    return json.dumps(value, sort_keys=True, default=str)


def slug(point: Mapping[str, Any], max_len: int = 80) -> str:
    """A directory-safe name for a grid point, e.g. ``loss-ce_seed-1``.

    Long names are cut and suffixed with a short hash so they stay unique.

    Examples
    --------
    >>> slug({"loss": "gce", "noise_rate": 0.4})
    'loss-gce_noise_rate-0.4'
    >>> slug({"fail": [1, 2], "keep": []})
    'fail-1+2_keep-empty'
    >>> slug({})
    'base'
    """
    if not point:
        return "base"
    parts = [f"{k}-{_text(v)}" for k, v in point.items()]
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "-", "_".join(parts)).strip("-") or "point"
    if len(name) > max_len:
        digest = hashlib.sha256(json.dumps(point, sort_keys=True, default=str).encode())
        name = f"{name[: max_len - 9]}-{digest.hexdigest()[:8]}"
    return name
