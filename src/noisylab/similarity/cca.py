"""Canonical correlation analysis family: mean squared CCA, SVCCA, PWCCA (similarities).

Inputs ``X (n, p₁)``, ``Y (n, p₂)`` on the same n inputs; float64 internally. Every function
works from orthonormal bases of the column spaces computed by SVD with a rank cut-off, so
rank-deficient inputs (dead units, duplicated features) are handled: the averages run over
min(rank X, rank Y) canonical pairs. With n ≤ p every basis spans the whole sample space and
every canonical correlation is 1: CCA needs n ≫ p to mean anything.
"""

from __future__ import annotations

import numpy as np
import torch

from ._validate import ArrayLike, as_pair
from .cka import centre_features


def orthonormal_basis(
    X: torch.Tensor, rtol: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD of ``X (…, n, p)`` with a rank mask.

    Returns ``U (…, n, r)``, ``S (…, r)`` and ``Vh (…, r, p)`` with r = min(n, p); columns
    whose singular value is ≤ rtol·max(S) (default rtol = max(n, p)·eps, numpy's
    ``matrix_rank`` rule) are zeroed in ``U``, ``S`` and ``Vh``, so ``U`` spans exactly the
    numerical column space.
    """
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    n, p = X.shape[-2], X.shape[-1]
    tol = (rtol if rtol is not None else max(n, p) * torch.finfo(X.dtype).eps) * S.amax(
        -1, keepdim=True
    )
    keep = S > tol  # (…, r)
    return U * keep[..., None, :], S * keep, Vh * keep[..., :, None]


def rank_of(S: torch.Tensor) -> torch.Tensor:
    """Numerical rank from masked singular values ``(…, r)``."""
    return (S > 0).sum(-1)


def _bases(X: ArrayLike, Y: ArrayLike, center: bool):
    Xt, Yt = as_pair(X, Y, min_n=2)
    if center:
        Xt, Yt = centre_features(Xt), centre_features(Yt)
    return Xt, Yt, orthonormal_basis(Xt), orthonormal_basis(Yt)


def canonical_correlations(X: ArrayLike, Y: ArrayLike, center: bool = True) -> np.ndarray:
    """Canonical correlations ρ₁ ≥ ρ₂ ≥ … between X and Y, length min(rank X, rank Y).

    ρ are the singular values of Q_XᵀQ_Y for orthonormal bases Q of the (centred) column
    spaces (Björck & Golub 1973). Empty when either input has no variance.
    """
    _, _, (Ux, Sx, _), (Uy, Sy, _) = _bases(X, Y, center)
    k = int(min(rank_of(Sx), rank_of(Sy)))
    rho = torch.linalg.svdvals(Ux.T @ Uy)[:k].clamp(0.0, 1.0)
    return rho.cpu().numpy()


def cca(X: ArrayLike, Y: ArrayLike, center: bool = True) -> float:
    """Mean squared canonical correlation R²_CCA (a similarity in [0, 1]).

    R²_CCA = ‖Q_XᵀQ_Y‖²_F / min(p₁, p₂) (Kornblith et al. 2019, Table 1; the squared form of
    Yanai's generalised coefficient), with Q orthonormal bases of the column spaces.
    Invariant to any invertible linear map of either input. ``center=True`` (default)
    centres the columns first, giving mean-shift invariance; ``center=False`` reproduces the
    reference notebook's uncentred QR version. Rank-deficient inputs divide by
    min(rank X, rank Y) instead of min(p₁, p₂); 0 when either input has no variance.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((100, 4))
    >>> A = np.array([[2.0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 3, 1], [1, 0, 0, 1]])
    >>> round(cca(X, X @ A), 6)
    1.0
    """
    _, _, (Ux, Sx, _), (Uy, Sy, _) = _bases(X, Y, center)
    k = int(min(rank_of(Sx), rank_of(Sy)))
    if k == 0:
        return 0.0
    return min(float((Ux.T @ Uy).square().sum()) / k, 1.0)


def _svd_reduce(X: torch.Tensor, keep: float, dims: int | None) -> torch.Tensor:
    """Top singular directions of centred ``X``: the k explaining ``keep`` of the variance."""
    U, S, _ = orthonormal_basis(X)
    r = int(rank_of(S))
    if r == 0:
        return U[:, :0]
    if dims is not None:
        k = min(dims, r)
    else:
        var = S.square()
        frac = torch.cumsum(var, 0) / var.sum()
        k = int((frac < keep - 1e-12).sum()) + 1
        k = min(k, r)
    return U[:, :k]


def svcca(X: ArrayLike, Y: ArrayLike, keep: float = 0.99, dims: int | None = None) -> float:
    """SVCCA: mean canonical correlation after an SVD reduction (a similarity in [0, 1]).

    Raghu et al. (2017), "SVCCA": each centred representation is reduced to its top singular
    directions — the fewest explaining a fraction ``keep`` of its variance, or ``dims`` of
    them — then CCA is run between the reduced subspaces and ρ̄ = mean ρᵢ is returned (the
    paper's summary, correlations not squared).
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be a variance fraction in (0, 1], got {keep!r}")
    if dims is not None and dims < 1:
        raise ValueError(f"dims must be a positive integer or None, got {dims!r}")
    Xt, Yt = as_pair(X, Y, min_n=2)
    Ux = _svd_reduce(centre_features(Xt), keep, dims)
    Uy = _svd_reduce(centre_features(Yt), keep, dims)
    k = min(Ux.shape[1], Uy.shape[1])
    if k == 0:
        return 0.0
    rho = torch.linalg.svdvals(Ux.T @ Uy)[:k].clamp(0.0, 1.0)
    return float(rho.mean())


def pwcca(X: ArrayLike, Y: ArrayLike) -> float:
    """Projection-weighted CCA (a similarity in [0, 1]; asymmetric: weights come from X).

    Morcos, Raghu & Bengio (2018), eq. 3: PWCCA = Σᵢ αᵢ ρᵢ / Σᵢ αᵢ with
    αᵢ = Σⱼ |⟨hᵢ, xⱼ⟩|, hᵢ the i-th canonical variate of X (unit norm over samples) and xⱼ
    the j-th centred column (neuron) of X. Canonical directions that account for more of X
    weigh more, discounting noise directions that CCA matches by chance.
    """
    Xt, Yt = as_pair(X, Y, min_n=2)
    Xc = centre_features(Xt)
    Ux, Sx, Vhx = orthonormal_basis(Xc)
    Uy, Sy, _ = orthonormal_basis(centre_features(Yt))
    k = int(min(rank_of(Sx), rank_of(Sy)))
    if k == 0:
        return 0.0
    P, rho, _ = torch.linalg.svd(Ux.T @ Uy, full_matrices=False)
    # hᵢ = Ux Pᵢ, so ⟨hᵢ, xⱼ⟩ = (Pᵀ Uxᵀ Xc)ᵢⱼ = (Pᵀ diag(S) Vh)ᵢⱼ
    alpha = (P.T @ (Sx[:, None] * Vhx)).abs().sum(1)[:k]  # (k,)
    rho = rho[:k].clamp(0.0, 1.0)
    return float((alpha * rho).sum() / alpha.sum())
