"""Symmetrization of any loss, and the symmetric losses it yields: unhinged, SGCE, α-MAE.

Source: Lemire Paquin, Chaib-draa, Giguère, "Symmetrization of Loss Functions for Robust
Training of Neural Networks in the Presence of Noisy Labels" (arXiv 2605.20347). A loss is
symmetric if Σ_k L(z, k) is the same for every z (Ghosh et al. 2017). Every loss splits as

    L(z, y) = L_sym(z, y) + g(z),   L_sym(z, y) = L(z, y) − (1/K) Σ_k L(z, k),
                                    g(z)        = (1/K) Σ_k L(z, k)   (class-insensitive),

with Σ_y L_sym = 0. The paper's full text was unavailable: this decomposition is derived from
its abstract's definitions and is unique up to moving a constant between the two parts.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from noisylab.checks import check_choice, check_logits, check_positive
from noisylab.losses._base import (
    L2_EPS,
    LOSSES,
    REDUCTIONS,
    Loss,
    View,
    normalize_logits,
    register,
    scaled,
)

LossLike = str | nn.Module | Callable[..., torch.Tensor]


def _per_sample(loss: LossLike, **params: Any) -> Callable[[torch.Tensor, torch.Tensor], Any]:
    """A callable (logits, labels) → per-sample losses for a name, module or function."""
    if isinstance(loss, str):
        params = {**params, "reduction": "none"}
        return LOSSES.get(loss)(**params)
    if params:
        raise TypeError(f"params {sorted(params)} are only accepted with a loss name")
    if isinstance(loss, nn.Module):
        if hasattr(loss, "reduction"):
            loss = copy.copy(loss)  # shares parameters/buffers, own ``reduction``
            setattr(loss, "reduction", "none")  # noqa: B010 (nn.Module attribute typing)
        return loss
    if not callable(loss):
        raise TypeError(
            f"loss must be a registered name, an nn.Module or a callable, got {type(loss).__name__}"
        )
    try:
        accepts = "reduction" in inspect.signature(loss).parameters
    except (TypeError, ValueError):  # builtins without a signature
        accepts = False
    if accepts:
        fn = loss
        return lambda z, y: fn(z, y, reduction="none")
    return loss


def evaluate_all(loss: LossLike, logits: torch.Tensor, **params: Any) -> torch.Tensor:
    """Evaluate a loss at every label in one batched call: L(z, k) for k = 0..K−1.

    The batch is tiled K times along the batch axis (block k carries label k), so any loss
    that accepts (B, K) or (M, B, K) logits works, including ones whose value depends on batch
    statistics (tiling a batch leaves its mean and biased variance unchanged).

    Parameters
    ----------
    loss : str, nn.Module or callable
        A registered name (``params`` are passed on), a loss module (its reduction is set to
        ``'none'`` on a shallow copy) or ``fn(logits, labels[, reduction])`` returning
        per-sample values.
    logits : Tensor (…, B, K)

    Returns
    -------
    Tensor (…, B, K)
        entry [..., i, k] = L(z_i, k).
    """
    logits = check_logits(logits)
    fn = _per_sample(loss, **params)
    *lead, b, k = logits.shape
    tiled = logits.repeat(*([1] * len(lead)), k, 1)  # (…, K·B, K)
    labels = torch.arange(k, device=logits.device).repeat_interleave(b)  # (K·B,)
    labels = labels.expand(*lead, k * b)  # (…, K·B)
    out = fn(tiled, labels)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (*lead, k * b):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the loss must return per-sample values shaped {(*lead, k * b)} for logits "
            f"{(*lead, k * b, k)}; got {got} (does it accept reduction='none'?)"
        )
    return out.unflatten(-1, (k, b)).transpose(-1, -2)  # (…, B, K)


class Symmetrized(Loss):
    """The symmetric part of a loss: L(z, y) − (1/K) Σ_k L(z, k). Built by :func:`symmetrize`."""

    symmetric = True

    def __init__(self, base: LossLike, reduction: str = "mean", **params: Any) -> None:
        super().__init__(reduction)
        self._fn = _per_sample(base, **params)
        self.base = base if isinstance(base, nn.Module) else None
        self.base_name = base if isinstance(base, str) else getattr(base, "__name__", repr(base))

    def terms(self, v: View) -> torch.Tensor:
        values = evaluate_all(self._fn, v.z)  # (…, B, K)
        return v.at(values - values.mean(-1, keepdim=True))

    def extra_repr(self) -> str:
        return f"base={self.base_name!r}, " + super().extra_repr()


class ClassInsensitive(Loss):
    """The class-insensitive part of a loss: g(z) = (1/K) Σ_k L(z, k), whatever the label."""

    def __init__(self, base: LossLike, reduction: str = "mean", **params: Any) -> None:
        super().__init__(reduction)
        self._fn = _per_sample(base, **params)
        self.base = base if isinstance(base, nn.Module) else None

    def terms(self, v: View) -> torch.Tensor:
        values = evaluate_all(self._fn, v.z)  # (…, B, K)
        return v.at(values.mean(-1, keepdim=True).expand_as(values))


def symmetrize(loss: LossLike, *, reduction: str = "mean", **params: Any) -> Symmetrized:
    """The symmetric part of ``loss``: L_sym(z, y) = L(z, y) − (1/K) Σ_k L(z, k).

    Works for any registered name (with ``params``), any loss module, or any callable
    ``fn(logits, labels)`` returning per-sample values; it only evaluates the loss at every
    class (:func:`evaluate_all`). ``symmetrize("ce")`` is the multi-class unhinged loss on raw
    logits and ``symmetrize("gce", q=q)`` is ``sgce`` with the same q.

    Example
    -------
    >>> import torch
    >>> from noisylab.losses import symmetrize
    >>> z = torch.randn(4, 3, dtype=torch.float64)
    >>> sym = symmetrize("ce", reduction="none")
    >>> torch.allclose(sym(z, torch.tensor([0, 1, 2, 0])), z.mean(-1) - z[range(4), [0, 1, 2, 0]])
    True
    """
    return Symmetrized(loss, reduction=check_choice("reduction", reduction, REDUCTIONS), **params)


def decompose(
    loss: LossLike, *, reduction: str = "mean", **params: Any
) -> tuple[Symmetrized, ClassInsensitive]:
    """Split ``loss`` into (symmetric part, class-insensitive part) whose sum is ``loss``."""
    check_choice("reduction", reduction, REDUCTIONS)
    return (
        Symmetrized(loss, reduction=reduction, **params),
        ClassInsensitive(loss, reduction=reduction, **params),
    )


@register("unhinged", symmetric=True)
class Unhinged(Loss):
    """Multi-class unhinged loss: L(z, y) = −z̃_y + (1/K) Σ_k z̃_k (symmetrized CE).

    ``logit_norm`` (default ``'l2'``) picks the map z ↦ z̃ of
    :func:`noisylab.losses.functional.normalize_logits`: ``'l2'`` (Euclidean normalisation of
    the centred logits, times ``scale``), ``'batchnorm'`` (one-channel batch normalisation
    per ensemble member, times ``scale``) or ``None`` (raw logits). The raw loss is unbounded
    below and training on it diverges (NaN with SGD, exploding logits with Adam), so a
    normalisation is on by default; ``None`` is kept for analysis and for the exact identity
    ``symmetrize("ce") == unhinged(logit_norm=None)``.
    """

    symmetric = True

    def __init__(
        self, logit_norm: str | None = "l2", scale: float = 1.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        if logit_norm == "none":
            logit_norm = None
        if logit_norm not in ("l2", "batchnorm", None):
            raise ValueError(f"logit_norm must be 'l2', 'batchnorm' or None, got {logit_norm!r}")
        self.logit_norm = logit_norm
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        if self.logit_norm == "l2":
            # the centred, normalised logits sum to zero, so L = −z̃_y: only the label's
            # entry is normalised (gather first), s (z_y − z̄) / sqrt(‖z − z̄1‖² + ε)
            mean = v.z.mean(-1, keepdim=True)  # (…, 1)
            c = v.z - mean  # (…, K)
            r = torch.sqrt((c * c).sum(-1, keepdim=True) + L2_EPS)  # (…, 1)
            return scaled((mean - v.at(v.z)) / r, self.scale)
        z = normalize_logits(v.z, self.logit_norm, self.scale)  # (…, K)
        return z.mean(-1, keepdim=True) - v.at(z)


@register("sgce", symmetric=True)
class SGCE(Loss):
    """Symmetrized GCE: (1/q)[(1/K) Σ_k p_k^q − p_y^q], q ∈ (0, 1].

    q → 0 gives the unhinged loss, q = 1 gives MAE minus (K−1)/K; q sets the β-smoothness.
    No default is given by the source; q = 0.3 was the most robust value at 80% symmetric
    noise in our MNIST prototype (reference notes). Tune q on a noisy validation split.
    """

    symmetric = True

    def __init__(self, q: float = 0.3, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)

    def terms(self, v: View) -> torch.Tensor:
        pq = torch.exp(self.q * v.logp_all)  # (…, K)
        return (pq.mean(-1, keepdim=True) - v.at(pq)) / self.q


@register("alpha-mae", symmetric=True)
class AlphaMAE(Loss):
    """α-MAE: (1/α)(1 − softmax(α z)_y), α > 0, the logit-temperature form.

    The source's definition was unavailable; of the two forms that fit its abstract we chose
    this one (H1). α = 1 is MAE; α → 0 tends to (K−1)/(Kα) + L_unh/K, i.e. the unhinged
    loss up to scale and constant; the β-smoothness grows with α. Default α = 0.3
    (reference prototype).
    """

    symmetric = True

    def __init__(self, alpha: float = 0.3, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha = check_positive("alpha", alpha)

    def terms(self, v: View) -> torch.Tensor:
        return (1.0 - v.at(torch.softmax(self.alpha * v.z, dim=-1))) / self.alpha
