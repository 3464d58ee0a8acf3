"""Optimisers by name: torch's SGD/Adam/AdamW and the sharpness-aware wrappers.

Every registered builder has the signature ``build(params, lr, weight_decay=0.0, **kw)`` and
returns a ``torch.optim.Optimizer``. The engine always calls ``opt.step(closure)`` where the
closure zeroes gradients, runs forward and backward and returns the loss, so a two-pass
optimiser (SAM, ASAM, VaSSO) can evaluate it twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch

from noisylab.registry import Registry

Builder = Callable[..., torch.optim.Optimizer]
OPTIMIZERS: Registry[Builder] = Registry("optimizer")

#: Builder arguments that every optimiser takes and that are not listed as its ``params``.
_COMMON = ("params", "lr", "weight_decay")


def signature_defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """The keyword defaults of a builder, read from its signature: ``{name: default}``.

    Skips ``params``, ``lr``, ``weight_decay`` and ``**kwargs``; these are the ``params``
    metadata of :data:`OPTIMIZERS`, so each default is written once, in the signature.

    Example
    -------
    >>> signature_defaults(lambda params, lr, weight_decay=0.0, momentum=0.9: None)
    {'momentum': 0.9}
    """
    out: dict[str, Any] = {}
    for name, par in inspect.signature(fn).parameters.items():
        if name in _COMMON or par.kind in (par.VAR_KEYWORD, par.VAR_POSITIONAL):
            continue
        if par.default is par.empty:
            raise TypeError(f"optimizer builder argument {name!r} needs a default")
        out[name] = par.default
    return out


def _register(name: str, **meta: Any) -> Callable[[Builder], Builder]:
    """Register a builder under ``name`` with ``params`` metadata from its signature."""

    def deco(fn: Builder) -> Builder:
        OPTIMIZERS.register(name, fn, params=signature_defaults(fn), **meta)
        return fn

    return deco


def _fused_ok(params: list[torch.nn.Parameter]) -> bool:
    return all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)


@_register("sgd")
def sgd(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


@_register("adam")
def adam(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    params = list(params)
    return torch.optim.Adam(
        params,
        lr=lr,
        betas=(float(betas[0]), float(betas[1])),
        weight_decay=weight_decay,
        fused=_fused_ok(_flat(params)),
    )


@_register("adamw")
def adamw(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    params = list(params)
    return torch.optim.AdamW(
        params,
        lr=lr,
        betas=(float(betas[0]), float(betas[1])),
        weight_decay=weight_decay,
        fused=_fused_ok(_flat(params)),
    )


def _flat(params: list[Any]) -> list[torch.nn.Parameter]:
    out: list[torch.nn.Parameter] = []
    for p in params:
        out.extend(p["params"] if isinstance(p, dict) else [p])
    return out


def build(name: str, params: Iterable[Any], lr: float, **kwargs: Any) -> torch.optim.Optimizer:
    """Build optimiser ``name`` over ``params``; unknown keyword arguments raise ``TypeError``."""
    return OPTIMIZERS.get(name)(params, lr=lr, **kwargs)


# --------------------------------------------------------------------- sharpness-aware wrappers
from .probe import m_sharpness, top_hessian_eigenvalue  # noqa: E402
from .sharpness import (  # noqa: E402
    ASAM,
    RESCALE_RULES,
    SAM,
    DirectionTracker,
    FriendlySAM,
    VaSSO,
    accepts,
    disable_running_stats,
)


def _wrapper_kwargs(base: Any, momentum: float, base_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``momentum`` goes to the base only if it takes one (SGD does, Adam does not)."""
    kw = dict(base_kwargs)
    if accepts(base, "momentum"):
        kw["momentum"] = momentum
    return kw


@_register(
    "sam",
    two_pass=True,
    doc="SAM (Foret et al. 2021): eps = rho g/||g||, per member with an ensemble axis",
)
def sam(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    base: Any = "sgd",
    rho: float = 0.05,
    momentum: float = 0.9,
    **base_kwargs: Any,
) -> torch.optim.Optimizer:
    kw = _wrapper_kwargs(base, momentum, base_kwargs)
    return SAM(params, base=base, rho=rho, lr=lr, weight_decay=weight_decay, **kw)


@_register(
    "asam",
    two_pass=True,
    doc="ASAM (Kwon et al. 2021): eps = rho T^2 g/||T g||, T = |w| + eta on `rescale` params",
)
def asam(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    base: Any = "sgd",
    rho: float = 0.5,
    eta: float = 0.01,
    momentum: float = 0.9,
    rescale: str = "matrices",
    **base_kwargs: Any,
) -> torch.optim.Optimizer:
    kw = _wrapper_kwargs(base, momentum, base_kwargs)
    return ASAM(
        params,
        base=base,
        rho=rho,
        eta=eta,
        rescale=rescale,
        lr=lr,
        weight_decay=weight_decay,
        **kw,
    )


@_register(
    "vasso",
    two_pass=True,
    doc="VaSSO (Li & Giannakis 2023): perturb along the gradient EMA d = (1-theta) d + theta g",
)
def vasso(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    base: Any = "sgd",
    rho: float = 0.05,
    theta: float = 0.9,
    momentum: float = 0.9,
    **base_kwargs: Any,
) -> torch.optim.Optimizer:
    kw = _wrapper_kwargs(base, momentum, base_kwargs)
    return VaSSO(params, base=base, rho=rho, theta=theta, lr=lr, weight_decay=weight_decay, **kw)


@_register(
    "fsam",
    two_pass=True,
    doc="FriendlySAM (Li et al. 2024): perturb along g - sigma m, m an EMA of weight theta",
)
def fsam(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    base: Any = "sgd",
    rho: float = 0.05,
    theta: float = 0.1,
    sigma: float = 1.0,
    momentum: float = 0.9,
    **base_kwargs: Any,
) -> torch.optim.Optimizer:
    kw = _wrapper_kwargs(base, momentum, base_kwargs)
    return FriendlySAM(
        params, base=base, rho=rho, theta=theta, sigma=sigma, lr=lr, weight_decay=weight_decay, **kw
    )


__all__ = [
    "ASAM",
    "OPTIMIZERS",
    "RESCALE_RULES",
    "SAM",
    "DirectionTracker",
    "FriendlySAM",
    "VaSSO",
    "accepts",
    "adam",
    "adamw",
    "asam",
    "build",
    "disable_running_stats",
    "fsam",
    "m_sharpness",
    "sam",
    "sgd",
    "signature_defaults",
    "top_hessian_eigenvalue",
    "vasso",
]
