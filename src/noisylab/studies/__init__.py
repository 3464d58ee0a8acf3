"""The studies, looked up by name in one registry.

Studies are registered by module path and imported lazily (:class:`noisylab.registry.Registry`)
so that ``noisylab --help`` stays fast and a study's optional dependencies are only needed
when it runs. The five paper studies are *listed* (``noisylab list studies``, ``noisylab
reproduce``, the report, in this order); the ``train`` study (one plain training run per
unit, for sweeps) and plugins registered with ``listed=False`` resolve by name but are not
reproduced.
"""

from __future__ import annotations

from types import ModuleType

from noisylab.registry import Registry

from .base import Claim, StudyConfig, apply_sets

#: study name → module, in the report's order; meta ``listed`` marks the paper studies.
STUDIES: Registry[ModuleType] = Registry("study", ordered=True)
for _name in ("losses", "sharpness", "alignment", "modular", "feedback"):
    STUDIES.register_lazy(_name, f"noisylab.studies.{_name}", listed=True)
STUDIES.register_lazy("train", "noisylab.studies.train", listed=False)


def register(name: str, module: str, *, listed: bool = True) -> None:
    """Register the study module at import path ``module`` under ``name`` (plugins, tests).

    ``listed=False`` makes it resolvable by name (``noisylab run``/``sweep``) without adding
    it to ``noisylab reproduce`` and ``noisylab list studies``.
    """
    STUDIES.register_lazy(name, module, listed=listed)


def get(name: str) -> ModuleType:
    """Import and return the study module ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    return STUDIES.get(name)


def available() -> list[str]:
    """Names of the listed studies (the papers), in the report's order.

    Examples
    --------
    >>> available()
    ['losses', 'sharpness', 'alignment', 'modular', 'feedback']
    """
    return [n for n in STUDIES if STUDIES.meta(n).get("listed")]


__all__ = ["STUDIES", "Claim", "StudyConfig", "apply_sets", "available", "get", "register"]
