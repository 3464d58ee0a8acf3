"""Fourier analysis of modular-arithmetic networks: spectra, dominant frequencies, IPR, phases.

Pure functions over arrays (numpy or torch in, numpy out). A network's neuron m is described
by three vectors over residues: its input weights ``u_m`` (row m of U for the first operand),
``v_m`` (second operand) and its output weights ``w_m`` (one entry per output class). All
functions take them stacked as ``(N, L)`` arrays, one row per neuron, already in the Fourier
basis of the task's group:

* addition / subtraction: the cyclic group Z_P, residues 0..P−1 (L = P);
* multiplication: the multiplicative group Z_P^×, which is cyclic of order P−1; residues
  1..P−1 are re-indexed by their discrete logarithm ``log_g`` for a primitive root g
  (:func:`to_group_basis`), so that a·b becomes log a + log b mod P−1 (L = P−1).

The DFT convention is numpy's, x̂_ω = Σ_i x_i e^{−2πiωi/L}, so a cosine
x_i = λ cos(2πωi/L + φ) with 0 < ω < L/2 has x̂_ω = (λL/2) e^{iφ}: its phase is φ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from noisylab.checks import check_choice

OPS = ("add", "sub", "mul")


def _as_array(x: Any) -> np.ndarray:
    """A float64 numpy copy of ``x`` (numpy array, torch tensor or nested list)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def is_prime(p: int) -> bool:
    """Whether ``p`` is a prime number (trial division; P is small here)."""
    if p < 2:
        return False
    if p < 4:
        return True
    if p % 2 == 0:
        return False
    f = 3
    while f * f <= p:
        if p % f == 0:
            return False
        f += 2
    return True


def _prime_factors(n: int) -> list[int]:
    out, f = [], 2
    while f * f <= n:
        if n % f == 0:
            out.append(f)
            while n % f == 0:
                n //= f
        f += 1
    if n > 1:
        out.append(n)
    return out


def primitive_root(p: int) -> int:
    """The smallest primitive root g of the prime ``p`` (a generator of Z_p^×).

    g generates Z_p^× iff g^((p−1)/q) ≢ 1 (mod p) for every prime q dividing p − 1.

    Examples
    --------
    >>> primitive_root(7), primitive_root(113)
    (3, 3)
    """
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not is_prime(int(p)):
        raise ValueError(f"primitive_root needs a prime p, got {p!r}")
    p = int(p)
    if p == 2:
        return 1
    qs = _prime_factors(p - 1)
    for g in range(2, p):
        if all(pow(g, (p - 1) // q, p) != 1 for q in qs):
            return g
    raise AssertionError(f"no primitive root found for prime {p}")  # pragma: no cover


def discrete_log_table(p: int, g: int | None = None) -> np.ndarray:
    """``log[a] = k`` with g^k ≡ a (mod p) for a = 1..p−1; ``log[0] = −1`` (undefined).

    Parameters
    ----------
    p : int
        A prime.
    g : int, optional
        A primitive root of p (default :func:`primitive_root`).

    Returns
    -------
    np.ndarray
        (p,) int64.
    """
    g = primitive_root(p) if g is None else int(g)
    table = np.full(p, -1, dtype=np.int64)
    a = 1
    for k in range(p - 1):
        if table[a] != -1:
            raise ValueError(f"{g} is not a primitive root of {p}: g^{k} repeats {a}")
        table[a] = k
        a = a * g % p
    return table


def group_order(p: int, op: str) -> int:
    """Length L of the Fourier basis: P for add/sub, P − 1 for mul."""
    return p - 1 if check_choice("op", op, OPS) == "mul" else p


def to_group_basis(x: Any, p: int, op: str) -> np.ndarray:
    """Re-index the last axis (residues 0..P−1) into the task's group.

    For add/sub this is the identity. For mul the result has length P − 1 with
    ``y[..., k] = x[..., g^k mod P]``: residue 0 (not in the group) is dropped.
    """
    x = _as_array(x)
    if x.shape[-1] != p:
        raise ValueError(f"expected a last axis of length P={p}, got shape {x.shape}")
    if check_choice("op", op, OPS) != "mul":
        return x
    g = primitive_root(p)
    powers = np.array([pow(g, k, p) for k in range(p - 1)], dtype=np.int64)  # (P-1,)
    return x[..., powers]


def from_group_basis(y: Any, p: int, op: str, fill: Any = None) -> np.ndarray:
    """Inverse of :func:`to_group_basis`; for mul residue 0 takes ``fill`` (default 0)."""
    y = _as_array(y)
    if check_choice("op", op, OPS) != "mul":
        return y
    if y.shape[-1] != p - 1:
        raise ValueError(f"expected a last axis of length P-1={p - 1}, got shape {y.shape}")
    g = primitive_root(p)
    powers = np.array([pow(g, k, p) for k in range(p - 1)], dtype=np.int64)
    x = np.zeros((*y.shape[:-1], p))
    if fill is not None:
        x[..., 0] = _as_array(fill)
    x[..., powers] = y
    return x


def power_spectrum(x: Any) -> np.ndarray:
    """|x̂_ω|² for ω = 0..⌊L/2⌋ of each row: (..., L) → (..., L//2 + 1)."""
    return np.abs(np.fft.rfft(_as_array(x), axis=-1)) ** 2


def neuron_spectra(u: Any, v: Any, w: Any) -> np.ndarray:
    """Per-neuron spectrum |û_ω|² + |v̂_ω|² + |ŵ_ω|²: three (N, L) → (N, L//2 + 1)."""
    return power_spectrum(u) + power_spectrum(v) + power_spectrum(w)


def dominant_frequency(u: Any, v: Any, w: Any) -> np.ndarray:
    """ω*_m = argmax_{ω ≥ 1} |û_ω|² + |v̂_ω|² + |ŵ_ω|² per neuron: (N,) int64.

    The DC term ω = 0 is excluded (a constant carries no residue information).
    """
    spec = neuron_spectra(u, v, w)  # (N, F)
    if spec.shape[-1] < 2:
        raise ValueError(f"need L >= 2 residues for a non-zero frequency, got {spec.shape}")
    return (np.argmax(spec[..., 1:], axis=-1) + 1).astype(np.int64)


def ipr(x: Any, r: int = 2, drop_dc: bool = True) -> np.ndarray:
    """Inverse participation ratio of the Fourier magnitudes of each row.

    IPR_r(ν) = Σ_k (|ν_k| / ‖ν‖₂)^{2r} with ν = rfft(x) (Doshi et al. 2024, eq. for the
    periodicity score; r = 2 here). It is 1 for a single frequency and about 2/F for white
    noise over F frequencies (|ν_k|² is then exponentially distributed, E[X²] = 2E[X]²).

    Parameters
    ----------
    x : array (..., L)
        Rows to score.
    r : int
        Order (r = 2 throughout the reference).
    drop_dc : bool
        Exclude ω = 0 (default). The reference states "IPR of a pure cosine is 1 (up to the
        DC term)"; we drop it so that a cosine with an offset still scores 1. Rows whose
        non-DC spectrum is all zero score 0.

    Returns
    -------
    np.ndarray
        (...,) in (0, 1].
    """
    if r < 1:
        raise ValueError(f"IPR order r must be >= 1, got {r!r}")
    mag = np.abs(np.fft.rfft(_as_array(x), axis=-1))  # (..., F)
    if drop_dc:
        mag = mag[..., 1:]
    norm = np.sqrt((mag**2).sum(-1, keepdims=True))
    safe = np.where(norm > 0, norm, 1.0)
    out = ((mag / safe) ** (2 * r)).sum(-1)
    return np.where(norm[..., 0] > 0, out, 0.0)


def neuron_ipr(u: Any, v: Any, w: Any, r: int = 2, drop_dc: bool = True) -> np.ndarray:
    """Mean of the IPRs of u_m, v_m and w_m: three (N, L) → (N,) (the reference's average).

    ``drop_dc`` is passed to :func:`ipr`: ``True`` (default) excludes ω = 0, ``False`` keeps
    the DC term in both the sum and the norm as Doshi et al. (2024) compute it.
    """
    return (ipr(u, r, drop_dc) + ipr(v, r, drop_dc) + ipr(w, r, drop_dc)) / 3.0


def strength(u: Any, v: Any, w: Any, activation: str = "relu") -> np.ndarray:
    """Task-agnostic neuron strength ‖w_m‖_∞ · φ(‖u_m‖_∞ + ‖v_m‖_∞): (N,).

    The largest contribution neuron m can make to a logit: its largest pre-activation is at
    most ‖u_m‖_∞ + ‖v_m‖_∞, which φ maps to its largest activation (φ is increasing on
    [0, ∞) for relu, square and gelu), times its largest output weight.
    """
    un, vn, wn = (np.abs(_as_array(t)).max(-1) for t in (u, v, w))
    return wn * activation_np(activation, un + vn)


def activation_np(name: str, x: Any) -> np.ndarray:
    """The activation ``name`` applied to a numpy array (relu, square, gelu, reverse_relu, abs).

    gelu is the exact x·Φ(x); reverse_relu is relu(−x) (see
    :data:`noisylab.modular.model.ACTIVATIONS`).
    """
    x = _as_array(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "square":
        return x**2
    if name == "gelu":
        from scipy.special import erf

        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if name == "reverse_relu":
        return np.maximum(-x, 0.0)
    if name == "abs":
        return np.abs(x)
    raise ValueError(
        f"unknown activation {name!r}; expected relu, square, gelu, reverse_relu or abs"
    )


def phases(x: Any, freq: Any) -> np.ndarray:
    """Phase φ of each row at its frequency: angle(x̂_{ω_m}) for (N, L) rows, ω (N,) → (N,).

    For x_i = λ cos(2πωi/L + φ) the result is φ (wrapped to (−π, π]).
    """
    spec = np.fft.rfft(_as_array(x), axis=-1)  # (N, F)
    freq = np.asarray(freq, dtype=np.int64)
    return np.angle(np.take_along_axis(spec, freq[..., None], axis=-1)[..., 0])


def wrap_angle(a: Any) -> np.ndarray:
    """Wrap angles to (−π, π]."""
    a = np.asarray(a, dtype=np.float64)
    return np.pi - np.mod(np.pi - a, 2 * np.pi)


def phase_residual(u: Any, v: Any, w: Any, freq: Any = None, op: str = "add") -> np.ndarray:
    """Per-neuron phase residual of the cosine algorithm, wrapped to (−π, π]: (N,).

    The analytic solution (Gromov 2023; Doshi et al. 2024) has
    u_i = cos(2πωi/L + φ_a), v_j = cos(2πωj/L + φ_b), w_k = cos(2πωk/L + φ_c) with
    φ_c = φ_a + φ_b for a + b (and for a·b in log-indices), φ_c = φ_a − φ_b for a − b.
    The residual is φ_a ± φ_b − φ_c; it is 0 for a neuron that implements the algorithm.

    Parameters
    ----------
    u, v, w : arrays (N, L)
        Neuron vectors in the group basis.
    freq : array (N,), optional
        Frequency per neuron (default :func:`dominant_frequency`).
    op : {'add', 'sub', 'mul'}
    """
    check_choice("op", op, OPS)
    if freq is None:
        freq = dominant_frequency(u, v, w)
    pa, pb, pc = phases(u, freq), phases(v, freq), phases(w, freq)
    sign = -1.0 if op == "sub" else 1.0
    return wrap_angle(pa + sign * pb - pc)


def keep_frequency(x: Any, freq: Any) -> np.ndarray:
    """The component of each row at its one frequency ω_m: (N, L), (N,) → (N, L).

    x^G = irfft(x̂ · 1[ω = ω_m]), i.e. (2/L)·Re(x̂_ω e^{2πiω·idx/L}) for 0 < ω < L/2 and
    (1/L)·x̂_ω·(−1)^idx at the Nyquist frequency ω = L/2. The residual x − x^G is exact.
    """
    x = _as_array(x)
    n = x.shape[-1]
    spec = np.fft.rfft(x, axis=-1)  # (N, F)
    freq = np.asarray(freq, dtype=np.int64)
    mask = np.arange(spec.shape[-1]) == freq[..., None]  # (N, F)
    return np.fft.irfft(spec * mask, n=n, axis=-1)


def frequency_histogram(freq: Any, num_freqs: int, weights: Any = None) -> np.ndarray:
    """How many neurons (or how much weight) sit at each frequency 0..num_freqs−1: (F,)."""
    freq = np.asarray(freq, dtype=np.int64).ravel()
    w = None if weights is None else _as_array(weights).ravel()
    return np.bincount(freq, weights=w, minlength=num_freqs).astype(np.float64)


__all__ = [
    "OPS",
    "activation_np",
    "discrete_log_table",
    "dominant_frequency",
    "frequency_histogram",
    "from_group_basis",
    "group_order",
    "ipr",
    "is_prime",
    "keep_frequency",
    "neuron_ipr",
    "neuron_spectra",
    "phase_residual",
    "phases",
    "power_spectrum",
    "primitive_root",
    "strength",
    "to_group_basis",
    "wrap_angle",
]
