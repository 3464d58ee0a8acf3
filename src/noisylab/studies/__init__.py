"""The five studies, one module each, looked up by name.

Studies are imported lazily so that ``noisylab --help`` stays fast and a study's optional
dependencies are only needed when it runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

from .base import Claim, StudyConfig, apply_sets

#: study name → module path (the order is the report's order).
STUDIES: dict[str, str] = {
    "losses": "noisylab.studies.losses",
    "sharpness": "noisylab.studies.sharpness",
    "alignment": "noisylab.studies.alignment",
    "modular": "noisylab.studies.modular",
    "feedback": "noisylab.studies.feedback",
}


def _extra() -> dict[str, str]:
    """Studies added through ``NOISYLAB_EXTRA_STUDIES="name=module.path,..."`` (plugins, tests)."""
    out = {}
    for item in os.environ.get("NOISYLAB_EXTRA_STUDIES", "").split(","):
        if "=" in item:
            name, mod = item.split("=", 1)
            out[name.strip()] = mod.strip()
    return out


def register(name: str, module: str) -> None:
    """Register a study module under ``name`` (for plugins and tests)."""
    STUDIES[name] = module


def get(name: str) -> ModuleType:
    """Import and return the study module ``name``."""
    known = {**STUDIES, **_extra()}
    if name not in known:
        raise ValueError(f"unknown study {name!r}; known: {', '.join(known)}")
    return importlib.import_module(known[name])


def available() -> list[str]:
    """Names of the studies whose modules exist in this installation."""
    out = []
    for name, mod in STUDIES.items():
        if importlib.util.find_spec(mod) is not None:
            out.append(name)
    return out


__all__ = ["STUDIES", "Claim", "StudyConfig", "apply_sets", "available", "get", "register"]
