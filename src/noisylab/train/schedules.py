"""Learning-rate schedules as multipliers of the base lr, stepped once per optimiser step.

A schedule is built as ``factor(step)`` for ``step = 0 … total_steps − 1`` and installed with
``torch.optim.lr_scheduler.LambdaLR``; the engine calls ``scheduler.step()`` after every
optimiser step, so ``cosine`` decays smoothly within epochs while ``step`` changes the lr at
epoch boundaries (its ``step_size`` is counted in epochs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from noisylab.registry import Registry

Factor = Callable[[int], float]
#: name → builder ``(total_steps, steps_per_epoch, **params) -> factor(step)``; meta ``params``.
SCHEDULES: Registry[Callable[..., Factor]] = Registry("schedule")


def _warmup(factor: Factor, warmup_steps: int) -> Factor:
    if warmup_steps <= 0:
        return factor
    return lambda s: factor(s) * min(1.0, (s + 1) / warmup_steps)


@SCHEDULES.register("constant", params={"warmup_epochs": 0})
def constant(total_steps: int, steps_per_epoch: int, warmup_epochs: float = 0) -> Factor:
    """lr stays at its base value (after an optional linear warm-up)."""
    return _warmup(lambda s: 1.0, round(warmup_epochs * steps_per_epoch))


@SCHEDULES.register("cosine", params={"min_factor": 0.0, "warmup_epochs": 0})
def cosine(
    total_steps: int, steps_per_epoch: int, min_factor: float = 0.0, warmup_epochs: float = 0
) -> Factor:
    """Cosine decay (Loshchilov & Hutter, 2017) from lr to ``min_factor``·lr over all steps.

    factor(s) = m + (1 − m)·½(1 + cos(π s / S)), S = total steps.
    """
    if not 0.0 <= min_factor <= 1.0:
        raise ValueError(f"min_factor must be in [0, 1], got {min_factor!r}")
    total = max(total_steps, 1)
    return _warmup(
        lambda s: min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * s / total)),
        round(warmup_epochs * steps_per_epoch),
    )


@SCHEDULES.register("step", params={"step_size": None, "gamma": 0.1})
def step(
    total_steps: int, steps_per_epoch: int, step_size: int | None = None, gamma: float = 0.1
) -> Factor:
    """Multiply lr by ``gamma`` every ``step_size`` epochs (default: a third of the run)."""
    epochs = max(1, math.ceil(total_steps / max(steps_per_epoch, 1)))
    size = step_size if step_size is not None else max(1, epochs // 3)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"step_size must be a positive number of epochs, got {step_size!r}")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    return lambda s: gamma ** ((s // steps_per_epoch) // size)


@SCHEDULES.register("linear", params={"min_factor": 0.0})
def linear(total_steps: int, steps_per_epoch: int, min_factor: float = 0.0) -> Factor:
    """Linear decay from lr to ``min_factor``·lr over all steps."""
    total = max(total_steps, 1)
    return lambda s: 1.0 - (1.0 - min_factor) * min(s, total) / total


def make_schedule(
    schedule: str | Callable[[int, int], float],
    total_steps: int,
    steps_per_epoch: int,
    params: dict[str, Any] | None = None,
) -> Factor:
    """The per-step lr factor for ``schedule``.

    Parameters
    ----------
    schedule : str or callable
        A name in :data:`SCHEDULES`, or ``f(step, total_steps) -> factor``.
    total_steps, steps_per_epoch : int
        Run length in optimiser steps, and steps per epoch.
    params : dict, optional
        Schedule parameters (e.g. ``{"gamma": 0.5, "step_size": 10}``).
    """
    params = dict(params or {})
    if callable(schedule):
        if params:
            raise ValueError(f"schedule_params {params} given with a callable schedule")
        return lambda s: float(schedule(s, total_steps))
    return SCHEDULES.get(schedule)(total_steps, steps_per_epoch, **params)
