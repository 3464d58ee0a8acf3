"""Centred kernel alignment: linear (feature and Gram form), debiased, RBF and minibatch CKA.

All functions take two representations of the same ``n`` inputs, ``X (n, p₁)`` and
``Y (n, p₂)`` (numpy arrays or torch tensors, any float dtype, CPU or CUDA), compute in
float64 on the input's device and return a Python float. CKA is a **similarity** in [0, 1]
(the debiased estimator may dip slightly below 0).

Conventions chosen where the sources leave room:

* A zero-variance feature (a dead ReLU unit, a constant column) is set exactly to zero after
  centring, so it contributes nothing. The CKA of a representation with no variance at all
  (every column constant) with anything is defined as **0** (its centred Gram matrix is 0,
  so the ratio is 0/0; 0 is the value in the limit of vanishing signal).
* The debiased estimator's normaliser can be ≤ 0 for tiny or degenerate samples; CKA is then
  reported as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch

from ._validate import ArrayLike, as_pair, centre

Form = Literal["auto", "feature", "gram"]


def centre_features(x: torch.Tensor) -> torch.Tensor:
    """Column-centre ``x (…, n, p)``; columns that are exactly constant become exactly 0."""
    const = x.amax(dim=-2, keepdim=True) == x.amin(dim=-2, keepdim=True)  # (…, 1, p)
    return centre(x).masked_fill_(const, 0.0)  # in place on the fresh centred copy


def _use_gram(n: int, p1: int, p2: int, form: Form) -> bool:
    if form not in ("auto", "feature", "gram"):
        raise ValueError(f"form must be 'auto', 'feature' or 'gram', got {form!r}")
    if form == "auto":
        # feature form costs n·(p₁+p₂)² flops, Gram form n²·(p₁+p₂): pick the cheaper.
        return max(p1, p2) > n
    return form == "gram"


def _debias(xty: torch.Tensor, rx, ry, nx, ny, n: int) -> torch.Tensor:
    """n(n−3)·HSIC₁ from feature-form sums (Song et al. 2012, eq. 5, rewritten for centred X).

    With centred features (1ᵀX = 0), K = XXᵀ, K̃ = K − diag(K), r_X = diag(K):
    tr(K̃L̃) = ‖XᵀY‖² − ⟨r_X, r_Y⟩, 1ᵀK̃1 = −‖X‖²_F, 1ᵀK̃L̃1 = ⟨r_X, r_Y⟩, hence
    n(n−3)·HSIC₁ = ‖XᵀY‖² − n/(n−2)·⟨r_X, r_Y⟩ + ‖X‖²_F‖Y‖²_F / ((n−1)(n−2)).
    ``rx, ry`` broadcast as ``(…, n)``; ``nx, ny`` are ‖X‖²_F, ‖Y‖²_F.
    """
    return xty - n / (n - 2) * (rx * ry).sum(-1) + nx * ny / ((n - 1) * (n - 2))


def linear_hsic_terms(
    X: torch.Tensor, Y: torch.Tensor, *, debiased: bool = False, form: Form = "auto"
) -> tuple[float, float, float]:
    """Return (HSIC(X,Y), HSIC(X,X), HSIC(Y,Y)) for the linear kernel, properly normalised.

    Biased: HSIC₀ = tr(KHLH)/(n−1)² (Gretton et al. 2005); debiased: HSIC₁ of Song et al.
    (2012), valid for n ≥ 4. ``X (n, p₁)`` and ``Y (n, p₂)`` must be float64 tensors already
    column-centred (see :func:`centre_features`).
    """
    n = X.shape[0]
    if _use_gram(n, X.shape[1], Y.shape[1], form):
        K = X @ X.T  # (n, n)
        L = Y @ Y.T  # (n, n)
        xty, xtx, yty = (K * L).sum(), (K * K).sum(), (L * L).sum()
    else:
        xty = (X.T @ Y).square().sum()  # ‖XᵀY‖²_F, (p₁, p₂) intermediate
        xtx = (X.T @ X).square().sum()
        yty = (Y.T @ Y).square().sum()
    if not debiased:
        s = 1.0 / (n - 1) ** 2
        return float(xty) * s, float(xtx) * s, float(yty) * s
    rx, ry = X.square().sum(1), Y.square().sum(1)  # (n,)
    nx, ny = rx.sum(), ry.sum()
    s = 1.0 / (n * (n - 3))
    return (
        float(_debias(xty, rx, ry, nx, ny, n)) * s,
        float(_debias(xtx, rx, rx, nx, nx, n)) * s,
        float(_debias(yty, ry, ry, ny, ny, n)) * s,
    )


def constant_columns(x: torch.Tensor, means: torch.Tensor, sq: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the exactly constant columns of ``x (n, p)``, found cheaply.

    ``means`` are the float64 column means and ``sq`` the sums of squares of the centred
    columns. A constant column c has mean within n·ε·|c| of c, so its centred values are all
    one tiny δ with n δ² ≤ n (4 n ε |mean|)²: only columns under that bound (almost never
    any) are compared element by element (max == min), so the test stays exact.
    """
    n = x.shape[0]
    eps = torch.finfo(torch.float64).eps
    cand = sq <= n * (4.0 * n * eps * means.abs()).square()
    const = torch.zeros_like(cand)
    if bool(cand.any()):
        idx = torch.nonzero(cand).flatten()
        sub = x[:, idx]
        const[idx] = sub.amax(0) == sub.amin(0)
    return const


def gram_of_columns(Z: torch.Tensor) -> torch.Tensor:
    """ZᵀZ for a float64 ``Z (n, q)``, exploiting symmetry on the CPU.

    On the CPU numpy's matmul recognises ``Aᵀ @ A`` of one buffer and calls the BLAS
    symmetric rank-k update (syrk), half the multiply-adds of a general product; elsewhere
    torch's GEMM is used.
    """
    if Z.device.type == "cpu" and Z.dtype == torch.float64:
        Zn = Z.numpy()
        return torch.from_numpy(Zn.T @ Zn)
    return Z.T @ Z


#: bytes of the centred row block [X̃ Ỹ] that the feature form builds at a time.
FEATURE_BLOCK_BYTES = 16 * 2**20


def _feature_terms(X: torch.Tensor, Y: torch.Tensor, debiased: bool) -> tuple[float, float, float]:
    """(HSIC(X,Y), HSIC(X,X), HSIC(Y,Y)) in the feature form from raw (uncentred) X, Y.

    Centres row blocks of both into one buffer Z = [X̃ Ỹ] (≤ FEATURE_BLOCK_BYTES) and
    accumulates G = ZᵀZ, a symmetric product whose blocks are X̃ᵀX̃, X̃ᵀỸ and ỸᵀỸ:
    n(p₁+p₂)²/2 multiply-adds with syrk instead of n(p₁²+p₂²+p₁p₂) for three GEMMs, and
    O(block) extra memory instead of two centred copies.
    """
    n, p1 = X.shape
    q = p1 + Y.shape[1]
    mx, my = X.mean(0), Y.mean(0)
    rows = n if X.device.type != "cpu" else max(1, min(n, FEATURE_BLOCK_BYTES // (8 * q)))
    buf = torch.empty(rows, q, dtype=torch.float64, device=X.device)
    G = torch.zeros(q, q, dtype=torch.float64, device=X.device)
    rn = torch.empty(n, 2, dtype=torch.float64, device=X.device) if debiased else None
    for a in range(0, n, rows):
        e = min(n, a + rows)
        Z = buf[: e - a]
        torch.sub(X[a:e], mx, out=Z[:, :p1])
        torch.sub(Y[a:e], my, out=Z[:, p1:])
        G += gram_of_columns(Z)
        if rn is not None:  # row norms for the debiased estimator, no (n, p) temporary
            rn[a:e, 0] = torch.linalg.vector_norm(Z[:, :p1], dim=1).square()
            rn[a:e, 1] = torch.linalg.vector_norm(Z[:, p1:], dim=1).square()
    sq = torch.diagonal(G)
    const = torch.cat([constant_columns(X, mx, sq[:p1]), constant_columns(Y, my, sq[p1:])])
    if bool(const.any()):  # zero-variance features contribute exactly nothing
        G[const] = 0.0
        G[:, const] = 0.0
        if rn is not None:  # recompute the row norms without those columns
            rn[:, 0] = torch.linalg.vector_norm(
                (X - mx).masked_fill_(const[:p1], 0.0), dim=1
            ).square()
            rn[:, 1] = torch.linalg.vector_norm(
                (Y - my).masked_fill_(const[p1:], 0.0), dim=1
            ).square()
    xy = G[:p1, p1:].square().sum()
    xx = G[:p1, :p1].square().sum()
    yy = G[p1:, p1:].square().sum()
    if rn is None:
        s = 1.0 / (n - 1) ** 2
        return float(xy) * s, float(xx) * s, float(yy) * s
    rx, ry = rn[:, 0], rn[:, 1]
    nx, ny = rx.sum(), ry.sum()
    s = 1.0 / (n * (n - 3))
    return (
        float(_debias(xy, rx, ry, nx, ny, n)) * s,
        float(_debias(xx, rx, rx, nx, nx, n)) * s,
        float(_debias(yy, ry, ry, ny, ny, n)) * s,
    )


def _ratio(xy: float, xx: float, yy: float) -> float:
    den = xx * yy
    if not den > 0.0:
        return 0.0
    return xy / math.sqrt(den)


def linear_cka(X: ArrayLike, Y: ArrayLike, debiased: bool = False, form: Form = "auto") -> float:
    """Linear centred kernel alignment (a similarity in [0, 1]).

    CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) for column-centred X, Y (Kornblith et al. 2019,
    "Similarity of Neural Network Representations Revisited", eq. 4 with the linear kernel);
    it equals the RV coefficient.

    Parameters
    ----------
    X : array (n, p₁)
    Y : array (n, p₂)
        Representations of the same n inputs, row i of each for input i.
    debiased : bool
        Use the unbiased HSIC estimator of Song et al. (2012) in numerator and normaliser
        (needs n ≥ 4); removes the plain estimator's upward bias on small samples.
    form : {"auto", "feature", "gram"}
        "feature" computes p×p cross-products: O(n p²) time (one symmetric product of the
        stacked [X Y]), O(n (p₁+p₂)) extra memory for the centred copy. "gram"
        computes n×n Gram matrices: O(n² p) time, O(n²) memory. "auto" picks "gram" only
        when max(p₁, p₂) > n. Both give the same value.

    Returns
    -------
    float
        The CKA; 0 when either representation has no variance.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5))
    >>> round(linear_cka(X, 3.0 * X + 1.0), 6)
    1.0
    """
    Xt, Yt = as_pair(X, Y, min_n=4 if debiased else 2)
    if _use_gram(Xt.shape[0], Xt.shape[1], Yt.shape[1], form):
        xy, xx, yy = linear_hsic_terms(
            centre_features(Xt), centre_features(Yt), debiased=debiased, form="gram"
        )
    else:
        xy, xx, yy = _feature_terms(Xt, Yt, debiased)
    return _ratio(xy, xx, yy)


def centre_gram(K: torch.Tensor) -> torch.Tensor:
    """H K H with H = I − 11ᵀ/n (double centring of a Gram matrix ``(…, n, n)``)."""
    return K - K.mean(-1, keepdim=True) - K.mean(-2, keepdim=True) + K.mean((-2, -1), keepdim=True)


def hsic_gram(K: torch.Tensor, L: torch.Tensor, debiased: bool = False) -> torch.Tensor:
    """HSIC from two Gram matrices ``(…, n, n)``.

    Biased: tr(KHLH)/(n−1)² (Gretton et al. 2005). Debiased (Song et al. 2012, eq. 5):
    HSIC₁ = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3)), with K̃, L̃
    the Gram matrices with zeroed diagonals.
    """
    n = K.shape[-1]
    if not debiased:
        return (centre_gram(K) * centre_gram(L)).sum((-2, -1)) / (n - 1) ** 2
    eye = torch.eye(n, dtype=torch.bool, device=K.device)
    Kt, Lt = K.masked_fill(eye, 0.0), L.masked_fill(eye, 0.0)
    k1, l1 = Kt.sum(-1), Lt.sum(-1)  # (…, n): K̃1, L̃1
    term = (
        (Kt * Lt).sum((-2, -1))
        + k1.sum(-1) * l1.sum(-1) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (k1 * l1).sum(-1)
    )
    return term / (n * (n - 3))


def gram_cka(K: ArrayLike, L: ArrayLike, debiased: bool = False) -> float:
    """CKA between two kernel (Gram) matrices ``(n, n)``: HSIC(K,L)/√(HSIC(K,K)·HSIC(L,L)).

    Kornblith et al. (2019), eq. 4. A similarity; 0 when either centred Gram matrix is 0.
    """
    Kt, Lt = as_pair(K, L, min_n=4 if debiased else 2)
    n = Kt.shape[0]
    if Kt.shape != (n, n) or Lt.shape != (n, n):
        raise ValueError(
            f"Gram matrices must be square (n, n), got {tuple(Kt.shape)} and {tuple(Lt.shape)}"
        )
    xy = float(hsic_gram(Kt, Lt, debiased))
    xx = float(hsic_gram(Kt, Kt, debiased))
    yy = float(hsic_gram(Lt, Lt, debiased))
    return _ratio(xy, xx, yy)


def _median(v: torch.Tensor) -> torch.Tensor:
    """numpy-style median of a 1-D tensor (mean of the two middle values for even sizes)."""
    k = v.numel()
    lo = torch.kthvalue(v, (k + 1) // 2).values
    hi = torch.kthvalue(v, k // 2 + 1).values
    return (lo + hi) / 2


def squared_distances(X: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between rows, ``(…, n, p) → (…, n, n)``, clamped at 0."""
    r = X.square().sum(-1)  # (…, n)
    d2 = r[..., :, None] + r[..., None, :] - 2.0 * X @ X.transpose(-2, -1)
    d2 = d2.clamp_min(0.0)
    return d2 - torch.diag_embed(torch.diagonal(d2, dim1=-2, dim2=-1))


def rbf_gram(X: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """RBF Gram matrix exp(−d²ᵢⱼ / (2 σ²)) with σ = threshold × median pairwise distance.

    The median is taken over all n² squared distances, diagonal included, as in Kornblith et
    al.'s reference code (σ² = threshold² · median(d²)). If that median is 0 (most rows
    identical) the median of the positive distances is used; if every distance is 0 the
    Gram matrix is all ones (and its centred form 0).
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    d2 = squared_distances(X)  # (n, n)
    med = _median(d2.flatten())
    if not med > 0:
        pos = d2[d2 > 0]
        if pos.numel() == 0:
            return torch.ones_like(d2)
        med = _median(pos)
    return torch.exp(-d2 / (2.0 * threshold**2 * med))


def rbf_cka(X: ArrayLike, Y: ArrayLike, threshold: float = 1.0, debiased: bool = False) -> float:
    """CKA with RBF kernels (a similarity in [0, 1]); bandwidth = threshold × median distance.

    Kornblith et al. (2019), section 3 ("RBF kernel ... σ a fraction of the median distance").
    Costs O(n² p) time and O(n²) memory.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((40, 3))
    >>> round(rbf_cka(X, X @ np.linalg.qr(np.ones((3, 3)) + np.eye(3))[0]), 6)
    1.0
    """
    Xt, Yt = as_pair(X, Y, min_n=4 if debiased else 2)
    Kx = rbf_gram(centre_features(Xt), threshold)
    Ky = rbf_gram(centre_features(Yt), threshold)
    xy = float(hsic_gram(Kx, Ky, debiased))
    xx = float(hsic_gram(Kx, Kx, debiased))
    yy = float(hsic_gram(Ky, Ky, debiased))
    return _ratio(xy, xx, yy)


class MinibatchCKA:
    """Streaming linear CKA over minibatches (Nguyen, Raghu & Kornblith 2021, eq. 3).

    CKA_mb = Σᵢ HSIC₁(Kᵢ, Lᵢ) / √(Σᵢ HSIC₁(Kᵢ, Kᵢ) · Σᵢ HSIC₁(Lᵢ, Lᵢ)), summing the unbiased
    HSIC of each batch, so the value does not depend on the batch size in expectation and is
    not inflated on small batches. Each batch costs O(b p²) time and the accumulator O(1)
    memory. ``unbiased=False`` sums the plain HSIC₀ instead (biased on small batches).

    Attributes
    ----------
    kind : str
        ``"similarity"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((64, 4))
    >>> acc = MinibatchCKA()
    >>> for i in range(0, 64, 16):
    ...     _ = acc.update(X[i:i + 16], 2 * X[i:i + 16])
    >>> round(acc.value(), 6)
    1.0
    """

    kind = "similarity"

    def __init__(self, unbiased: bool = True) -> None:
        self.unbiased = unbiased
        self.reset()

    def reset(self) -> None:
        """Forget all batches."""
        self.xy = self.xx = self.yy = 0.0
        self.batches = 0
        self.samples = 0

    def update(self, X_b: ArrayLike, Y_b: ArrayLike) -> MinibatchCKA:
        """Add one batch: ``X_b (b, p₁)`` and ``Y_b (b, p₂)`` on the same b inputs (b ≥ 4)."""
        Xt, Yt = as_pair(X_b, Y_b, min_n=4 if self.unbiased else 2)
        xy, xx, yy = linear_hsic_terms(
            centre_features(Xt), centre_features(Yt), debiased=self.unbiased
        )
        self.xy += xy
        self.xx += xx
        self.yy += yy
        self.batches += 1
        self.samples += Xt.shape[0]
        return self

    def value(self) -> float:
        """The minibatch CKA over all batches so far; 0 if either side has no variance."""
        if self.batches == 0:
            raise ValueError("MinibatchCKA.value() needs at least one update(X_b, Y_b) first")
        return _ratio(self.xy, self.xx, self.yy)


def minibatch_cka(batches: Iterable[tuple[ArrayLike, ArrayLike]], unbiased: bool = True) -> float:
    """Minibatch linear CKA over an iterable of ``(X_b, Y_b)`` batches (a similarity).

    The functional twin of :class:`MinibatchCKA`: feeds every batch to one accumulator and
    returns its value (Nguyen, Raghu & Kornblith 2021, eq. 3). Batches are consumed lazily,
    so a generator over a data loader never holds more than one batch.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((64, 4))
    >>> round(minibatch_cka((X[i:i + 16], -X[i:i + 16]) for i in range(0, 64, 16)), 6)
    1.0
    """
    acc = MinibatchCKA(unbiased=unbiased)
    for X_b, Y_b in batches:
        acc.update(X_b, Y_b)
    return acc.value()
