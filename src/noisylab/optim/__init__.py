"""Optimisers by name: torch's SGD/Adam/AdamW and the sharpness-aware wrappers.

Every registered builder has the signature ``build(params, lr, weight_decay=0.0, **kw)`` and
returns a ``torch.optim.Optimizer``. The engine always calls ``opt.step(closure)`` where the
closure zeroes gradients, runs forward and backward and returns the loss, so a two-pass
optimiser (SAM, ASAM, VaSSO) can evaluate it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from noisylab.registry import Registry

Builder = Callable[..., torch.optim.Optimizer]
OPTIMIZERS: Registry[Builder] = Registry("optimizer")


def _fused_ok(params: list[torch.nn.Parameter]) -> bool:
    return all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)


@OPTIMIZERS.register("sgd", params={"momentum": 0.9, "nesterov": False})
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


@OPTIMIZERS.register("adam", params={"betas": (0.9, 0.999)})
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


@OPTIMIZERS.register("adamw", params={"betas": (0.9, 0.999)})
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


@OPTIMIZERS.register(
    "sam",
    params={"base": "sgd", "rho": 0.05, "momentum": 0.9},
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


@OPTIMIZERS.register(
    "asam",
    params={"base": "sgd", "rho": 0.5, "eta": 0.01, "momentum": 0.9},
    two_pass=True,
    doc="ASAM (Kwon et al. 2021): eps = rho T^2 g/||T g||, T = |w| + eta on weights",
)
def asam(
    params: Iterable[Any],
    lr: float,
    weight_decay: float = 0.0,
    base: Any = "sgd",
    rho: float = 0.5,
    eta: float = 0.01,
    momentum: float = 0.9,
    **base_kwargs: Any,
) -> torch.optim.Optimizer:
    kw = _wrapper_kwargs(base, momentum, base_kwargs)
    return ASAM(params, base=base, rho=rho, eta=eta, lr=lr, weight_decay=weight_decay, **kw)


@OPTIMIZERS.register(
    "vasso",
    params={"base": "sgd", "rho": 0.05, "theta": 0.9, "momentum": 0.9},
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


@OPTIMIZERS.register(
    "fsam",
    params={"base": "sgd", "rho": 0.05, "theta": 0.1, "sigma": 1.0, "momentum": 0.9},
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
    "SAM",
    "DirectionTracker",
    "FriendlySAM",
    "VaSSO",
    "build",
    "disable_running_stats",
    "m_sharpness",
    "top_hessian_eigenvalue",
]
