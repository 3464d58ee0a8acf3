"""The loss registry, the reduction helper and the base class every classification loss shares.

A classification loss here is defined by its value at *every* class: ``all_classes(logits)``
returns L(z, k) for k = 0..K−1, shaped like the logits. ``forward`` then picks the label's
entry (integer labels) or takes the target-weighted sum Σ_k t_k L(z, k) (soft targets).
This one representation gives hard labels, soft targets, symmetry checks and
:func:`noisylab.losses.symmetrize` from the same code.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from noisylab.registry import Registry

#: name → loss class (an ``nn.Module`` subclass); metadata: ``params`` (defaults), ``symmetric``.
LOSSES: Registry[type[nn.Module]] = Registry("loss")

REDUCTIONS = ("none", "mean", "sum")


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a ``torch.nn``-style reduction: ``'none'``, ``'mean'`` or ``'sum'``."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def check_logits(logits: Any) -> torch.Tensor:
    """Logits must be a floating tensor with at least 2 dims: (B, K) or (M, B, K), K ≥ 2."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.dim() < 2 or logits.shape[-1] < 2:
        raise ValueError(
            f"logits must be shaped (B, K) or (M, B, K) with K >= 2, got {tuple(logits.shape)}"
        )
    return logits


def pick(values: torch.Tensor, labels: Any) -> torch.Tensor:
    """Per-sample loss from the loss at every class.

    Parameters
    ----------
    values : Tensor (…, K)
        L(z, k) for every class k.
    labels : Tensor
        Integer labels shaped like ``values.shape[:-1]`` (or broadcastable to it, e.g. (B,)
        for (M, B, K) values), or soft targets shaped like ``values`` (rows summing to 1);
        soft targets give Σ_k t_k L(z, k).

    Returns
    -------
    Tensor (…)
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    k = values.shape[-1]
    if labels.is_floating_point():
        if labels.shape != values.shape:
            raise ValueError(
                f"soft targets must be shaped like the logits {tuple(values.shape)}, "
                f"got {tuple(labels.shape)}"
            )
        return (labels.to(values.dtype) * values).sum(-1)
    if labels.dtype == torch.bool:
        raise TypeError("labels must be integer class indices or float soft targets, got bool")
    batch_shape = values.shape[:-1]
    if labels.shape != batch_shape:
        try:
            labels = labels.expand(batch_shape)
        except RuntimeError:
            raise ValueError(
                f"labels shaped {tuple(labels.shape)} do not match logits shaped "
                f"{tuple(values.shape)}; expected {tuple(batch_shape)}"
            ) from None
    if labels.numel():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(f"labels must lie in [0, {k}); got label {bad}")
    return values.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)


def check_positive(name: str, value: float, *, upper: float | None = None, closed: bool = False):
    """Validate a scalar hyper-parameter: finite, > 0, and ≤ ``upper`` (or < if not closed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    if upper is not None and (value > upper or (value == upper and not closed)):
        op = "<=" if closed else "<"
        raise ValueError(f"{name} must be {op} {upper}, got {value}")
    return value


def check_nonneg(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_unit(name: str, value: float) -> float:
    """A weight in [0, 1]."""
    value = check_nonneg(name, value)
    if value > 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def log1m_exp(logp: torch.Tensor) -> torch.Tensor:
    """log(1 − p) from log p, accurate near p → 0 and p → 1 (Mächler 2012).

    ``1 − p`` is clamped at the smallest normal float so that the log stays finite at p = 1.
    """
    tiny = torch.finfo(logp.dtype).tiny
    one_minus = torch.where(logp > -math.log(2.0), -torch.expm1(logp), -torch.exp(logp) + 1.0)
    return torch.log(one_minus.clamp_min(tiny))


class Loss(nn.Module):
    """Base of the classification losses: subclasses define :meth:`all_classes`.

    Attributes
    ----------
    reduction : str
        ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape of the labels).
    regularization : float
        Weight of an optional parameter penalty added by :meth:`regularizer` (0 for every
        loss except ANL-CE's L1 term). The engine or a user loop adds it to the loss.
    """

    symmetric: bool = False
    regularization: float = 0.0

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    @abstractmethod
    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """L(z, k) for every class k: logits (…, K) → (…, K)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        values = self.all_classes(check_logits(logits))  # (…, K)
        return reduce(pick(values, labels), self.reduction)

    def regularizer(
        self, params: Iterable[torch.Tensor], *, ensemble: bool = False
    ) -> torch.Tensor:
        """Parameter penalty ``regularization · Σ|θ|`` (L1), 0 when ``regularization`` is 0.

        Parameters
        ----------
        params : iterable of Tensor
            Model parameters.
        ensemble : bool
            If true every parameter has a leading member axis M and the penalty is returned
            per member, shaped (M,); otherwise a scalar.
        """
        params = list(params)
        if not params:
            return torch.zeros(())
        if self.regularization == 0.0:
            shape = (params[0].shape[0],) if ensemble else ()
            return torch.zeros(shape, dtype=params[0].dtype, device=params[0].device)
        if ensemble:
            total = sum(p.abs().reshape(p.shape[0], -1).sum(-1) for p in params)
        else:
            total = sum(p.abs().sum() for p in params)
        return self.regularization * total  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
