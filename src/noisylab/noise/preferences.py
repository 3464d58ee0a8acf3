"""Noise on pairwise preferences, the AlpacaFarm way (Dubois et al. 2023, §3.3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noisylab.noise.labels import as_rng


@dataclass(frozen=True)
class PreferenceNoise:
    """Noisy pairwise choices.

    Attributes
    ----------
    choices : np.ndarray (n,) int64 in {0, 1}
        The noisy preferences.
    replaced : np.ndarray (n,) bool
        Entries whose label was replaced by a fair coin (about half of them still agree).
    flipped : np.ndarray (n,) bool
        Entries that differ from the input.
    realized_rate : float
        Mean of ``flipped``.
    """

    choices: np.ndarray
    replaced: np.ndarray
    flipped: np.ndarray
    realized_rate: float


def flip_preferences(
    choices: np.ndarray, rate: float, seed: int | np.random.Generator = 0
) -> PreferenceNoise:
    """Flip pairwise preferences: with probability 2·rate a label becomes a fair coin.

    Parameters
    ----------
    choices : array (n,) of 0/1 (or bool)
        Which response of each pair was preferred.
    rate : float
        Expected flip rate p ∈ [0, 0.5]. Each entry is replaced with probability 2p by a
        fair coin, so P(flip) = 2p · ½ = p (AlpacaFarm's simulated annotators use p = 0.25,
        i.e. a coin on half of the labels).
    seed : int or numpy Generator

    Returns
    -------
    PreferenceNoise
        ``.choices`` (n,) int64, ``.replaced`` and ``.flipped`` masks, ``.realized_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> flip_preferences(np.ones(4, dtype=int), 0.0).choices.tolist()
    [1, 1, 1, 1]
    """
    c = np.asarray(choices)
    if c.ndim != 1:
        raise ValueError(f"choices must be a 1-D array of 0/1, got shape {c.shape}")
    if c.dtype.kind not in "biuf":
        raise TypeError(f"choices must be 0/1 numbers, got dtype {c.dtype}")
    bad = (c != 0) & (c != 1)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"choices must be 0 or 1; got {c[i].item()!r} at index {i}")
    if isinstance(rate, bool) or not isinstance(rate, int | float | np.integer | np.floating):
        raise TypeError(f"preference flip rate must be a number in [0, 0.5], got {rate!r}")
    p = float(rate)
    if not (0.0 <= p <= 0.5):
        raise ValueError(f"preference flip rate must be in [0, 0.5], got {rate!r}")
    rng = as_rng(seed)
    clean = c.astype(np.int64)
    replaced = rng.random(clean.size) < 2.0 * p
    coins = rng.integers(0, 2, size=clean.size)
    noisy = np.where(replaced, coins, clean)
    flipped = noisy != clean
    realized = float(flipped.mean()) if clean.size else 0.0
    return PreferenceNoise(
        choices=noisy, replaced=replaced, flipped=flipped, realized_rate=realized
    )
