"""The fast linear-CKA paths (row-blocked syrk, member-by-member pairwise) equal the Gram form."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from noisylab import similarity as sim
from noisylab.similarity._validate import check_finite

cka_mod = importlib.import_module("noisylab.similarity.cka")


def _pair(n=60, p1=7, p2=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p1))
    Y = X[:, :p2] @ rng.standard_normal((p2, p2)) + 0.5 * rng.standard_normal((n, p2))
    X[:, 2] = 0.1  # constant columns whose mean is not exactly representable
    Y[:, 4] = -7.3
    X[:, 5] = 0.0
    return X, Y


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("block", [1, 8 * 12 * 7, 2**30])
def test_feature_form_blocks_equal_gram_form(monkeypatch, debiased, block):
    """Any row-block size gives the Gram form's value, constant columns contributing 0."""
    monkeypatch.setattr(cka_mod, "FEATURE_BLOCK_BYTES", block)
    X, Y = _pair()
    got = sim.linear_cka(X, Y, debiased=debiased, form="feature")
    ref = sim.linear_cka(X, Y, debiased=debiased, form="gram")
    assert got == pytest.approx(ref, abs=1e-12)
    keep = [c for c in range(X.shape[1]) if c not in (2, 5)]
    dropped = sim.linear_cka(X[:, keep], Y[:, :4], debiased=debiased, form="gram")
    assert got == pytest.approx(dropped, abs=1e-12)


def test_feature_form_large_offsets_and_all_constant():
    X, Y = _pair(seed=3)
    base = sim.linear_cka(X, Y)
    assert sim.linear_cka(X + 1e6, Y - 3e5) == pytest.approx(base, abs=1e-9)
    assert sim.linear_cka(np.full((30, 4), 2.5), Y[:30]) == 0.0
    assert sim.linear_cka(X, X, debiased=True) == pytest.approx(1.0, abs=1e-12)


def test_constant_columns_mask_is_exact():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((50, 4)))
    x[:, 1] = 0.1
    x[:, 3] = 1.0 + 1e-15 * torch.arange(50, dtype=torch.float64)  # tiny but real variance
    m = x.mean(0)
    sq = (x - m).square().sum(0)
    assert cka_mod.constant_columns(x, m, sq).tolist() == [False, True, False, False]


def test_finite_check_catches_nan_inf_but_not_overflowing_sums():
    X, Y = _pair()
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        sim.linear_cka(bad, Y)
    bad[3, 1] = -np.inf
    with pytest.raises(ValueError, match="reps contains 1 NaN"):
        sim.pairwise(np.stack([bad, X]), "linear_cka")
    check_finite(
        torch.tensor([1e308, 1e308, -2.0], dtype=torch.float64), "x"
    )  # the sum overflows; values finite
    with pytest.raises(ValueError, match="x contains 2 NaN"):
        check_finite(torch.tensor([1e308, np.inf, np.nan], dtype=torch.float64), "x")


@pytest.mark.parametrize("debiased", [False, True])
def test_pairwise_cka_equals_loop_to_1e10(debiased):
    rng = np.random.default_rng(2)
    shared = rng.standard_normal((80, 9))
    reps = np.stack([shared + rng.standard_normal((80, 9)) + 50.0 * i for i in range(5)])
    reps[1, :, 3] = 0.3
    reps[4, :, 0] = 0.0
    res = sim.pairwise(reps, "linear_cka", debiased=debiased).matrix
    loop = [[sim.linear_cka(a, b, debiased=debiased) for b in reps] for a in reps]
    np.testing.assert_allclose(res, loop, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res, res.T, rtol=0, atol=1e-15)


def test_pairwise_float32_is_upcast_per_member():
    """float32 stacks are compared in float64: same as the loop on the same float32 arrays."""
    rng = np.random.default_rng(4)
    reps = rng.standard_normal((4, 50, 6)).astype(np.float32)
    res = sim.pairwise(torch.from_numpy(reps), "linear_cka").matrix
    loop = [[sim.linear_cka(a, b) for b in reps] for a in reps]
    np.testing.assert_allclose(res, loop, rtol=0, atol=1e-10)
