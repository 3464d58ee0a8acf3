"""Loss functions for noisy labels, looked up by name.

Every loss takes logits shaped (B, K) or (M, B, K) and integer labels shaped (B,) or (M, B),
and follows ``torch.nn`` conventions: ``reduction`` is ``'mean'`` (default), ``'sum'`` or
``'none'`` (same shape as the labels). The engine uses ``'none'`` and averages over the batch
axis per member.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from noisylab.registry import Registry

#: name → loss class (an ``nn.Module`` subclass); metadata: ``params`` (defaults), ``symmetric``.
LOSSES: Registry[type[nn.Module]] = Registry("loss")


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """−log softmax(z)_y, computed as logsumexp(z) − z_y (faster than F.cross_entropy on CPU)."""
    z_y = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return reduce(torch.logsumexp(logits, dim=-1) - z_y, reduction)


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared error summed over outputs: Σ_k (f_k − t_k)². Targets: (…, K) or (…) for K = 1."""
    if targets.dim() == outputs.dim() - 1:
        if outputs.shape[-1] == 1:
            targets = targets.unsqueeze(-1)
        else:
            targets = nn.functional.one_hot(targets.long(), outputs.shape[-1]).to(outputs.dtype)
    return reduce(((outputs - targets) ** 2).sum(-1), reduction)


@LOSSES.register("ce", params={}, symmetric=False)
class CrossEntropy(nn.Module):
    """Cross-entropy −log p_y."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return cross_entropy(logits, labels, self.reduction)


@LOSSES.register("mse", params={}, symmetric=False)
class MSE(nn.Module):
    """Squared error on outputs against one-hot labels or real targets."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return mse_loss(outputs, targets, self.reduction)


def get(name: str, **params: Any) -> nn.Module:
    """Build the loss registered as ``name`` with ``params`` (e.g. ``get("gce", q=0.7)``)."""
    cls = LOSSES.get(name)
    return cls(**params)


__all__ = ["LOSSES", "cross_entropy", "get", "mse_loss", "reduce"]
