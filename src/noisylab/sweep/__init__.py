"""Sweeps: grid expansion, executors (in-process, process pool, Ray), the results store, resume.

``execute(study, units, store=...)`` runs a study's units, reading finished ones from the
SQLite store (``open_store``) and writing each new result as it arrives, so a killed sweep
resumes where it stopped. ``expand_grid`` turns a base config and value lists into grid
points; ``noisylab sweep CONFIG.yaml`` (see :mod:`noisylab.sweep.spec`) ties them together.

Besides the registered studies, sweeps know the pseudo-study ``train``
(:mod:`noisylab.sweep.train_study`): one plain training run per unit.
"""

from __future__ import annotations

import os

from .dispatch import SweepError, execute, run_id
from .grid import expand_grid, grid_points, slug
from .store import DEFAULT_PATH, ResultsStore, open_store

#: studies that only sweeps know: name → module (not listed with the paper studies).
PSEUDO_STUDIES: dict[str, str] = {"train": "noisylab.sweep.train_study"}


def use_pseudo_study(name: str) -> bool:
    """Make the pseudo-study ``name`` resolvable by :func:`noisylab.studies.get`.

    It is added to ``NOISYLAB_EXTRA_STUDIES`` of this process (and so of its workers)
    unless a study of that name is registered already. Returns whether ``name`` is a
    pseudo-study.
    """
    from noisylab.studies import STUDIES, _extra

    if name not in PSEUDO_STUDIES:
        return False
    if name not in STUDIES and name not in _extra():
        current = os.environ.get("NOISYLAB_EXTRA_STUDIES", "")
        item = f"{name}={PSEUDO_STUDIES[name]}"
        os.environ["NOISYLAB_EXTRA_STUDIES"] = f"{current},{item}" if current else item
    return True


__all__ = [
    "DEFAULT_PATH",
    "PSEUDO_STUDIES",
    "ResultsStore",
    "SweepError",
    "execute",
    "expand_grid",
    "grid_points",
    "open_store",
    "run_id",
    "slug",
    "use_pseudo_study",
]
