"""All-pairs comparison of an ensemble's representations in batched operations.

``pairwise(reps, metric)`` takes ``reps (M, n, p)`` — M members' representations of the same
n probe inputs — and returns the M × M matrix plus the mean over off-diagonal pairs. Each
built-in metric is computed for all pairs at once (GEMMs over the stacked members, batched
SVDs over pairs); no metric function is called M² times. Loops that remain run over member
chunks to bound memory; linear CKA runs one p × p product per pair (M(M+1)/2 GEMMs, each
member centred once, its partners centred on the product), so it never holds more than one
centred member: no more memory than the loop over pairs and about half its multiply-adds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from . import neighbours as _nb
from ._validate import ArrayLike, as_stack
from .cca import cca, orthonormal_basis, pwcca, rank_of, svcca
from .cka import (
    _use_gram,
    centre_features,
    centre_gram,
    constant_columns,
    gram_of_columns,
    linear_cka,
    rbf_cka,
    rbf_gram,
    squared_distances,
)

#: memory budget (bytes) of one batched block; bounds the p²·M or pair-batch intermediates.
BLOCK_BYTES = 64 * 2**20


class PairwiseResult(NamedTuple):
    """An M × M comparison: ``matrix[i, j]`` = metric(member i, member j) and its mean.

    ``mean`` averages the pairs i < j for symmetric metrics and all i ≠ j for asymmetric
    ones (``pwcca``, ``information_imbalance``); ``kind`` is "similarity" or "distance".
    """

    matrix: np.ndarray  # (M, M)
    mean: float
    kind: str


@dataclass(frozen=True)
class MetricInfo:
    """A named metric: its two-input function, whether it is a similarity or a distance."""

    fn: Callable[..., float]
    kind: str
    symmetric: bool
    doc: str


METRICS: dict[str, MetricInfo] = {
    "linear_cka": MetricInfo(linear_cka, "similarity", True, "linear CKA (Kornblith 2019)"),
    "debiased_cka": MetricInfo(
        lambda x, y: linear_cka(x, y, debiased=True),
        "similarity",
        True,
        "linear CKA with unbiased HSIC (Song 2012)",
    ),
    "rbf_cka": MetricInfo(rbf_cka, "similarity", True, "RBF-kernel CKA"),
    "cca": MetricInfo(cca, "similarity", True, "mean squared canonical correlation"),
    "svcca": MetricInfo(svcca, "similarity", True, "SVCCA mean correlation (Raghu 2017)"),
    "pwcca": MetricInfo(pwcca, "similarity", False, "projection-weighted CCA (Morcos 2018)"),
    "procrustes": MetricInfo(
        _nb.procrustes_distance, "distance", True, "orthogonal Procrustes distance"
    ),
    "mutual_knn": MetricInfo(_nb.mutual_knn, "similarity", True, "mutual k-NN (Huh 2024)"),
    "information_imbalance": MetricInfo(
        _nb.information_imbalance, "distance", False, "Information Imbalance (Glielmo 2022)"
    ),
}


def pairwise(
    reps: ArrayLike, metric: str | Callable[..., float] = "linear_cka", **kwargs: Any
) -> PairwiseResult:
    """Compare every pair of ensemble members' representations.

    Parameters
    ----------
    reps : array (M, n, p) or list of M arrays (n, p)
        Member m's representation of the n shared probe inputs is ``reps[m]``.
    metric : str or callable
        A name in :data:`METRICS` (computed batched over all pairs), or a function
        ``f(X, Y) -> float`` (computed by a loop over pairs, the slow generic path; assumed
        symmetric and a similarity unless ``kind=``/``symmetric=`` are passed).
    **kwargs
        Passed to the metric (e.g. ``k=10`` for mutual_knn, ``threshold=`` for rbf_cka,
        ``debiased=True`` for linear_cka).

    Returns
    -------
    PairwiseResult
        ``matrix (M, M)`` as float64 numpy, ``mean`` over off-diagonal pairs, ``kind``.

    Examples
    --------
    >>> import numpy as np
    >>> reps = np.random.default_rng(0).standard_normal((4, 50, 8))
    >>> res = pairwise(reps, "linear_cka")
    >>> res.matrix.shape, bool(np.allclose(np.diag(res.matrix), 1.0))
    ((4, 4), True)
    """
    if callable(metric):
        kind = kwargs.pop("kind", "similarity")
        symmetric = kwargs.pop("symmetric", True)
        R = as_stack(reps)
        user_fn: Callable[..., float] = metric
        mat = _loop(R, lambda x, y: user_fn(x, y, **kwargs), symmetric)
        return PairwiseResult(mat, _offdiag_mean(mat, symmetric), kind)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    info = METRICS[metric]
    if metric == "linear_cka" and kwargs.pop("debiased", False):
        metric = "debiased_cka"
    debiased = metric == "debiased_cka" or bool(kwargs.get("debiased", False))
    keep = metric in ("linear_cka", "debiased_cka")  # upcast member by member, not the stack
    R = as_stack(
        reps,
        min_n=4 if debiased else 3 if metric == "information_imbalance" else 2,
        dtype=None if keep else torch.float64,
    )
    fn = _BATCHED[metric]
    mat = fn(R, **kwargs).cpu().numpy()
    return PairwiseResult(mat, _offdiag_mean(mat, info.symmetric), info.kind)


def _offdiag_mean(mat: np.ndarray, symmetric: bool) -> float:
    M = mat.shape[0]
    if M < 2:
        return math.nan
    if symmetric:
        return float(mat[np.triu_indices(M, 1)].mean())
    return float(mat[~np.eye(M, dtype=bool)].mean())


def _loop(R: torch.Tensor, f: Callable[[Any, Any], float], symmetric: bool) -> np.ndarray:
    M = R.shape[0]
    mat = np.zeros((M, M))
    for i in range(M):
        for j in range(M):
            if symmetric and j < i:
                mat[i, j] = mat[j, i]
            else:
                mat[i, j] = f(R[i], R[j])
    return mat


def _ratio(S: torch.Tensor) -> torch.Tensor:
    """S[i,j]/√(S[i,i] S[j,j]) with 0 where the normaliser is not positive."""
    d = torch.diagonal(S)
    den = d[:, None] * d[None, :]
    ok = den > 0
    return torch.where(ok, S / den.clamp_min(1e-300).sqrt(), torch.zeros_like(S))


def cross_frobenius(Z: torch.Tensor) -> torch.Tensor:
    """‖Z_iᵀ Z_j‖²_F for all member pairs, ``(M, n, p) → (M, M)``.

    Stacks members side by side, Z̄ = [Z₁ … Z_M] (n, M·p), and forms Z̄ᵀZ̄ — every p × p
    cross-covariance block — in GEMMs over row blocks of ≤ BLOCK_BYTES, keeping only the
    upper triangle of member blocks. Time O(n M² p²), memory O(M p² · chunk).
    """
    M, n, p = Z.shape
    flat = Z.permute(1, 0, 2).reshape(n, M * p)  # (n, M·p)
    out = torch.zeros(M, M, dtype=Z.dtype, device=Z.device)
    chunk = max(1, BLOCK_BYTES // max(1, M * p * p * 8))
    for a in range(0, M, chunk):
        b = min(M, a + chunk)
        G = flat[:, a * p : b * p].T @ flat[:, a * p :]  # (c·p, (M−a)·p)
        blk = G.square_().reshape(b - a, p, M - a, p).sum((1, 3))  # (c, M−a), in place
        out[a:b, a:] = blk
    iu = torch.triu_indices(M, M, 1, device=Z.device)
    out[iu[1], iu[0]] = out[iu[0], iu[1]]
    return out


def _gram_inner(K: torch.Tensor, L: torch.Tensor | None = None) -> torch.Tensor:
    """⟨K_i, L_j⟩_F for stacks of n × n matrices, ``(M, n, n) → (M, M)``, one GEMM."""
    Kf = K.reshape(K.shape[0], -1)
    Lf = Kf if L is None else L.reshape(L.shape[0], -1)
    return Kf @ Lf.T


def centred_cross_frobenius(
    R: torch.Tensor, debiased: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """‖Z_iᵀ Z_j‖²_F for all member pairs of the column-centred stack Z, never building Z.

    ``R (M, n, p)`` may be any float dtype; everything is computed in float64. One member
    at a time is centred into an ``(n, p)`` float64 buffer A = Z_i (exactly constant
    columns zeroed, as :func:`centre_features`); its partners j > i stay uncentred and
    the centring is applied to the small product instead:
    Z_iᵀ Z_j = (Z_iᵀ R_j − (Z_iᵀ1) μ_jᵀ) D_j, with μ_j the column means of R_j and D_j
    zeroing R_j's constant columns (exact algebra; Z_iᵀ1 is 0 up to rounding, so no
    cancellation). The diagonal Z_iᵀZ_i is one symmetric product (syrk on the CPU). Members
    run from last to first so D_j is known when it is needed. Extra memory: one member in
    float64 plus p × p products — no more than the loop over pairs; time O(M² n p²)/2.

    Returns the (M, M) matrix and, if ``debiased``, the squared row norms r_i = diag(Z_iZ_iᵀ)
    as ``(M, n)`` (else None).
    """
    M, n, p = R.shape
    f64 = torch.float64
    S = torch.zeros(M, M, dtype=f64, device=R.device)
    means = R.mean(1, dtype=f64)  # (M, p)
    const = torch.zeros(M, p, dtype=torch.bool, device=R.device)
    rows = torch.zeros(M, n, dtype=f64, device=R.device) if debiased else None
    A = torch.empty(n, p, dtype=f64, device=R.device)
    for i in range(M - 1, -1, -1):
        torch.sub(R[i], means[i], out=A)
        G = gram_of_columns(A)  # (p, p)
        const[i] = constant_columns(R[i], means[i], torch.diagonal(G))
        if bool(const[i].any()):
            A.masked_fill_(const[i], 0.0)
            G[const[i]] = 0.0
            G[:, const[i]] = 0.0
        S[i, i] = G.square_().sum()
        if rows is not None:
            rows[i] = torch.linalg.vector_norm(A, dim=1).square()
        col_sums = A.sum(0)  # Z_iᵀ1, zero up to rounding
        for j in range(i + 1, M):
            G = A.T @ R[j].to(f64)
            G -= torch.outer(col_sums, means[j])
            G.masked_fill_(const[j], 0.0)
            S[i, j] = S[j, i] = G.square_().sum()
    return S, rows


def _batched_linear_cka(
    R: torch.Tensor, debiased: bool = False, form: str = "auto"
) -> torch.Tensor:
    _, n, p = R.shape
    if _use_gram(n, p, p, form):  # type: ignore[arg-type]
        Z = centre_features(R.to(torch.float64))  # (M, n, p)
        S = _gram_inner(Z @ Z.transpose(1, 2))  # (M, M)
        r = Z.square().sum(-1)  # (M, n)
    else:
        S, rows = centred_cross_frobenius(R, debiased)
        r = rows if rows is not None else S  # r is unused when not debiased
    if debiased:
        tot = r.sum(-1)  # (M,)
        S = S - n / (n - 2) * (r @ r.T) + tot[:, None] * tot[None, :] / ((n - 1) * (n - 2))
    return _ratio(S)


def _batched_debiased_cka(R: torch.Tensor, form: str = "auto") -> torch.Tensor:
    return _batched_linear_cka(R, debiased=True, form=form)


def _batched_rbf_cka(R: torch.Tensor, threshold: float = 1.0, debiased: bool = False):
    M, n, _ = R.shape
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    d2 = squared_distances(R)  # (M, n, n)
    v = d2.reshape(M, -1)
    k = v.shape[1]
    med = (
        torch.kthvalue(v, (k + 1) // 2, dim=1).values + torch.kthvalue(v, k // 2 + 1, dim=1).values
    ) / 2  # (M,)
    K = torch.exp(-d2 / (2.0 * threshold**2 * med.clamp_min(1e-300)[:, None, None]))
    for m in torch.nonzero(~(med > 0)).flatten().tolist():  # degenerate members: exact path
        K[m] = rbf_gram(R[m], threshold)
    if not debiased:
        return _ratio(_gram_inner(centre_gram(K)))
    eye = torch.eye(n, dtype=torch.bool, device=R.device)
    Kt = K.masked_fill(eye, 0.0)
    k1 = Kt.sum(-1)  # (M, n)
    tot = k1.sum(-1)  # (M,)
    S = (
        _gram_inner(Kt)
        + tot[:, None] * tot[None, :] / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (k1 @ k1.T)
    )
    return _ratio(S)


def _bases(R: torch.Tensor, center: bool = True):
    Z = centre_features(R) if center else R
    U, S, Vh = orthonormal_basis(Z)  # (M, n, r), (M, r), (M, r, p)
    return Z, U, S, Vh


def _batched_cca(R: torch.Tensor, center: bool = True) -> torch.Tensor:
    _, U, S, _ = _bases(R, center)
    rank = rank_of(S).to(R.dtype)  # (M,)
    kmin = torch.minimum(rank[:, None], rank[None, :])
    F = cross_frobenius(U)
    return torch.where(kmin > 0, (F / kmin.clamp_min(1)).clamp(max=1.0), torch.zeros_like(F))


def _pairs(M: int, symmetric: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    if symmetric:
        iu = torch.triu_indices(M, M, 0, device=device)
        return iu[0], iu[1]
    ii, jj = torch.meshgrid(
        torch.arange(M, device=device), torch.arange(M, device=device), indexing="ij"
    )
    return ii.flatten(), jj.flatten()


def _over_pairs(
    M: int, per_pair_bytes: int, symmetric: bool, device, f, budget: int = BLOCK_BYTES
) -> torch.Tensor:
    """Fill an M × M matrix from ``f(i_idx, j_idx) -> values`` over chunks of pairs whose
    intermediates take at most ``budget`` bytes."""
    ii, jj = _pairs(M, symmetric, device)
    out = torch.zeros(M, M, dtype=torch.float64, device=device)
    chunk = max(1, budget // max(1, per_pair_bytes))
    for a in range(0, ii.numel(), chunk):
        i, j = ii[a : a + chunk], jj[a : a + chunk]
        out[i, j] = f(i, j)
    if symmetric:
        iu = torch.triu_indices(M, M, 1, device=device)
        out[iu[1], iu[0]] = out[iu[0], iu[1]]
    return out


def _batched_svcca(R: torch.Tensor, keep: float = 0.99, dims: int | None = None):
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be a variance fraction in (0, 1], got {keep!r}")
    if dims is not None and dims < 1:
        raise ValueError(f"dims must be a positive integer or None, got {dims!r}")
    M = R.shape[0]
    _, U, S, _ = _bases(R)
    rank = rank_of(S)  # (M,)
    if dims is not None:
        kk = torch.minimum(rank, torch.tensor(dims, device=R.device))
    else:
        var = S.square()
        frac = torch.cumsum(var, -1) / var.sum(-1, keepdim=True).clamp_min(1e-300)
        kk = torch.minimum((frac < keep - 1e-12).sum(-1) + 1, rank)
    kk = torch.where(rank > 0, kk, torch.zeros_like(kk))
    cols = torch.arange(U.shape[-1], device=R.device)
    U = U * (cols[None, :] < kk[:, None])[:, None, :]  # keep the top kk[m] directions
    r = U.shape[-1]

    def f(i, j):
        rho = torch.linalg.svdvals(U[i].transpose(1, 2) @ U[j]).clamp(0.0, 1.0)  # (P, r)
        k = torch.minimum(kk[i], kk[j])
        top = (torch.arange(r, device=R.device)[None, :] < k[:, None]).to(rho.dtype)
        return torch.where(
            k > 0, (rho * top).sum(-1) / k.clamp_min(1), torch.zeros_like(k, dtype=rho.dtype)
        )

    return _over_pairs(M, r * r * 8 * 3, True, R.device, f)


def _batched_pwcca(R: torch.Tensor) -> torch.Tensor:
    M = R.shape[0]
    _, U, S, Vh = _bases(R)
    rank = rank_of(S)
    r = U.shape[-1]
    SV = S[..., :, None] * Vh  # (M, r, p): Uᵀ Z

    def f(i, j):
        P, rho, _ = torch.linalg.svd(U[i].transpose(1, 2) @ U[j], full_matrices=False)
        alpha = (P.transpose(1, 2) @ SV[i]).abs().sum(-1)  # (P, r)
        k = torch.minimum(rank[i], rank[j])
        top = (torch.arange(r, device=R.device)[None, :] < k[:, None]).to(rho.dtype)
        alpha = alpha * top
        val = (alpha * rho.clamp(0.0, 1.0)).sum(-1) / alpha.sum(-1).clamp_min(1e-300)
        return torch.where(k > 0, val, torch.zeros_like(val))

    return _over_pairs(M, (r * r * 3 + r * SV.shape[-1]) * 8, False, R.device, f)


def _batched_procrustes(R: torch.Tensor) -> torch.Tensor:
    M = R.shape[0]
    Z = _nb._unit(centre_features(R))  # (M, n, p)
    U, S, _ = torch.linalg.svd(Z, full_matrices=False)
    A = U * S[:, None, :]  # (M, n, r): same Gram as Z, so same nuclear norms of cross-products
    sq = Z.square().sum((1, 2))  # (M,)
    r = A.shape[-1]

    def f(i, j):
        nuc = torch.linalg.svdvals(A[i].transpose(1, 2) @ A[j]).sum(-1)  # (P,)
        return (sq[i] + sq[j] - 2.0 * nuc).clamp_min(0.0).sqrt()

    return _over_pairs(M, r * r * 8 * 3, True, R.device, f)


def _batched_mutual_knn(
    R: torch.Tensor, k: int = 10, distance: str = "cosine", center: bool = False
) -> torch.Tensor:
    M, n, _ = R.shape
    Z = centre_features(R) if center else R
    idx = _nb.knn_indices(Z, k, distance)  # type: ignore[arg-type]  # (M, n, k)
    # per pair: both gathered index lists (int64), the (n, k, k) comparison and its any();
    # pairs are batched within the score chunk of one neighbour search (CHUNK · n floats),
    # so the whole matrix needs no more memory than one call of the pairwise loop
    per_pair = n * k * (2 * 8 + k + 1) + 8 * n
    return _over_pairs(
        M,
        per_pair,
        True,
        R.device,
        lambda i, j: _nb.knn_overlap(idx[i], idx[j]),
        budget=_nb.CHUNK * n * 8,
    )


def _batched_information_imbalance(R: torch.Tensor) -> torch.Tensor:
    M, n, _ = R.shape
    nn = _nb.nearest_neighbour(R)  # (M, n): nearest neighbour in each member's space
    out = torch.zeros(M, M, dtype=torch.float64, device=R.device)
    chunk = max(1, BLOCK_BYTES // (8 * M * n))
    rows = torch.arange(n, device=R.device)
    for b in range(M):  # distances in member b's space, ranks of every member's neighbours
        B = R[b]  # (n, p)
        sq = B.square().sum(-1)  # (n,)
        total = torch.zeros(M, dtype=torch.float64, device=R.device)
        for a in range(0, n, chunk):
            e = min(n, a + chunk)
            d2 = (sq[a:e, None] + sq[None, :] - 2.0 * B[a:e] @ B.T).clamp_min(0.0)  # (c, n)
            d2[rows[: e - a], rows[a:e]] = math.inf  # exclude self
            t = d2.gather(1, nn[:, a:e].T)  # (c, M): d_B(i, nn_A(i)) for every A
            ranks = 1 + (d2[:, None, :] < t[:, :, None]).sum(-1)  # (c, M)
            total += ranks.sum(0).to(torch.float64)
        out[:, b] = 2.0 * total / n**2
    return out


_BATCHED: dict[str, Callable[..., torch.Tensor]] = {
    "linear_cka": _batched_linear_cka,
    "debiased_cka": _batched_debiased_cka,
    "rbf_cka": _batched_rbf_cka,
    "cca": _batched_cca,
    "svcca": _batched_svcca,
    "pwcca": _batched_pwcca,
    "procrustes": _batched_procrustes,
    "mutual_knn": _batched_mutual_knn,
    "information_imbalance": _batched_information_imbalance,
}
