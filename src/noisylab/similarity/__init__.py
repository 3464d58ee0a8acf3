"""Compare representations: CKA (linear, debiased, RBF, minibatch), CCA family, Procrustes,
mutual k-NN and Information Imbalance, plus all-pairs comparison of an ensemble.

Pure functions over numpy arrays or torch tensors ``(n, p)`` (rows = the same n inputs),
usable without the rest of noisylab. Similarities (higher = more alike): ``linear_cka``,
``rbf_cka``, ``MinibatchCKA`` (and its functional twin ``minibatch_cka``), ``cca``,
``svcca``, ``pwcca``, ``mutual_knn``. Distances (lower = more alike):
``procrustes_distance``, ``information_imbalance`` (asymmetric).

Example
-------
>>> import numpy as np
>>> from noisylab import similarity
>>> reps = np.random.default_rng(0).standard_normal((8, 200, 16))  # (M, n, p)
>>> res = similarity.pairwise(reps, "linear_cka")
>>> res.matrix.shape
(8, 8)
"""

from .cca import canonical_correlations, cca, pwcca, svcca
from .cka import MinibatchCKA, gram_cka, linear_cka, minibatch_cka, rbf_cka
from .neighbours import information_imbalance, mutual_knn, procrustes, procrustes_distance
from .pairwise import METRICS, PairwiseResult, pairwise

__all__ = [
    "METRICS",
    "MinibatchCKA",
    "PairwiseResult",
    "canonical_correlations",
    "cca",
    "gram_cka",
    "information_imbalance",
    "linear_cka",
    "minibatch_cka",
    "mutual_knn",
    "pairwise",
    "procrustes",
    "procrustes_distance",
    "pwcca",
    "rbf_cka",
    "svcca",
]
