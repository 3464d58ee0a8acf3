"""Sweeps: grid expansion, executors and the results store.

Placeholder executor: runs units in order in this process. Replaced by the full store and
executors (local process pool, Ray) in ``noisylab.sweep``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def run_id(study: str, unit: dict[str, Any]) -> str:
    """A stable content hash of a study name and unit config."""
    blob = json.dumps({"study": study, "unit": unit}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def execute(
    study: str,
    units: list[dict[str, Any]],
    *,
    store: Any = None,
    executor: str = "local",
    jobs: int = 1,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    from noisylab.studies import get

    mod = get(study)
    return [mod.run_unit(u) for u in units]
