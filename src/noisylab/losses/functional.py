"""Functional twins: ``<name>(logits, labels, **params, reduction="mean")`` for every loss.

The twin of the loss registered as ``"nce+rce"`` is :func:`nce_rce` (``-`` and ``+`` become
``_``), also reachable as ``twin("nce+rce")``. A twin takes the same parameters, with the same
defaults, as the module (``noisylab.losses.get``); both run the same formula, so they agree
exactly. Twins are generated from the registered classes: a default is stated once, in the
class signature.

>>> import torch
>>> from noisylab.losses import functional as F
>>> z, y = torch.zeros(2, 4), torch.tensor([0, 3])
>>> F.nce(z, y, reduction="none")
tensor([0.2500, 0.2500])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from noisylab.losses import symmetric as _symmetric  # noqa: F401 (registers its losses)
from noisylab.losses import zoo as _zoo
from noisylab.losses._base import LOSSES, normalize_logits

Twin = Callable[..., torch.Tensor]


def _python_name(name: str) -> str:
    return name.replace("-", "_").replace("+", "_")


def _make_twin(name: str) -> Twin:
    cls = LOSSES.get(name)
    sig = inspect.signature(cls)
    head = [
        inspect.Parameter("logits", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("labels", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]

    def fn(logits: torch.Tensor, labels: torch.Tensor, *args: Any, **kwargs: Any):
        return cls(*args, **kwargs)(logits, labels)

    fn.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*head, *sig.parameters.values()], return_annotation=torch.Tensor
    )
    fn.__name__ = fn.__qualname__ = _python_name(name)
    fn.__module__ = __name__
    summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    fn.__doc__ = f"Functional twin of ``get({name!r})``: {summary}"
    return fn


def twin(name: str) -> Twin:
    """The functional twin of the loss registered as ``name`` (``"nce+rce"`` → :func:`nce_rce`)."""
    LOSSES.get(name)  # unknown names raise with the registered ones
    key = _python_name(name)
    fn = globals().get(key)
    if fn is None or getattr(fn, "__module__", None) != __name__:
        fn = globals()[key] = _make_twin(name)
    return fn


for _name in LOSSES.names():
    twin(_name)

#: the squared-error twin under its historical name (targets: classes, reals or regression)
mse_loss = _zoo.mse_loss


def __getattr__(attr: str) -> Twin:  # twins of losses registered after this import
    for name in LOSSES.names():
        if _python_name(name) == attr:
            return twin(name)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = ["mse_loss", "normalize_logits", "twin", *(_python_name(n) for n in LOSSES.names())]
