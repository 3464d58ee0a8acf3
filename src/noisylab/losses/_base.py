"""The loss registry, label handling, the gather-first view and the base class of every loss.

A classification loss here is one formula written once, :meth:`Loss.terms`, over a
:class:`View` of the logits. The view gives the quantities a formula needs (log p, p, the
log-partition, …) either *at the label* (shape (…, 1), gathered before any per-class work:
the fast path of ``forward`` with integer labels) or *at every class* (shape (…, K):
:meth:`Loss.all_classes`, used for soft targets, symmetry checks and
:func:`noisylab.losses.symmetrize`). Sums over classes (normalisers) are taken on the
full (…, K) tensors with ``keepdim=True``, so the same expression broadcasts in both modes.
"""

from __future__ import annotations

import inspect
import math
from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch
from torch import nn

from noisylab.checks import check_choice, check_logits
from noisylab.registry import Registry

#: name → loss class (an ``nn.Module`` subclass); metadata: ``params`` (defaults, read from
#: the class signature), ``symmetric``, ``batch`` (a sample's value depends on its batch) and
#: ``presets`` (named hyper-parameters from the papers' configurations).
LOSSES: Registry[type[nn.Module]] = Registry("loss")

REDUCTIONS = ("none", "mean", "sum")

C = TypeVar("C", bound=type)


def signature_defaults(cls: type) -> dict[str, Any]:
    """The hyper-parameters of a loss class and their defaults, read from ``__init__``.

    ``reduction`` is left out (every loss has it). Every other parameter must have a default.
    """
    out: dict[str, Any] = {}
    for p in inspect.signature(cls).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "reduction":
            continue
        if p.default is p.empty:
            raise TypeError(f"{cls.__name__}.__init__ parameter {p.name!r} needs a default")
        out[p.name] = p.default
    return out


def default_of(cls: type, name: str) -> Any:
    """The default of ``cls``'s parameter ``name`` (so a combination can reuse it, not restate it)."""
    return inspect.signature(cls).parameters[name].default


def register(
    name: str,
    *,
    symmetric: bool,
    batch: bool = False,
    presets: dict[str, dict[str, Any]] | None = None,
) -> Callable[[C], C]:
    """Class decorator: register a loss under ``name`` with its signature's defaults.

    Parameters
    ----------
    symmetric : bool
        Σ_k L(z, k) is the same for every z (Ghosh et al. 2017) at the default parameters.
    batch : bool
        A sample's value depends on the other samples of its batch (DMI, entropy term).
    presets : dict
        ``{preset name: {param: value}}``; every key must be a parameter of the class.
    """

    def deco(cls: C) -> C:
        params = signature_defaults(cls)
        for preset, values in (presets or {}).items():
            unknown = sorted(set(values) - set(params))
            if unknown:
                raise TypeError(f"preset {preset!r} of loss {name!r} sets unknown {unknown}")
        cls.symmetric = symmetric  # type: ignore[attr-defined]
        cls.batch = batch  # type: ignore[attr-defined]
        LOSSES.register(
            name,
            cls,
            params=params,
            symmetric=symmetric,
            batch=batch,
            presets=dict(presets or {}),
        )
        return cls

    return deco


# ----------------------------------------------------------------------------- validation


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a ``torch.nn``-style reduction: ``'none'``, ``'mean'`` or ``'sum'``."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _label_range_error(labels: torch.Tensor, k: int) -> ValueError | None:
    if not labels.numel():
        return None
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= k:
        bad = lo if lo < 0 else hi
        return ValueError(f"labels must lie in [0, {k}); got label {bad}")
    return None


def _check_labels_tensor(labels: Any) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dtype == torch.bool:
        raise TypeError("labels must be integer class indices or float soft targets, got bool")
    return labels


def label_index(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Integer labels (…) or (B,) for (M, B, K) logits → an int64 gather index (…, 1).

    The range is not checked here: see :func:`gathered`.
    """
    batch_shape = logits.shape[:-1]
    if labels.shape != batch_shape:
        try:
            labels = labels.expand(batch_shape)
        except RuntimeError:
            raise ValueError(
                f"labels shaped {tuple(labels.shape)} do not match logits shaped "
                f"{tuple(logits.shape)}; expected {tuple(batch_shape)}"
            ) from None
    if labels.dtype != torch.long:
        labels = labels.long()
    return labels.unsqueeze(-1)


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
    labels = _check_labels_tensor(labels)
    if labels.is_floating_point():
        if labels.shape != values.shape:
            raise ValueError(
                f"soft targets must be shaped like the logits {tuple(values.shape)}, "
                f"got {tuple(labels.shape)}"
            )
        return (labels.to(values.dtype) * values).sum(-1)
    index = label_index(values, labels)
    error = _label_range_error(index, values.shape[-1])
    if error is not None:
        raise error
    return values.gather(-1, index).squeeze(-1)


def log1m_exp(logp: torch.Tensor) -> torch.Tensor:
    """log(1 − p) from log p, accurate near p → 0 and p → 1 (Mächler 2012).

    ``1 − p`` is clamped at the smallest normal float so that the log stays finite at p = 1.
    """
    tiny = torch.finfo(logp.dtype).tiny
    one_minus = torch.where(logp > -math.log(2.0), -torch.expm1(logp), -torch.exp(logp) + 1.0)
    return torch.log(one_minus.clamp_min(tiny))


#: ε of the ``'l2'`` logit normalisation (:func:`normalize_logits`)
L2_EPS = 1e-6


def normalize_logits(
    logits: torch.Tensor, mode: str | None = "l2", scale: float = 1.0, eps: float = L2_EPS
) -> torch.Tensor:
    """Constrain logits so that a loss unbounded below (the unhinged loss) stays bounded.

    ``'l2'``
        Euclidean normalisation of the centred logits, per sample:
        z̃ = s · (z − z̄1) / sqrt(‖z − z̄1‖² + ε). The unhinged loss ignores the mean logit z̄,
        so we centre first; otherwise a model could shrink the loss magnitude by inflating a
        direction the loss never sees.
    ``'batchnorm'``
        Batch normalisation of the logits treated as *one* channel: z̃ = s · (z − μ) /
        sqrt(σ² + ε) with μ, σ² the (biased) mean and variance over the batch and class axes,
        computed per ensemble member for (M, B, K) input. Sharing the statistics across
        classes (rather than one channel per class) keeps the map the same for every class,
        so argmax z̃ = argmax z and accuracy measured on the raw logits is unaffected; batch
        statistics are always used, as no decision depends on them.
    ``None``
        The raw logits.

    Both maps are monotone in each sample's logits up to a positive factor, so predictions
    are unchanged.
    """
    if mode is None or mode == "none":
        return logits
    if mode == "l2":
        c = logits - logits.mean(-1, keepdim=True)
        return scale * c / torch.sqrt((c * c).sum(-1, keepdim=True) + eps)
    if mode == "batchnorm":
        if logits.shape[-2] < 2:
            raise ValueError(
                f"logit_norm='batchnorm' needs a batch of at least 2 samples, "
                f"got logits shaped {tuple(logits.shape)}"
            )
        mu = logits.mean(dim=(-2, -1), keepdim=True)
        var = logits.var(dim=(-2, -1), keepdim=True, unbiased=False)
        return scale * (logits - mu) / torch.sqrt(var + eps)
    raise ValueError(f"logit_norm must be 'l2', 'batchnorm' or None, got {mode!r}")


# ----------------------------------------------------------------------------- the view


class View:
    """The logits seen at the label (``index`` given: (…, 1) tensors) or at every class.

    Attributes ending in ``_all`` are always (…, K); the others are (…, 1) at the label, or
    (…, K) when ``index`` is None. Each quantity is computed once, on first use. At the
    label, p_y is gathered from the softmax, or exp(log p_y) when the log-softmax was
    already needed (one full pass instead of two), so a formula asks for log p first.

    Parameters
    ----------
    logits : Tensor (…, K)
    index : Tensor (…, 1) of int64, optional
        The label of every sample (:func:`label_index`); None for every class.
    """

    __slots__ = ("_logp", "_logp_all", "_lse", "_p", "_p_all", "index", "k", "z")

    def __init__(self, logits: torch.Tensor, index: torch.Tensor | None = None) -> None:
        self.z = logits  # (…, K)
        self.index = index  # (…, 1) or None
        self.k = logits.shape[-1]
        self._logp_all: torch.Tensor | None = None  # plain slots: cheaper than cached_property
        self._p_all: torch.Tensor | None = None
        self._logp: torch.Tensor | None = None
        self._p: torch.Tensor | None = None
        self._lse: torch.Tensor | None = None

    def at(self, full: torch.Tensor) -> torch.Tensor:
        """A (…, K) tensor at the label (…, 1), or unchanged in every-class mode."""
        return full if self.index is None else full.gather(-1, self.index)

    @property
    def logp_all(self) -> torch.Tensor:
        if self._logp_all is None:
            self._logp_all = torch.log_softmax(self.z, dim=-1)  # (…, K)
        return self._logp_all

    @property
    def p_all(self) -> torch.Tensor:
        if self._p_all is None:
            if self._logp_all is not None:
                self._p_all = torch.exp(self._logp_all)
            else:
                self._p_all = torch.softmax(self.z, dim=-1)  # (…, K)
        return self._p_all

    @property
    def logp(self) -> torch.Tensor:
        if self._logp is None:
            self._logp = self.at(self.logp_all)
        return self._logp

    @property
    def p(self) -> torch.Tensor:
        if self._p is None:
            if self.index is None:
                self._p = self.p_all
            elif self._logp_all is not None and self._p_all is None:
                self._p = torch.exp(self.logp)  # gather first: exp of (…, 1) only
            else:
                self._p = self.at(self.p_all)
        return self._p

    @property
    def lse(self) -> torch.Tensor:
        if self._lse is None:
            self._lse = torch.logsumexp(self.z, dim=-1, keepdim=True)  # (…, 1)
        return self._lse


def scaled(x: torch.Tensor, scale: float) -> torch.Tensor:
    return x if scale == 1.0 else scale * x


# ----------------------------------------------------------------------------- base class


class Loss(nn.Module):
    """Base of the classification losses: subclasses define :meth:`terms`.

    Attributes
    ----------
    reduction : str
        ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape of the labels).
    regularization : float
        Weight of an optional parameter penalty added by :meth:`regularizer` (0 for every
        loss except the ANL family's L1 term). The engine or a user loop adds it to the loss.
    """

    symmetric: bool = False
    batch: bool = False
    regularization: float = 0.0

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    @abstractmethod
    def terms(self, v: View) -> torch.Tensor:
        """The loss on a :class:`View`: (…, 1) at the label, or (…, K) at every class."""

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """L(z, k) for every class k: logits (…, K) → (…, K)."""
        return self.terms(View(check_logits(logits)))

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Unreduced values (…): gather-first for integer labels, Σ_k t_k L(z, k) for soft ones."""
        logits = check_logits(logits)
        labels = _check_labels_tensor(labels)
        if labels.is_floating_point():
            return pick(self.all_classes(logits), labels)
        index = label_index(logits, labels)
        if not logits.is_cpu:  # an out-of-range gather is a device assert there
            error = _label_range_error(index, logits.shape[-1])
            if error is not None:
                raise error
            return self.terms(View(logits, index)).squeeze(-1)
        try:  # on the CPU an out-of-range gather raises: check the range only then
            return self.terms(View(logits, index)).squeeze(-1)
        except (RuntimeError, IndexError):
            error = _label_range_error(index, logits.shape[-1])
            if error is not None:
                raise error from None
            raise

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if (  # the common case in as few Python calls as possible: CPU, int64 labels (…)
            type(logits) is torch.Tensor
            and type(labels) is torch.Tensor
            and logits.is_cpu
            and labels.dtype == torch.int64
            and logits.is_floating_point()
            and logits.dim() >= 2
            and logits.shape[-1] >= 2
            and labels.shape == logits.shape[:-1]
        ):
            try:
                out = self.terms(View(logits, labels.unsqueeze(-1))).squeeze(-1)
            except (RuntimeError, IndexError):
                out = self.per_sample(logits, labels)  # raises the labels' range error
        else:
            out = self.per_sample(logits, labels)
        return out.mean() if self.reduction == "mean" else reduce(out, self.reduction)

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
        shown = []
        for p in inspect.signature(type(self)).parameters.values():
            if p.name == "reduction" or p.default is p.empty:
                continue
            value = getattr(self, p.name, p.default)
            if value != p.default:
                shown.append(f"{p.name}={value!r}")
        return ", ".join([*shown, f"reduction={self.reduction!r}"])
