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
        params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=_fused_ok(_flat(params))
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
        params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=_fused_ok(_flat(params))
    )


def _flat(params: list[Any]) -> list[torch.nn.Parameter]:
    out: list[torch.nn.Parameter] = []
    for p in params:
        out.extend(p["params"] if isinstance(p, dict) else [p])
    return out


def build(name: str, params: Iterable[Any], lr: float, **kwargs: Any) -> torch.optim.Optimizer:
    """Build optimiser ``name`` over ``params``; unknown keyword arguments raise ``TypeError``."""
    return OPTIMIZERS.get(name)(params, lr=lr, **kwargs)


__all__ = ["OPTIMIZERS", "build"]
