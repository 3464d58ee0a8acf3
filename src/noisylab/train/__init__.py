"""The training engine: ``fit`` an M-member ensemble, per-member metrics in a ``History``.

``fit(model, data, labels, loss=..., optimizer=..., epochs=...)`` trains all members in one
loop (each with its own labels, minibatch order and gradient), evaluates on a cadence
(clean-train, noisy-train vs noisy and true labels, test, extra sets), freezes members that
diverge, and can checkpoint and resume. See ``docs/design.md`` for the contract.
"""

from __future__ import annotations

from noisylab.train.engine import CompileFallbackWarning, DivergenceWarning, fit
from noisylab.train.history import METRIC_DOCS, History
from noisylab.train.schedules import SCHEDULES, make_schedule

__all__ = [
    "METRIC_DOCS",
    "SCHEDULES",
    "CompileFallbackWarning",
    "DivergenceWarning",
    "History",
    "fit",
    "make_schedule",
]
