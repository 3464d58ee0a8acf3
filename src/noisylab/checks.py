"""Shared argument checks: each constraint stated once, each error naming value and bound.

The bottom layer (no module-level numpy or torch import; the tensor checks import torch
when called): every package may use it. Each check returns
the value converted to its plain Python type, or raises ``ValueError``/``TypeError`` with a
message naming the argument, what was expected and what was given.

Examples
--------
>>> check_int("members", 4)
4
>>> check_int("members", 0)
Traceback (most recent call last):
    ...
ValueError: members must be an int >= 1, got 0
>>> check_number("rho", 0.05, low=0.0, low_open=True)
0.05
>>> check_choice("mode", "feature", ("feature", "global"))
'feature'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class NotANumberError(TypeError, ValueError):
    """A numeric argument that is not a real number.

    Both a ``TypeError`` (the type is wrong) and a ``ValueError`` (a bad argument value), so
    callers that turn bad configuration into a one-line ``ValueError`` message catch it too.
    """


def _real(name: str, value: object) -> float:
    """``value`` as a float, or :class:`NotANumberError` if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise NotANumberError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def check_int(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; bools are not ints here.

    Raises
    ------
    ValueError
        ``"{name} must be an int >= {minimum}, got {value!r}"`` (or ``in [minimum, maximum]``).
    """
    ok = isinstance(value, Integral) and not isinstance(value, bool)
    if ok and int(value) >= minimum and (maximum is None or int(value) <= maximum):  # type: ignore[call-overload]
        return int(value)  # type: ignore[call-overload]
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    raise ValueError(f"{name} must be an int {bound}, got {value!r}")


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the given bounds (closed unless ``*_open``).

    Raises
    ------
    NotANumberError
        If ``value`` is not a real number (bools excluded).
    ValueError
        If it is not finite or out of bounds; the message states the interval.

    Examples
    --------
    >>> check_number("q", 1.5, low=0.0, high=1.0, low_open=True)
    Traceback (most recent call last):
        ...
    ValueError: q must be a finite number in (0.0, 1.0], got 1.5
    """
    v = _real(name, value)
    below = low is not None and (v < low or (low_open and v == low))
    above = high is not None and (v > high or (high_open and v == high))
    if not math.isfinite(v) or below or above:
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}, got {v}")
    return v


def check_choice(name: str, value: object, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    Raises
    ------
    ValueError
        ``"{name} must be 'a' or 'b', got ..."`` (two choices) or
        ``"{name} must be one of 'a', 'b', 'c', got ..."``.

    Examples
    --------
    >>> check_choice("task", "ranking", ("classification", "regression"))
    Traceback (most recent call last):
        ...
    ValueError: task must be 'classification' or 'regression', got 'ranking'
    """
    options = list(choices)
    if value in options:
        return value
    quoted = [repr(o) for o in options]
    expected = " or ".join(quoted) if len(quoted) == 2 else "one of " + ", ".join(quoted)
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def check_registered(what: str, value: str, known: Iterable[str]) -> str:
    """``value`` if it is a registered name; else ``unknown {what} ...; known: ...``.

    Examples
    --------
    >>> check_registered("loss", "gce", ["ce", "gce"])
    'gce'
    """
    names = list(known)
    if value not in names:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(names)}")
    return value


def check_names(
    what: str, values: Iterable[str], known: Iterable[str], *, field: str | None = None
) -> list[str]:
    """A non-empty list of registered names (e.g. a study's ``datasets`` or ``losses``);
    ``field`` names the list in the message (default ``what + "s"``).

    Examples
    --------
    >>> check_names("loss", ["ce", "gce"], ["ce", "gce", "mae"])
    ['ce', 'gce']
    >>> check_names("dataset", [], ["digits"])
    Traceback (most recent call last):
        ...
    ValueError: datasets must name at least one dataset
    """
    names, registered = list(values), list(known)
    if not names:
        raise ValueError(f"{field or what + 's'} must name at least one {what}")
    return [check_registered(what, v, registered) for v in names]


_DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")


def check_device(device: object) -> str:
    """A device name: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (availability is not checked).

    Examples
    --------
    >>> check_device("cuda:1")
    'cuda:1'
    """
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return device


def check_positive(
    name: str, value: object, *, upper: float | None = None, closed: bool = False
) -> float:
    """A finite number ``> 0`` and, if ``upper`` is given, ``< upper`` (``<=`` if ``closed``).

    Raises
    ------
    NotANumberError
        If ``value`` is not a real number (a ``TypeError`` and a ``ValueError``).
    ValueError
        ``"{name} must be a finite number > 0, got ..."`` or ``"{name} must be < {upper}, ..."``.

    Examples
    --------
    >>> check_positive("q", 0.7, upper=1.0, closed=True)
    0.7
    >>> check_positive("q", 0)
    Traceback (most recent call last):
        ...
    ValueError: q must be a finite number > 0, got 0.0
    """
    v = _real(name, value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    if upper is not None and (v > upper or (v == upper and not closed)):
        raise ValueError(f"{name} must be {'<=' if closed else '<'} {upper}, got {v}")
    return v


def check_nonneg(name: str, value: object) -> float:
    """A finite number ``>= 0``.

    Examples
    --------
    >>> check_nonneg("rho", -0.1)
    Traceback (most recent call last):
        ...
    ValueError: rho must be a finite number >= 0, got -0.1
    """
    v = _real(name, value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


def check_probability(
    name: str, value: object, *, low_open: bool = False, high_open: bool = False
) -> float:
    """A number in the unit interval, ``[0, 1]`` unless an end is open.

    Raises
    ------
    NotANumberError
        If ``value`` is not a real number (a ``TypeError`` and a ``ValueError``).
    ValueError
        ``"{name} must be in [0, 1], got ..."`` with the interval's actual brackets.

    Examples
    --------
    >>> check_probability("theta", 1.0, low_open=True)
    1.0
    >>> check_probability("rate", 1.0, high_open=True)
    Traceback (most recent call last):
        ...
    ValueError: rate must be in [0, 1), got 1.0
    """
    v = _real(name, value)
    if not (0.0 < v if low_open else 0.0 <= v) or not (v < 1.0 if high_open else v <= 1.0):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}0, 1{right}, got {v}")
    return v


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False`` (not merely truthy).

    Examples
    --------
    >>> check_flag("detach", 1)
    Traceback (most recent call last):
        ...
    TypeError: detach must be True or False, got 1
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_logits(logits: object, name: str = "logits") -> torch.Tensor:
    """A floating tensor of class scores shaped ``(B, K)`` or ``(M, B, K)`` with ``K >= 2``.

    Raises
    ------
    TypeError
        If it is not a floating-point ``torch.Tensor``.
    ValueError
        If it has fewer than 2 dims or fewer than 2 classes; the message gives the shape.

    Examples
    --------
    >>> import torch
    >>> check_logits(torch.zeros(4, 1))
    Traceback (most recent call last):
        ...
    ValueError: logits must be shaped (B, K) or (M, B, K) with K >= 2, got (4, 1)
    """
    import torch

    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.dim() < 2 or logits.shape[-1] < 2:
        raise ValueError(
            f"{name} must be shaped (B, K) or (M, B, K) with K >= 2, got {tuple(logits.shape)}"
        )
    return logits


def check_class_labels(name: str, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """An integer tensor of class indices in ``[0, num_classes)``, returned as int64.

    Raises
    ------
    TypeError
        If the dtype is floating, complex or bool.
    ValueError
        ``"{name} must lie in [0, K); got values from lo to hi"``.

    Examples
    --------
    >>> import torch
    >>> check_class_labels("y", torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
        ...
    ValueError: y must lie in [0, 3); got values from 0 to 3
    """
    import torch

    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be integer class labels, got dtype {labels.dtype}")
    if labels.numel():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name} must lie in [0, {num_classes}); got values from {lo} to {hi}")
    return labels.long()
