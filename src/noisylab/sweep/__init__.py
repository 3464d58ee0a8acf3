"""Sweeps: grid expansion, executors (in-process, process pool, Ray), the results store, resume.

``execute(study, units, store=...)`` runs a study's units, reading finished ones from the
SQLite store (``open_store``) and writing each new result as it arrives, so a killed sweep
resumes where it stopped. The study is passed in (a module or any object with ``NAME`` and
``run_unit``; see :mod:`noisylab.sweep.study`): the sweep sits below the studies and never
looks one up by name. Every run id includes the study's version, derived from its code and
config schema, so stored results of older code are never reused. ``expand_grid`` turns a
base config and value lists into grid points; :mod:`noisylab.sweep.spec` parses sweep files
(``noisylab sweep CONFIG.yaml``; the studies layer runs them).
"""

from __future__ import annotations

from .dispatch import SweepError, execute, execute_many
from .grid import expand_grid, grid_points, slug
from .store import DEFAULT_PATH, ResultsStore, open_store
from .study import Study, content_id, run_id, run_ids, study_version

__all__ = [
    "DEFAULT_PATH",
    "ResultsStore",
    "Study",
    "SweepError",
    "content_id",
    "execute",
    "execute_many",
    "expand_grid",
    "grid_points",
    "open_store",
    "run_id",
    "run_ids",
    "slug",
    "study_version",
]
