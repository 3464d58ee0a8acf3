"""Gaussian noise on regression targets at a prescribed signal-to-noise ratio."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from noisylab.noise.labels import as_rng


@dataclass(frozen=True)
class TargetNoise:
    """Noisy regression targets.

    Attributes
    ----------
    targets : np.ndarray, same shape as the input
        y + ε with ε ~ N(0, σ² I).
    sigma : float
        The noise standard deviation σ.
    snr : float
        The requested SNR = Var(signal)/σ².
    noise : np.ndarray
        ε itself (zeros when ``snr`` is infinite).
    """

    targets: np.ndarray
    sigma: float
    snr: float
    noise: np.ndarray


def corrupt_targets(y: np.ndarray, snr: float, seed: int | np.random.Generator = 0) -> TargetNoise:
    """Add i.i.d. Gaussian noise to regression targets at signal-to-noise ratio ``snr``.

    Parameters
    ----------
    y : array (n,) or (n, out)
        Clean targets.
    snr : float
        SNR = Var(signal)/σ² > 0, where Var(signal) is the empirical variance of ``y`` over
        samples (ddof = 0), averaged over output columns (pooled). ``math.inf`` adds no noise.
    seed : int or numpy Generator

    Returns
    -------
    TargetNoise
        ``.targets`` = y + ε, ε ~ N(0, σ²), σ = sqrt(Var(signal)/snr); ``.sigma``, ``.snr``.

    Notes
    -----
    For a linear teacher y = βᵀx with x ~ N(0, I) this makes SNR ≈ ‖β‖²/σ², the convention of
    the representational-alignment reference (targets y = βᵀx + ε, SNR = ‖β‖²/σ²).

    Examples
    --------
    >>> import numpy as np
    >>> r = corrupt_targets(np.array([-1.0, 1.0]), snr=4.0, seed=0)
    >>> r.sigma
    0.5
    """
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] < 2:
        raise ValueError(f"y must have shape (n,) or (n, out) with n >= 2, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("y contains non-finite values")
    if isinstance(snr, bool) or not isinstance(snr, int | float | np.integer | np.floating):
        raise TypeError(f"snr must be a positive number or inf, got {snr!r}")
    s = float(snr)
    if math.isnan(s) or s <= 0:
        raise ValueError(f"snr must be > 0 (or inf for no noise), got {snr!r}")
    rng = as_rng(seed)
    if math.isinf(s):
        return TargetNoise(targets=arr.copy(), sigma=0.0, snr=s, noise=np.zeros_like(arr))
    signal_var = float(arr.reshape(arr.shape[0], -1).var(axis=0).mean())
    if signal_var <= 0:
        raise ValueError("y has zero variance; the SNR is undefined")
    sigma = math.sqrt(signal_var / s)
    eps = rng.normal(0.0, sigma, size=arr.shape)
    return TargetNoise(targets=arr + eps, sigma=sigma, snr=s, noise=eps)
