"""Run a study end to end: units through the sweep executor (cached in the store), then analysis."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from . import get
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
        name, units, store=store, executor=executor, jobs=jobs, address=address, progress=progress
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


def machine() -> dict[str, Any]:
    import os

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
    }
