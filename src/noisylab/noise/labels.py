"""Class-label noise: corrupt clean labels with a transition matrix or instance-dependently.

Selection of the samples to flip always reads the *clean* labels: flipping in place and
selecting the next class on the partly flipped array (a cat→dog flip followed by dog→cat
re-selecting the new "dogs") under-shoots the nominal rate, a known bug of a popular
reference implementation (see the "Label-noise conventions" of the robust-loss reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from noisylab.checks import check_int, check_registered
from noisylab.noise.transition import (
    NOISE_KINDS,
    check_rate,
    pair_map,
    transition_matrix,
)

# Guards ⌊η·n⌋ against binary round-off (0.29·100 = 28.999999999999996 in floating point).
_FLOOR_EPS = 1e-9


@dataclass(frozen=True)
class LabelNoise:
    """Noisy labels and what produced them.

    Attributes
    ----------
    labels : np.ndarray (n,) int64
        The noisy labels ỹ.
    is_noisy : np.ndarray (n,) bool
        ỹ ≠ y per sample.
    realized_rate : float
        Mean of ``is_noisy``: the realised noise rate (report it, not the nominal one).
    transition : np.ndarray (K, K)
        The transition matrix the noise was drawn from (for ``instance`` noise, the
        per-class average of the per-sample rows).
    kind : str
    rate : float
        The nominal rate η.
    """

    labels: np.ndarray  # (n,)
    is_noisy: np.ndarray  # (n,)
    realized_rate: float
    transition: np.ndarray  # (K, K)
    kind: str
    rate: float


@dataclass(frozen=True)
class MemberNoise:
    """Independent noise realisations for an ensemble of M members (one seed each)."""

    labels: np.ndarray  # (M, n)
    is_noisy: np.ndarray  # (M, n)
    realized_rate: np.ndarray  # (M,)
    transition: np.ndarray  # (K, K)
    kind: str
    rate: float


def as_rng(seed: int | np.integer | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an int seed (or the Generator itself)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def check_labels(labels: object, num_classes: int) -> np.ndarray:
    """Return ``labels`` as a 1-D int64 array, checking every value lies in [0, K).

    Raises ``ValueError`` naming the first bad value and its index.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            bad = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
            raise ValueError(f"labels must be integers; got {y[bad]!r} at index {bad}")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    out = (y < 0) | (y >= num_classes)
    if np.any(out):
        i = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"labels must be in [0, {num_classes}); got {int(y[i])} at index {i} "
            f"({int(out.sum())} label(s) out of range)"
        )
    return y


def exact_count(fraction: float, n: int) -> int:
    """⌊fraction·n⌋, robust to binary round-off of the product."""
    return int(np.floor(fraction * n + _FLOOR_EPS))


def _flip_fractions(kind: str, num_classes: int, rate: float, t: np.ndarray) -> np.ndarray:
    """Per-class fraction of samples to relabel for ``exact=True`` (shape (K,))."""
    k = num_classes
    if kind == "symmetric":
        return np.full(k, rate)
    if kind == "uniform":
        return np.full(k, rate * (k - 1) / k)
    if kind.startswith("pair:"):
        f = np.zeros(k)
        for s in pair_map(kind, k):
            f[s] = rate
        return f
    if kind == "none":
        return np.zeros(k)
    return np.clip(1.0 - np.diag(t), 0.0, 1.0)  # matrix


def _corrupt_exact(y: np.ndarray, t: np.ndarray, fractions: np.ndarray, rng) -> np.ndarray:
    """Per class c: relabel exactly ⌊f_c·n_c⌋ clean samples, targets ∝ T[c, j≠c]."""
    k = t.shape[0]
    noisy = y.copy()
    for c in range(k):
        idx = np.flatnonzero(y == c)  # selection on the clean labels
        m = exact_count(float(fractions[c]), idx.size)
        if m == 0:
            continue
        chosen = rng.permutation(idx)[:m]
        off = t[c].copy()
        off[c] = 0.0
        total = off.sum()
        if total <= 0:
            raise ValueError(f"row {c} of the transition matrix has no off-diagonal mass")
        noisy[chosen] = rng.choice(k, size=m, p=off / total)
    return noisy


def cell_counts(t: np.ndarray, class_sizes: np.ndarray) -> np.ndarray:
    """Target count matrix C[i, j] of ``exact="cells"``: T[i, j]·n_i rounded, rows summing to n_i.

    Largest-remainder (Hamilton) rounding per row: every cell gets ⌊T[i, j]·n_i⌋, then the
    ``n_i − Σ_j ⌊T[i, j]·n_i⌋`` leftover samples go one each to the cells with the largest
    fractional parts. Ties are broken in cyclic order starting at the diagonal
    (j = i, i + 1, …, i − 1 mod K), so no class is favoured as a destination. Each cell is
    therefore ⌊T[i, j]·n_i⌋ or ⌈T[i, j]·n_i⌉, and exactly the rounding of T[i, j]·n_i when
    the row's fractional parts are balanced. The rows of ``t`` must sum to 1.

    Examples
    --------
    >>> cell_counts(np.array([[0.6, 0.2, 0.2], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]]),
    ...             np.array([7, 3, 5])).tolist()
    [[4, 2, 1], [0, 3, 0], [2, 1, 2]]
    """
    t = np.asarray(t, dtype=np.float64)
    sizes = np.asarray(class_sizes, dtype=np.int64)
    k = t.shape[0]
    out = np.zeros((k, k), dtype=np.int64)
    for i in range(k):
        target = t[i] * sizes[i]
        base = np.floor(target + _FLOOR_EPS).astype(np.int64)
        frac = np.round(np.where(base > target, 0.0, target - base), 9)  # ties despite round-off
        left = int(sizes[i] - base.sum())
        order = (i + np.arange(k)) % k  # tie-break: diagonal first, then cyclically
        ranked = order[np.argsort(-frac[order], kind="stable")]
        base[ranked[:left]] += 1
        out[i] = base
    return out


def _corrupt_cells(y: np.ndarray, t: np.ndarray, rng) -> np.ndarray:
    """Per class c: a random permutation of its samples is cut into ``cell_counts`` blocks."""
    k = t.shape[0]
    counts = cell_counts(t, np.bincount(y, minlength=k))
    noisy = y.copy()
    for c in range(k):
        idx = rng.permutation(np.flatnonzero(y == c))  # selection on the clean labels
        noisy[idx] = np.repeat(np.arange(k), counts[c])
    return noisy


def _corrupt_sampled(y: np.ndarray, t: np.ndarray, rng) -> np.ndarray:
    """Each label drawn independently from row y of T."""
    k = t.shape[0]
    noisy = y.copy()
    for c in range(k):
        idx = np.flatnonzero(y == c)
        if idx.size:
            noisy[idx] = rng.choice(k, size=idx.size, p=t[c] / t[c].sum())
    return noisy


def _truncated_normal(mean: float, sd: float, size: int, rng) -> np.ndarray:
    """Samples of N(mean, sd²) truncated to [0, 1], by rejection."""
    out = rng.normal(mean, sd, size)
    bad = (out < 0) | (out > 1)
    while np.any(bad):
        out[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = (out < 0) | (out > 1)
    return out


def _corrupt_instance(
    y: np.ndarray, features: object, k: int, rate: float, exact: bool, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Instance-dependent noise of Xia et al. 2020 (NeurIPS, "Part-dependent label noise",
    Alg. 2 of the appendix): per sample a flip rate q_i ~ N(η, 0.1²) truncated to [0, 1],
    a random projection W_y ~ N(0, 1)^{d×K} per clean class, and
    p_i = q_i · softmax(x_iᵀ W_{y_i} with the y_i entry masked), p_i[y_i] = 1 − q_i.

    Choice where the source is silent: inputs are flattened and L2-normalised per sample so
    that the logits have unit scale whatever d is. ``exact=False`` samples ỹ_i ~ p_i as in the
    paper; ``exact=True`` relabels exactly ⌊η·n_c⌋ samples of each class c, chosen without
    replacement with probability ∝ q_i (Efraimidis–Spirakis keys u^{1/q}), each to a class
    drawn from the masked softmax. Returns the noisy labels and the class-averaged T.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"features must have one row per label ({y.shape[0]}), got shape {x.shape}"
        )
    x = x.reshape(x.shape[0], -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain non-finite values")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    d = x.shape[1]
    n = y.shape[0]
    noisy = y.copy()
    t = np.eye(k)
    if rate == 0.0:
        return noisy, t
    q = _truncated_normal(rate, 0.1, n, rng)  # (n,)
    for c in range(k):
        w = rng.standard_normal((d, k))  # (d, K)
        idx = np.flatnonzero(y == c)
        if idx.size == 0:
            continue
        logits = x[idx] @ w  # (n_c, K)
        logits[:, c] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)  # (n_c, K), zero on column c
        if exact:
            m = exact_count(rate, idx.size)
            keys = rng.random(idx.size) ** (1.0 / np.maximum(q[idx], 1e-12))
            pick = np.argsort(-keys, kind="stable")[:m]
            cum = soft[pick].cumsum(axis=1)
            u = rng.random(m)[:, None]
            noisy[idx[pick]] = np.minimum((u > cum).sum(axis=1), k - 1)
            t[c] = (m / idx.size) * soft.mean(axis=0)
            t[c, c] = 1.0 - m / idx.size
        else:
            p = q[idx, None] * soft
            p[:, c] = 1.0 - q[idx]
            cum = p.cumsum(axis=1)
            u = rng.random(idx.size)[:, None] * cum[:, -1:]
            noisy[idx] = np.minimum((u > cum).sum(axis=1), k - 1)
            t[c] = p.mean(axis=0)
    return noisy, t


def _check_exact(exact: object) -> str:
    """``exact`` → "counts" (True), "sampled" (False) or "cells"."""
    if isinstance(exact, bool | np.bool_):
        return "counts" if exact else "sampled"
    if exact in ("counts", "cells"):
        return str(exact)
    raise ValueError(f"exact must be True, False, 'counts' or 'cells', got {exact!r}")


def corrupt_labels(
    labels: Sequence[int] | np.ndarray,
    num_classes: int,
    kind: str,
    rate: float,
    seed: int | np.random.Generator = 0,
    exact: bool | str = True,
    matrix: np.ndarray | None = None,
    features: np.ndarray | None = None,
) -> LabelNoise:
    """Corrupt clean class labels with label noise of a given kind and rate.

    Parameters
    ----------
    labels : array (n,) of int
        Clean labels in [0, K).
    num_classes : int
        K.
    kind : str
        A key of :data:`NOISE_KINDS`: ``none``, ``symmetric``, ``uniform``, ``pair:mnist``,
        ``pair:cifar10``, ``pair:cifar100``, ``pair:next``, ``matrix`` or ``instance``.
    rate : float
        Nominal rate η ∈ [0, 1) (symmetric: η < (K − 1)/K); unused for ``matrix``/``none``.
    seed : int or numpy Generator
        The same seed gives the same labels.
    exact : bool
        True: for each clean class c exactly ⌊f_c·n_c⌋ samples are relabelled, where f_c is
        η for symmetric and for the source classes of pair noise, η(K − 1)/K for uniform and
        1 − T[c, c] for a user matrix; each goes to a class j ≠ c drawn with probability
        ∝ T[c, j] (uniformly among the other classes for symmetric noise). False: each label
        is drawn independently from row y of T, ỹ ~ Categorical(T[y]). ``"cells"``: every
        cell of the count matrix is fixed, #{y = i, ỹ = j} = C[i, j] with C from
        :func:`cell_counts` (T[i, j]·n_i rounded so that each row sums to n_i), the samples
        of each cell chosen at random; cleanlab's convention. ``"counts"`` is the same as
        True. Not available for ``instance`` noise.
    matrix : array (K, K), optional
        Transition matrix for ``kind="matrix"``.
    features : array (n, ...), optional
        Inputs for ``kind="instance"`` (Xia et al. 2020).

    Returns
    -------
    LabelNoise
        ``.labels`` (n,) int64, ``.is_noisy`` (n,) bool, ``.realized_rate``, ``.transition``.

    Notes
    -----
    Samples to flip are always selected on the clean labels, so a cat↔dog swap flips exactly
    ⌊η·n_cat⌋ cats and ⌊η·n_dog⌋ dogs (the exact-count convention of Ma et al. 2020 and
    Zhou et al. 2021; the sampled one is Patrini et al. 2017's ỹ ~ T[y]).

    Examples
    --------
    >>> r = corrupt_labels([0] * 10 + [1] * 10, 2, "pair:next", 0.3, seed=0)
    >>> r.realized_rate
    0.3
    """
    kind = check_registered("noise kind", kind, NOISE_KINDS)
    k = check_int("num_classes", num_classes, minimum=2)
    y = check_labels(labels, k)
    mode = _check_exact(exact)
    rng = as_rng(seed)
    if kind == "instance":
        if mode == "cells":
            raise ValueError("exact='cells' needs a transition matrix; kind 'instance' has none")
        r = check_rate(kind, k, rate)
        if features is None:
            raise ValueError("kind 'instance' needs features=X with one row per label")
        noisy, t = _corrupt_instance(y, features, k, r, mode == "counts", rng)
    else:
        r = 0.0 if kind in ("matrix", "none") else check_rate(kind, k, rate)
        t = transition_matrix(kind, k, r, matrix=matrix)
        if kind == "none":
            noisy = y.copy()
        elif mode == "cells":
            noisy = _corrupt_cells(y, t, rng)
        elif mode == "counts":
            noisy = _corrupt_exact(y, t, _flip_fractions(kind, k, r, t), rng)
        else:
            noisy = _corrupt_sampled(y, t, rng)
    is_noisy = noisy != y
    realized = float(is_noisy.mean()) if y.size else 0.0
    return LabelNoise(
        labels=noisy, is_noisy=is_noisy, realized_rate=realized, transition=t, kind=kind, rate=r
    )


def corrupt_members(
    labels: Sequence[int] | np.ndarray,
    num_classes: int,
    kind: str,
    rate: float,
    seeds: Sequence[int],
    exact: bool | str = True,
    matrix: np.ndarray | None = None,
    features: np.ndarray | None = None,
) -> MemberNoise:
    """One independent :func:`corrupt_labels` realisation per seed, stacked on a member axis.

    Member i equals ``corrupt_labels(..., seed=seeds[i])``. Returns ``.labels`` (M, n),
    ``.is_noisy`` (M, n) and ``.realized_rate`` (M,), as the training engine expects.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    runs = [
        corrupt_labels(labels, num_classes, kind, rate, s, exact, matrix, features) for s in seeds
    ]
    return MemberNoise(
        labels=np.stack([r.labels for r in runs]),
        is_noisy=np.stack([r.is_noisy for r in runs]),
        realized_rate=np.array([r.realized_rate for r in runs]),
        transition=runs[0].transition,
        kind=runs[0].kind,
        rate=runs[0].rate,
    )


def empirical_transition(
    clean: Sequence[int] | np.ndarray, noisy: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """Row-normalised confusion counts: T̂[i, j] = #{y = i, ỹ = j} / #{y = i}.

    Rows of classes absent from ``clean`` are all zero.

    Examples
    --------
    >>> empirical_transition([0, 0, 1, 1], [0, 1, 1, 1], 2).tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """
    k = check_int("num_classes", num_classes, minimum=2)
    y = check_labels(clean, k)
    z = check_labels(noisy, k)
    if y.shape != z.shape:
        raise ValueError(f"clean and noisy labels differ in length: {y.size} vs {z.size}")
    counts = np.bincount(y * k + z, minlength=k * k).reshape(k, k).astype(np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
