"""Similarity metrics: reference values, invariances, equivalences, edge cases, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from noisylab import similarity as sim
from noisylab.similarity.cka import hsic_gram


@pytest.fixture
def ref_xy():
    """The reference construction of the google-research CKA notebook (numpy seed 1337)."""
    rs = np.random.RandomState(1337)  # same stream as np.random.seed(1337); np.random.randn
    X = rs.randn(100, 10)
    Y = rs.randn(100, 10) + X
    return X, Y


def _orthogonal(p: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return q


# ---------------------------------------------------------------- reference values


def test_reference_values(ref_xy):
    X, Y = ref_xy
    assert sim.linear_cka(X, Y) == pytest.approx(0.55761, abs=1e-5)
    assert sim.linear_cka(X, Y, form="gram") == pytest.approx(0.55761, abs=1e-5)
    assert sim.linear_cka(X, Y, form="feature") == pytest.approx(0.55761, abs=1e-5)
    assert sim.rbf_cka(X, Y, threshold=0.5) == pytest.approx(0.65483, abs=1e-5)
    assert sim.linear_cka(X, Y, debiased=True) == pytest.approx(0.51346, abs=1e-5)
    assert sim.cca(X, Y, center=False) == pytest.approx(0.54312, abs=1e-5)
    assert sim.cca(X, Y) == pytest.approx(0.54540, abs=1e-5)


def test_linear_cka_is_rv_coefficient(ref_xy):
    X, Y = ref_xy
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxy, Sxx, Syy = Xc.T @ Yc, Xc.T @ Xc, Yc.T @ Yc
    rv = np.trace(Sxy @ Sxy.T) / math.sqrt(np.trace(Sxx @ Sxx) * np.trace(Syy @ Syy))
    assert sim.linear_cka(X, Y) == pytest.approx(rv, rel=1e-12)


# ---------------------------------------------------------------- forms agree


@pytest.mark.parametrize("n,p1,p2", [(50, 5, 7), (30, 60, 40), (20, 3, 90)])
@pytest.mark.parametrize("debiased", [False, True])
def test_feature_form_equals_gram_form(n, p1, p2, debiased):
    rng = np.random.default_rng(n + p1)
    X = rng.standard_normal((n, p1))
    Y = X[:, :1] + rng.standard_normal((n, p2))
    a = sim.linear_cka(X, Y, debiased=debiased, form="feature")
    b = sim.linear_cka(X, Y, debiased=debiased, form="gram")
    assert a == pytest.approx(b, rel=1e-10, abs=1e-12)
    # and both equal the Gram-matrix CKA of the (uncentred) linear kernels
    assert sim.gram_cka(X @ X.T, Y @ Y.T, debiased=debiased) == pytest.approx(a, rel=1e-10)


def test_debiased_feature_form_matches_song_formula():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 4))
    K, L = torch.tensor(X @ X.T), torch.tensor(Y @ Y.T)
    n = 12
    Kt, Lt = K.clone().fill_diagonal_(0), L.clone().fill_diagonal_(0)
    one = torch.ones(n, dtype=torch.float64)
    direct = (
        torch.trace(Kt @ Lt)
        + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (one @ Kt @ Lt @ one)
    ) / (n * (n - 3))
    assert float(hsic_gram(K, L, debiased=True)) == pytest.approx(float(direct), rel=1e-12)


# ---------------------------------------------------------------- invariances


def test_cka_identity_and_invariances(ref_xy):
    X, Y = ref_xy
    Q = _orthogonal(10, 0)
    base = sim.linear_cka(X, Y)
    for fn in (sim.linear_cka, sim.rbf_cka, lambda a, b: sim.linear_cka(a, b, debiased=True)):
        assert fn(X, X) == pytest.approx(1.0, abs=1e-12)
    assert sim.linear_cka(X @ Q, Y) == pytest.approx(base, rel=1e-10)
    assert sim.linear_cka(3.7 * X, Y) == pytest.approx(base, rel=1e-10)
    assert sim.linear_cka(X + 5.0, Y - 2.0) == pytest.approx(base, rel=1e-10)
    assert sim.rbf_cka(X @ Q, Y) == pytest.approx(sim.rbf_cka(X, Y), rel=1e-10)
    assert sim.rbf_cka(2.0 * X + 1.0, Y) == pytest.approx(sim.rbf_cka(X, Y), rel=1e-10)
    # not invariant to a general invertible map; CCA is
    A = np.diag(np.linspace(0.1, 10.0, 10)) + 0.3 * np.random.default_rng(1).standard_normal(
        (10, 10)
    )
    assert abs(sim.linear_cka(X @ A, Y) - base) > 0.05
    assert sim.cca(X @ A, Y) == pytest.approx(sim.cca(X, Y), rel=1e-9)
    assert sim.cca(X @ A + 4.0, Y) == pytest.approx(sim.cca(X, Y), rel=1e-9)
    # shuffling the rows of one matrix destroys the alignment
    perm = np.random.default_rng(2).permutation(100)
    assert sim.linear_cka(X[perm], Y) < 0.2 * base


def test_other_metrics_identity_and_invariance(ref_xy):
    X, Y = ref_xy
    Q = _orthogonal(10, 4)
    assert sim.cca(X, X) == pytest.approx(1.0)
    assert sim.svcca(X, X) == pytest.approx(1.0)
    assert sim.pwcca(X, X) == pytest.approx(1.0)
    assert sim.procrustes_distance(X, X) == pytest.approx(0.0, abs=1e-6)
    assert sim.procrustes_distance(2 * X @ Q + 1, X) == pytest.approx(0.0, abs=1e-6)
    assert sim.procrustes_distance(X, Y) > 0.3
    assert sim.mutual_knn(X, X @ Q, k=5) == pytest.approx(1.0)
    assert sim.information_imbalance(X, X @ Q) == pytest.approx(2 / 100)
    noise = np.random.default_rng(9).standard_normal((100, 10))
    assert sim.information_imbalance(X, noise) > 0.7
    assert sim.mutual_knn(X, noise, k=5) < 0.15


def test_procrustes_matches_scipy(ref_xy):
    from scipy.linalg import orthogonal_procrustes

    X, Y = ref_xy
    Xh = (X - X.mean(0)) / np.linalg.norm(X - X.mean(0))
    Yh = (Y - Y.mean(0)) / np.linalg.norm(Y - Y.mean(0))
    R, _ = orthogonal_procrustes(Yh, Xh)
    assert sim.procrustes_distance(X, Y) == pytest.approx(np.linalg.norm(Xh - Yh @ R), rel=1e-9)


def test_mutual_knn_and_imbalance_brute_force():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((40, 3))
    B = A[:, :2] + 0.5 * rng.standard_normal((40, 2))
    k = 4
    An = A / np.linalg.norm(A, axis=1, keepdims=True)
    Bn = B / np.linalg.norm(B, axis=1, keepdims=True)

    def knn(Z):
        s = Z @ Z.T
        np.fill_diagonal(s, -np.inf)
        return [set(np.argsort(-row)[:k]) for row in s]

    na, nb = knn(An), knn(Bn)
    expect = np.mean([len(a & b) / k for a, b in zip(na, nb)])
    assert sim.mutual_knn(A, B, k=k) == pytest.approx(expect)

    dA = ((A[:, None] - A[None]) ** 2).sum(-1)
    dB = ((B[:, None] - B[None]) ** 2).sum(-1)
    np.fill_diagonal(dA, np.inf)
    np.fill_diagonal(dB, np.inf)
    nn = dA.argmin(1)
    ranks = [1 + (dB[i] < dB[i, nn[i]]).sum() for i in range(40)]
    assert sim.information_imbalance(A, B) == pytest.approx(2 * np.sum(ranks) / 40**2)


def test_svcca_and_pwcca_definitions(ref_xy):
    X, Y = ref_xy
    rho = sim.canonical_correlations(X, Y)
    assert rho.shape == (10,)
    assert np.all(np.diff(rho) <= 1e-12)
    assert sim.cca(X, Y) == pytest.approx(np.mean(rho**2))
    assert sim.svcca(X, Y, keep=1.0) == pytest.approx(np.mean(rho))
    assert sim.svcca(X, Y, dims=3) != pytest.approx(np.mean(rho))
    pw = sim.pwcca(X, Y)
    assert rho.min() <= pw <= rho.max()


# ---------------------------------------------------------------- statistics


def test_debiased_cka_is_nearly_unbiased_on_independent_data():
    """Plain CKA of independent Gaussian (n, 8) features: bias .198, .114, .056 (reference)."""
    rng = np.random.default_rng(0)
    for n, ref_bias in [(32, 0.198), (64, 0.114), (128, 0.056)]:
        pairs = [(rng.standard_normal((n, 8)), rng.standard_normal((n, 8))) for _ in range(100)]
        plain = np.mean([sim.linear_cka(a, b) for a, b in pairs])
        deb = np.mean([sim.linear_cka(a, b, debiased=True) for a, b in pairs])
        assert plain == pytest.approx(ref_bias, abs=0.02)
        assert abs(deb) < 0.015
        assert abs(deb) < plain / 5


def test_minibatch_cka():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((512, 6))
    Y = X @ rng.standard_normal((6, 6)) + 2.0 * rng.standard_normal((512, 6))
    acc = sim.MinibatchCKA()
    for a in range(0, 512, 8):
        acc.update(X[a : a + 8], Y[a : a + 8])
    assert acc.batches == 64 and acc.samples == 512
    # unbiased per-batch HSIC: tiny batches still estimate the full-data CKA, without NaN
    assert acc.value() == pytest.approx(sim.linear_cka(X, Y, debiased=True), abs=0.05)
    biased = sim.MinibatchCKA(unbiased=False)
    for a in range(0, 512, 8):
        biased.update(X[a : a + 8], Y[a : a + 8])
    assert biased.value() > acc.value() + 0.05  # the plain estimator is inflated on 8-row batches
    batches = ((X[a : a + 8], Y[a : a + 8]) for a in range(0, 512, 8))  # a lazy stream
    assert sim.minibatch_cka(batches) == pytest.approx(acc.value(), rel=1e-12)
    one = sim.MinibatchCKA().update(X[:100], Y[:100])
    assert one.value() == pytest.approx(sim.linear_cka(X[:100], Y[:100], debiased=True))
    with pytest.raises(ValueError, match="update"):
        sim.MinibatchCKA().value()
    with pytest.raises(ValueError, match="n=4"):
        sim.MinibatchCKA().update(X[:3], Y[:3])


# ---------------------------------------------------------------- dtypes, devices


def test_torch_float32_and_numpy_agree(ref_xy):
    X, Y = ref_xy
    t = sim.linear_cka(torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32))
    assert t == pytest.approx(sim.linear_cka(X, Y), abs=1e-6)
    assert isinstance(t, float)
    higher = sim.linear_cka(X.reshape(100, 2, 5), Y)  # trailing axes are flattened
    assert higher == pytest.approx(sim.linear_cka(X, Y))


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def test_device_tensors_match_numpy(ref_xy):
    """On CUDA where available (the GPU CI), else on CPU tensors: same values as numpy."""
    X, Y = ref_xy
    Xg, Yg = torch.tensor(X, device=DEVICE), torch.tensor(Y, device=DEVICE)
    assert sim.linear_cka(Xg, Yg) == pytest.approx(sim.linear_cka(X, Y), rel=1e-10)
    res = sim.pairwise(torch.stack([Xg, Yg, Xg + Yg]).float())
    assert res.matrix[0, 1] == pytest.approx(sim.linear_cka(X, Y), abs=1e-5)


# ---------------------------------------------------------------- degenerate inputs


def test_zero_variance_features_are_defined():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 5))
    Y = X + rng.standard_normal((60, 5))
    dead = np.hstack([X, np.full((60, 3), 0.3)])  # three dead units
    assert sim.linear_cka(dead, Y) == pytest.approx(sim.linear_cka(X, Y), rel=1e-12)
    assert sim.cca(dead, Y) == pytest.approx(sim.cca(X, Y), rel=1e-9)
    const = np.full((60, 5), 1.7)
    for fn in (
        sim.linear_cka,
        lambda a, b: sim.linear_cka(a, b, debiased=True),
        sim.rbf_cka,
        sim.cca,
        sim.svcca,
        sim.pwcca,
    ):
        assert fn(const, Y) == 0.0
        assert fn(Y, const) == 0.0
    assert sim.procrustes_distance(const, Y) == pytest.approx(1.0)
    assert sim.procrustes_distance(const, const) == 0.0
    for fn in (sim.mutual_knn, sim.information_imbalance):
        assert math.isfinite(fn(const, Y))
    assert np.isfinite(sim.pairwise(np.stack([const, Y, X]), "linear_cka").matrix).all()


def test_validation_errors():
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match=r"n=10.*n=9"):
        sim.linear_cka(X, np.zeros((9, 3)))
    with pytest.raises(ValueError, match="n=4"):
        sim.linear_cka(np.ones((3, 2)), np.ones((3, 2)), debiased=True)
    bad = np.ones((10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sim.linear_cka(bad, X)
    with pytest.raises(ValueError, match="NaN"):
        sim.pairwise(np.stack([bad, bad]))
    with pytest.raises(ValueError, match="form"):
        sim.linear_cka(X, X, form="kernel")
    with pytest.raises(ValueError, match="k must be"):
        sim.mutual_knn(X, X, k=10)
    with pytest.raises(ValueError, match="threshold"):
        sim.rbf_cka(X, X, threshold=0.0)
    with pytest.raises(ValueError, match="unknown metric"):
        sim.pairwise(np.zeros((2, 10, 3)), "cosine")
    with pytest.raises(ValueError, match="shape"):
        sim.pairwise([np.zeros((10, 3)), np.zeros((10, 4))])
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        sim.linear_cka("abc", X)
