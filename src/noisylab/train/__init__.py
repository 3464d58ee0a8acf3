"""The training engine: ``fit`` an M-member ensemble, per-member metrics in a ``History``.

``fit(model, data, labels, loss=..., optimizer=..., epochs=...)`` trains all members in one
loop (each with its own labels, minibatch order and gradient), evaluates on a cadence
(clean-train, noisy-train vs noisy and true labels, test, extra sets), freezes members that
diverge, and can checkpoint and resume. See ``docs/design.md`` for the contract.
``TrainConfig`` and ``train_ensemble`` (:mod:`noisylab.train.recipe`) are one
``noisylab train`` run: data, noise per member, model, ``fit``.

The engine (and torch) load on first use of a name, so the CLI can read the recipe's
defaults without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from noisylab.train.recipe import TrainConfig, Trained, model_kwargs, train_ensemble

if TYPE_CHECKING:
    from noisylab.train.engine import CompileFallbackWarning, DivergenceWarning, fit
    from noisylab.train.history import METRIC_DOCS, History
    from noisylab.train.schedules import SCHEDULES, make_schedule

#: name → submodule, imported on first access (PEP 562)
_LAZY = {
    "CompileFallbackWarning": "engine",
    "DivergenceWarning": "engine",
    "fit": "engine",
    "METRIC_DOCS": "history",
    "History": "history",
    "SCHEDULES": "schedules",
    "make_schedule": "schedules",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METRIC_DOCS",
    "SCHEDULES",
    "CompileFallbackWarning",
    "DivergenceWarning",
    "History",
    "TrainConfig",
    "Trained",
    "fit",
    "make_schedule",
    "model_kwargs",
    "train_ensemble",
]
