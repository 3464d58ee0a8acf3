"""Reward over-optimisation: Gao et al.'s functional forms and the shape of a gold-vs-proxy path.

With d = √KL(π ‖ π_init) and R the gold reward gained over the initial policy, Gao, Schulman
& Hilton (2022, eqs. 1–2) found

    best-of-n:  R(d) = d (α − β d),        RL:  R(d) = d (α − β log d).

Both are linear in (α, β), so :func:`fit_gao` solves an ordinary least-squares problem with no
intercept (R(0) = 0 by construction: we subtract the initial policy's gold reward). The fitted
peak is at d* = α / (2β) for best-of-n and d* = exp(α/β − 1) for RL.

:func:`inverted_u` summarises whether a path (ordered by optimisation: n, steps, rounds)
rises, peaks and falls in gold while its proxy keeps rising — the over-optimisation shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORMS = ("bon", "rl")


def gao_curve(form: str, d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """R(d) of ``form`` (``bon``: d(α − βd); ``rl``: d(α − β log d), 0 at d = 0)."""
    d = np.asarray(d, dtype=float)
    if form == "bon":
        return d * (alpha - beta * d)
    if form == "rl":
        logd = np.log(np.where(d > 0, d, 1.0))
        return np.where(d > 0, d * (alpha - beta * logd), 0.0)
    raise ValueError(f"unknown Gao form {form!r}; expected one of {FORMS}")


def fit_gao(form: str, d: np.ndarray, gain: np.ndarray) -> dict[str, float]:
    """Least-squares (α, β) of ``form`` for gold gains ``gain`` at distances ``d`` = √KL.

    Returns ``alpha``, ``beta``, ``r2`` (against the mean of ``gain``), ``d_peak`` (the fitted
    argmax; inf when β ≤ 0) and ``n`` (points used). Non-finite points are dropped; fewer than
    two distinct non-zero distances give NaN coefficients.
    """
    if form not in FORMS:
        raise ValueError(f"unknown Gao form {form!r}; expected one of {FORMS}")
    d, y = np.asarray(d, dtype=float), np.asarray(gain, dtype=float)
    if d.shape != y.shape or d.ndim != 1:
        raise ValueError(f"d and gain must be 1-D of one length, got {d.shape} and {y.shape}")
    if np.any(d[np.isfinite(d)] < 0):
        raise ValueError(f"d = √KL must be >= 0, got min {np.nanmin(d)}")
    keep = np.isfinite(d) & np.isfinite(y)
    d, y = d[keep], y[keep]
    nan = {"alpha": np.nan, "beta": np.nan, "r2": np.nan, "d_peak": np.nan, "n": int(d.size)}
    if np.unique(d[d > 0]).size < 2:
        return nan
    second = -d * d if form == "bon" else -d * np.log(np.where(d > 0, d, 1.0))
    A = np.stack([d, second], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ np.array([alpha, beta])
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss if ss > 0 else np.nan
    if beta <= 0:
        peak = np.inf
    elif form == "bon":
        peak = alpha / (2.0 * beta)
    else:
        peak = float(np.exp(alpha / beta - 1.0))
    return {
        "alpha": float(alpha),
        "beta": float(beta),
        "r2": r2,
        "d_peak": float(peak),
        "n": int(d.size),
    }


def inverted_u(gold: np.ndarray, proxy: np.ndarray, *, tol: float = 0.0) -> dict[str, Any]:
    """Does the gold path rise, peak and fall while the proxy keeps rising?

    ``gold`` and ``proxy`` are ordered along optimisation (the first point is the start).
    The path is an inverted U when the gold peak exceeds both the start and the end by more
    than ``tol`` and the proxy at the end exceeds the proxy at the gold peak.

    Returns ``rise`` (peak − start), ``fall`` (peak − end), ``peak_index``, ``proxy_gain_after_peak``
    and ``inverted_u`` (bool).
    """
    g, p = np.asarray(gold, dtype=float), np.asarray(proxy, dtype=float)
    if g.shape != p.shape or g.ndim != 1 or g.size < 3:
        raise ValueError(
            f"need 1-D gold and proxy paths of one length >= 3, got {g.shape}, {p.shape}"
        )
    k = int(np.nanargmax(g))
    rise, fall = float(g[k] - g[0]), float(g[k] - g[-1])
    after = float(p[-1] - p[k])
    return {
        "rise": rise,
        "fall": fall,
        "peak_index": k,
        "proxy_gain_after_peak": after,
        "inverted_u": bool(rise > tol and fall > tol and after > 0),
    }
