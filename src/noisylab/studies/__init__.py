"""The five studies, one module each, looked up by name.

Studies are imported lazily so that ``noisylab --help`` stays fast and a study's optional
dependencies are only needed when it runs.
"""

from __future__ import annotations

import importlib
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


def get(name: str) -> ModuleType:
    """Import and return the study module ``name``."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    return importlib.import_module(STUDIES[name])


def available() -> list[str]:
    """Names of the studies whose modules exist in this installation."""
    out = []
    for name, mod in STUDIES.items():
        if importlib.util.find_spec(mod) is not None:
            out.append(name)
    return out


__all__ = ["STUDIES", "Claim", "StudyConfig", "apply_sets", "available", "get"]
