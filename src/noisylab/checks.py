"""Shared argument checks: each constraint stated once, each error naming value and bound.

The bottom layer (no numpy or torch import): every package may use it. Each check returns
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
from typing import Any


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
    TypeError
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
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
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
