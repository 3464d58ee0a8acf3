"""Neighbourhood- and shape-based comparisons: mutual k-NN, Information Imbalance, Procrustes.

``mutual_knn`` is a similarity in [0, 1]; ``information_imbalance`` is an asymmetric
**distance-like** score (≈0 when A predicts B's neighbours, ≈1 when unrelated);
``procrustes_distance`` is a **distance** (0 for identical shapes). All work on numpy arrays
or torch tensors ``(n, p)``, in float64 on the input's device. Neighbour searches run over
row chunks so memory stays O(chunk · n) for a whole batch of members, never a full n × n
matrix per member.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from ._validate import ArrayLike, as_pair
from .cka import centre_features, squared_distances

Distance = Literal["cosine", "euclidean"]

#: query rows per chunk in neighbour searches, shared by all members of a batch: the scores
#: of a chunk take CHUNK·n floats whatever the member count.
CHUNK = 1024


def _prepare(X: torch.Tensor, distance: Distance) -> torch.Tensor:
    if distance not in ("cosine", "euclidean"):
        raise ValueError(f"distance must be 'cosine' or 'euclidean', got {distance!r}")
    if distance == "cosine":
        # a zero row stays zero (0 / 1e-300 = 0): no mask, no second (…, n, p) temporary
        return X / X.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return X


def knn_indices(X: torch.Tensor, k: int, distance: Distance = "cosine") -> torch.Tensor:
    """Indices of each row's k nearest other rows, ``(…, n, p) → (…, n, k)`` (self excluded).

    Ties are broken by ``torch.topk`` (deterministic on a given device). The query rows run
    in chunks of ``CHUNK // M`` for M batched members, written into one reused score buffer,
    so a batch holds no more scores at a time than one member alone.
    """
    n, p = X.shape[-2:]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, n−1] = [1, {n - 1}], got {k!r}")
    Xn = _prepare(X, distance).reshape(-1, n, p)  # (B, n, p)
    B = Xn.shape[0]
    Xt = Xn.transpose(1, 2)
    # closeness (higher = nearer): cosine qᵀx on unit rows; euclidean −‖q − x‖² up to a
    # per-query constant, 2qᵀx − ‖x‖²
    bias = None if distance == "cosine" else Xn.square().sum(-1).neg_()[:, None, :]  # (B, 1, n)
    chunk = max(1, min(n, CHUNK // B))
    buf = Xn.new_empty(B, chunk, n)
    diag = torch.arange(chunk, device=X.device)
    out = []
    for a in range(0, n, chunk):
        m = min(n, a + chunk) - a
        s = buf if m == chunk else Xn.new_empty(B, m, n)
        if bias is None:
            torch.bmm(Xn[:, a : a + m], Xt, out=s)
        else:
            torch.baddbmm(bias, Xn[:, a : a + m], Xt, alpha=2.0, out=s)
        s[:, diag[:m], diag[:m] + a] = -math.inf  # never one's own neighbour
        out.append(s.topk(k, dim=-1).indices)
    return torch.cat(out, dim=1).reshape(*X.shape[:-2], n, k)


def knn_overlap(ix: torch.Tensor, iy: torch.Tensor) -> torch.Tensor:
    """Mean fraction of shared neighbours, ``(…, n, k)`` × ``(…, n, k)`` → ``(…,)``.

    Each row lists distinct indices (as :func:`knn_indices` gives), so the shared count is
    the number of ``ix`` entries found anywhere in ``iy``'s row: ``any`` over the (k, k)
    comparisons, then a sum over k, never an integer copy of the (…, n, k, k) comparison.
    """
    k = ix.shape[-1]
    shared = (ix[..., :, :, None] == iy[..., :, None, :]).any(-1).sum(-1)  # (…, n)
    return shared.to(torch.float64).mean(-1) / k


def mutual_knn(
    X: ArrayLike, Y: ArrayLike, k: int = 10, distance: Distance = "cosine", center: bool = False
) -> float:
    """Mutual k-nearest-neighbour alignment (a similarity in [0, 1]).

    Huh et al. (2024), "The Platonic Representation Hypothesis", eq. 11:
    (1/n) Σᵢ |N_k^X(i) ∩ N_k^Y(i)| / k, with N_k the k nearest other samples. Features are
    L2-normalised and compared by inner product (``distance="cosine"``, the paper's choice)
    or by Euclidean distance. ``center=True`` centres columns first (mean-shift invariance;
    off by default as in the paper). Chance level is ≈ k/(n−1).
    """
    Xt, Yt = as_pair(X, Y, min_n=2)
    if center:
        Xt, Yt = centre_features(Xt), centre_features(Yt)
    return float(knn_overlap(knn_indices(Xt, k, distance), knn_indices(Yt, k, distance)))


def nearest_neighbour(X: torch.Tensor) -> torch.Tensor:
    """Index of each row's nearest other row by Euclidean distance, ``(…, n, p) → (…, n)``."""
    return knn_indices(X, 1, "euclidean")[..., 0]


def neighbour_ranks(B: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Rank r^B_{i, jᵢ} of sample jᵢ among i's neighbours in B (1 = nearest), ``(…, n)``.

    r = 1 + #{k ≠ i : d^B(i, k) < d^B(i, jᵢ)}; ties count in the sample's favour.
    ``B (…, n, p)``, ``j (…, n)`` long.
    """
    n = B.shape[-2]
    out = []
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        d2 = (
            B[..., a:b, :].square().sum(-1)[..., :, None]
            + B.square().sum(-1)[..., None, :]
            - 2.0 * B[..., a:b, :] @ B.transpose(-2, -1)
        ).clamp_min(0.0)  # (…, b−a, n)
        idx = torch.arange(b - a, device=B.device)
        d2[..., idx, torch.arange(a, b, device=B.device)] = math.inf  # exclude self
        t = d2.gather(-1, j[..., a:b, None])  # (…, b−a, 1)
        out.append(1 + (d2 < t).sum(-1))
    return torch.cat(out, dim=-1)


def information_imbalance(A: ArrayLike, B: ArrayLike) -> float:
    """Information Imbalance Δ(A → B) (asymmetric; ≈0: A predicts B, ≈1: unrelated).

    Glielmo et al. (2022), "Ranking the information content of distance measures", eq. 2:
    Δ(A→B) = (2/N) ⟨r^B | r^A = 1⟩ = (2/N²) Σᵢ r^B_{i, nn_A(i)}, with nn_A(i) the nearest
    neighbour of i in A and r^B the rank in B (Euclidean distances, self excluded). Perfect
    prediction gives 2/N; an unrelated B gives ≈ 1 (expected rank ≈ N/2).
    A low Δ(A→B) with a high Δ(B→A) means A holds B's information and more.
    """
    At, Bt = as_pair(A, B, min_n=3)
    n = At.shape[0]
    ranks = neighbour_ranks(Bt, nearest_neighbour(At))
    return 2.0 * float(ranks.to(torch.float64).sum()) / n**2


def procrustes_distance(X: ArrayLike, Y: ArrayLike) -> float:
    """Orthogonal Procrustes distance (a distance in [0, √2]; 0 for the same shape).

    Williams et al. (2021), "Generalized Shape Metrics on Neural Representations", with
    centred, unit-Frobenius-norm X̂, Ŷ: d² = min_Q ‖X̂ − ŶQ‖²_F = ‖X̂‖² + ‖Ŷ‖² − 2‖X̂ᵀŶ‖_*
    (Schönemann 1966), = 2 − 2‖X̂ᵀŶ‖_* when both have variance. Invariant to rotations,
    isotropic scaling and mean shifts; different widths are zero-padded. A representation
    with no variance normalises to 0: its distance to any varying one is 1, and 0 to
    another constant one.
    """
    Xt, Yt = as_pair(X, Y, min_n=2)
    Xh, Yh = _unit(centre_features(Xt)), _unit(centre_features(Yt))
    nuc = torch.linalg.svdvals(Xh.T @ Yh).sum() if Xh.shape[1] * Yh.shape[1] else 0.0
    d2 = float(Xh.square().sum() + Yh.square().sum() - 2.0 * nuc)
    return math.sqrt(max(d2, 0.0))


#: alias: ``procrustes`` is a distance.
procrustes = procrustes_distance


def _unit(X: torch.Tensor) -> torch.Tensor:
    """Scale ``(…, n, p)`` to unit Frobenius norm; all-zero inputs stay 0."""
    nrm = X.square().sum((-2, -1), keepdim=True).sqrt()
    return torch.where(nrm > 0, X / nrm.clamp_min(1e-300), torch.zeros_like(X))


__all__ = [
    "information_imbalance",
    "knn_indices",
    "mutual_knn",
    "procrustes",
    "procrustes_distance",
    "squared_distances",
]
