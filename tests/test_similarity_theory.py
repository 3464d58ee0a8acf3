"""The linear-network alignment theory and its GD simulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisylab.similarity import linear_cka
from noisylab.similarity.theory import (
    cka_finite_size,
    cka_theory,
    cos_theory,
    simulate_linear,
    train_linear2,
)

# "predicted" column of the reference table (d = 200): α → CKA at SNR 2 and 8
ALPHAS = [0.25, 0.5, 0.8, 1.25, 2.0, 4.0]
PREDICTED = {
    2.0: [0.360, 0.250, 0.082, 0.111, 0.444, 0.735],
    8.0: [0.735, 0.640, 0.379, 0.444, 0.790, 0.922],
}


@pytest.mark.parametrize("snr", [2.0, 8.0])
def test_closed_form_matches_reference_table(snr):
    np.testing.assert_allclose(cka_theory(snr, ALPHAS), PREDICTED[snr], atol=6e-4)


def test_closed_form_limits_and_shape():
    assert float(cka_theory(5.0, 1.0)) == 0.0  # collapses at the interpolation threshold
    assert float(cka_theory(np.inf, 3.0)) == 1.0
    assert float(cka_theory(0.0, 3.0)) == 0.0
    snrs = np.geomspace(0.1, 100, 20)
    assert np.all(np.diff(cka_theory(snrs, 2.0)) > 0)  # rises with SNR
    a = np.linspace(0.1, 5, 200)
    c = cka_theory(2.0, a)
    assert abs(a[np.argmin(c)] - 1.0) < 0.03  # minimum at α = 1, recovery on both sides
    assert cos_theory([1, 2], [3, 3]).shape == (2,)
    with pytest.raises(ValueError, match="alpha"):
        cka_theory(1.0, 0.0)
    with pytest.raises(ValueError, match="snr"):
        cka_theory(-1.0, 2.0)


def test_finite_size_formula_matches_monte_carlo():
    """E⟨ŵ_a, ŵ_b⟩ / E‖ŵ‖² over noise draws equals √(cka_finite_size) for a fixed X."""
    rng = np.random.default_rng(0)
    n, d, sigma = 30, 20, 0.6
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    for ridge in (0.0, 3.0):
        A = np.linalg.solve(X.T @ X + ridge * np.eye(d), X.T) if ridge else np.linalg.pinv(X)
        W = (X @ beta + sigma * rng.standard_normal((20000, n))) @ A.T  # (draws, d)
        inner = np.mean(np.sum(W[::2] * W[1::2], axis=1))
        norm = np.mean(np.sum(W**2, axis=1))
        assert np.sqrt(cka_finite_size(X, beta, sigma, ridge)) == pytest.approx(
            inner / norm, rel=0.03
        )
    # at large d the finite-size value approaches the closed form
    X = rng.standard_normal((800, 400))
    beta = rng.standard_normal(400)
    beta /= np.linalg.norm(beta)
    assert cka_finite_size(X, beta, sigma=0.5) == pytest.approx(
        float(cka_theory(4.0, 2.0)), abs=0.02
    )
    with pytest.raises(ValueError, match="d = len"):
        cka_finite_size(X, beta[:3], 1.0)


def test_gd_converges_to_min_norm_with_rank_one_hidden_layer():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    for n, d in ((20, 40), (80, 40)):
        X = rng.standard_normal((n, d))
        Y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal((3, n))  # (M, n)
        fit = train_linear2(X, Y, rng.standard_normal((100, d)), width=8)
        assert fit.converged
        w_min = (np.linalg.pinv(X) @ Y.T).T  # (M, d)
        w = fit.weights.numpy()
        rel = np.linalg.norm(w - w_min, axis=1) / np.linalg.norm(w_min, axis=1)
        assert rel.max() < 0.02
        s = torch.linalg.svdvals(fit.reps[0])
        assert float(s[1] / s[0]) < 0.02  # hidden representation ≈ rank one


def test_shared_init_makes_identical_targets_identical_members():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 10))
    y = X @ rng.standard_normal(10)
    fit = train_linear2(X, np.stack([y, y]), rng.standard_normal((50, 10)), max_steps=500)
    assert torch.equal(fit.reps[0], fit.reps[1])
    assert linear_cka(fit.reps[0], fit.reps[1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same n"):
        train_linear2(X, np.stack([y[:5], y[:5]]), X)


@pytest.mark.slow
def test_theory_agrees_with_simulation_on_tiny_grid():
    """The cos² estimate tracks GD-trained linear2 ensembles (d = 50, 8 members).

    Slow (~10 CPU-s); the fast suite checks the same agreement through the study's tiny
    preset (``test_study_alignment.py::test_tiny_preset_end_to_end``).
    """
    sims = [
        simulate_linear(n, 50, snr, members=8, n_probe=400, max_steps=6000)
        for snr in (1.0, 4.0)
        for n in (12, 25, 38, 100, 200)
    ]
    err = [abs(s.cka - s.theory) for s in sims]
    assert np.mean(err) <= 0.05
    assert np.mean([abs(s.cka - s.theory_finite) for s in sims]) <= 0.05
    by = {(s.snr, s.n): s.cka for s in sims}
    assert by[(4.0, 200)] > by[(1.0, 200)]  # rises with SNR
    assert by[(4.0, 38)] < min(by[(4.0, 12)], by[(4.0, 200)])  # dips near α = 1
    again = simulate_linear(25, 50, 4.0, members=8, n_probe=400, max_steps=6000)
    assert again.cka == by[(4.0, 25)]  # same seed, same numbers
