"""Loss functions for noisy labels, looked up by name, plus generic symmetrization.

Every loss takes logits shaped (B, K) or (M, B, K) and integer labels shaped (B,) or (M, B)
(or soft targets shaped like the logits), and follows ``torch.nn`` conventions: ``reduction``
is ``'mean'`` (default), ``'sum'`` or ``'none'`` (same shape as the labels). The engine uses
``'none'`` and averages over the batch axis per member.

>>> import torch
>>> from noisylab import losses
>>> loss = losses.get("sgce", q=0.3)
>>> value = loss(torch.randn(8, 10), torch.randint(0, 10, (8,)))
>>> value.shape
torch.Size([])
"""

from __future__ import annotations

from typing import Any

from torch import nn

from noisylab.losses import functional
from noisylab.losses._base import LOSSES, Loss, normalize_logits, pick, reduce
from noisylab.losses.ensemble import PerMember
from noisylab.losses.symmetric import (
    ClassInsensitive,
    Symmetrized,
    decompose,
    evaluate_all,
    symmetrize,
)
from noisylab.losses.zoo import cross_entropy, mse_loss


def get(name: str, preset: str | None = None, **params: Any) -> nn.Module:
    """Build the loss registered as ``name`` with ``params`` (e.g. ``get("gce", q=0.7)``).

    ``preset`` names a paper configuration (``get("nce+agce", preset="cifar100")``, see
    :func:`presets`); explicit ``params`` override it. Unknown parameter names raise
    ``TypeError`` listing the accepted ones; unknown presets raise ``ValueError``.
    """
    cls = LOSSES.get(name)
    if preset is not None:
        params = {**presets(name, preset), **params}
    allowed = set(LOSSES.meta(name).get("params", {})) | {"reduction"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TypeError(
            f"loss {name!r} got unknown parameter(s) {unknown}; accepted: {sorted(allowed)}"
        )
    return cls(**params)


def presets(name: str, preset: str | None = None) -> dict[str, Any]:
    """The named hyper-parameter presets of a loss: all of them, or the one named ``preset``.

    Presets are the papers' CIFAR-10 / CIFAR-100 configurations; each loss's docstring cites
    the config file they come from.
    """
    table: dict[str, dict[str, Any]] = LOSSES.meta(name).get("presets", {})
    if preset is None:
        return {k: dict(v) for k, v in table.items()}
    if preset not in table:
        known = ", ".join(sorted(table)) or "(none)"
        raise ValueError(f"loss {name!r} has no preset {preset!r}; known: {known}")
    return dict(table[preset])


def is_symmetric(name: str) -> bool:
    """Whether the loss registered as ``name`` is symmetric (Σ_k L(z, k) constant)."""
    return bool(LOSSES.meta(name).get("symmetric", False))


__all__ = [
    "LOSSES",
    "ClassInsensitive",
    "Loss",
    "PerMember",
    "Symmetrized",
    "cross_entropy",
    "decompose",
    "evaluate_all",
    "functional",
    "get",
    "is_symmetric",
    "mse_loss",
    "normalize_logits",
    "pick",
    "presets",
    "reduce",
    "symmetrize",
]
