"""Input checks shared by every similarity metric: arrays in, float64 torch tensors out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: what a metric accepts: a numpy array or a torch tensor, (n, p) or (n, *feature_shape).
ArrayLike = Any


def as_matrix(x: ArrayLike, name: str = "X") -> torch.Tensor:
    """Return ``x`` as a float64 ``(n, p)`` tensor on its own device.

    Representations with trailing feature axes (e.g. conv maps ``(n, C, L)``) are flattened
    to ``(n, C·L)``; a 1-D input is treated as one feature ``(n, 1)``.

    Raises
    ------
    TypeError
        If ``x`` is neither a numpy array nor a torch tensor (lists are accepted via numpy).
    ValueError
        If ``x`` is empty, has no sample axis, or contains NaN/inf.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    elif isinstance(x, np.ndarray | list | tuple):
        arr = np.asarray(x)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if t.dim() == 0:
        raise ValueError(f"{name} must have a sample axis, got a scalar")
    if t.dim() == 1:
        t = t[:, None]
    elif t.dim() > 2:
        t = t.reshape(t.shape[0], -1)
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(t.shape)}")
    if t.is_complex():
        raise TypeError(f"{name} must be real, got dtype {t.dtype}")
    t = t.to(torch.float64)
    check_finite(t, name)
    return t


def as_pair(x: ArrayLike, y: ArrayLike, min_n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two representations of the same ``n`` inputs; ``y`` is moved to ``x``'s device."""
    X = as_matrix(x, "X")
    Y = as_matrix(y, "Y").to(X.device)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must hold the same inputs (rows): X has n={X.shape[0]}, Y has n={Y.shape[0]}"
        )
    check_n(X.shape[0], min_n)
    return X, Y


def as_stack(
    reps: ArrayLike, min_n: int = 2, dtype: torch.dtype | None = torch.float64
) -> torch.Tensor:
    """Validate an ensemble's representations ``(M, n, p)`` (or a list of M ``(n, p)`` arrays).

    ``dtype=None`` keeps a floating array's own dtype (integers still become float64), so a
    caller that upcasts member by member never holds a float64 copy of the whole stack.
    """
    if isinstance(reps, list | tuple):
        mats = [as_matrix(r, f"reps[{i}]") for i, r in enumerate(reps)]
        if not mats:
            raise ValueError("reps must hold at least one member, got an empty list")
        shapes = {tuple(m.shape) for m in mats}
        if len(shapes) != 1:
            raise ValueError(f"all members must share the shape (n, p); got {sorted(shapes)}")
        R = torch.stack([m.to(mats[0].device) for m in mats])
    else:
        if isinstance(reps, np.ndarray):
            reps = torch.from_numpy(np.ascontiguousarray(reps))
        if not isinstance(reps, torch.Tensor):
            raise TypeError(f"reps must be an array (M, n, p), got {type(reps).__name__}")
        if reps.dim() < 2:
            raise ValueError(f"reps must have shape (M, n, p), got {tuple(reps.shape)}")
        R = reps.detach()
        R = R[..., None] if R.dim() == 2 else R.reshape(R.shape[0], R.shape[1], -1)
        if R.shape[0] == 0 or R.shape[1] == 0 or R.shape[2] == 0:
            raise ValueError(f"reps must be non-empty, got shape {tuple(R.shape)}")
        if R.is_complex():
            raise TypeError(f"reps must be real, got dtype {R.dtype}")
        if dtype is not None or not R.is_floating_point():
            R = R.to(dtype or torch.float64)
        check_finite(R, "reps")
    check_n(R.shape[1], min_n)
    return R  # (M, n, p)


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or ±inf.

    The common case costs one pass and no allocation: a sum of finite numbers is finite
    unless it overflows, and only then (or when it is not finite) the elementwise test runs.
    """
    if bool(torch.isfinite(t.sum())):
        return
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or infinite values; expected finite numbers")


def check_n(n: int, min_n: int) -> None:
    if n < min_n:
        raise ValueError(f"need at least n={min_n} samples for this estimator, got n={n}")


def centre(x: torch.Tensor) -> torch.Tensor:
    """Subtract the column means (over the sample axis, the second-to-last one)."""
    return x - x.mean(dim=-2, keepdim=True)
