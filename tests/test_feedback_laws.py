"""Gao et al.'s over-optimisation forms and the inverted-U test."""

import numpy as np
import pytest

from noisylab.feedback.laws import fit_gao, gao_curve, inverted_u


@pytest.mark.parametrize("form", ["bon", "rl"])
def test_fit_recovers_exact_coefficients_and_the_peak(form):
    d = np.linspace(0.0, 4.0, 25)
    y = gao_curve(form, d, 0.8, 0.3)
    f = fit_gao(form, d, y)
    assert f["alpha"] == pytest.approx(0.8, abs=1e-9)
    assert f["beta"] == pytest.approx(0.3, abs=1e-9)
    assert f["r2"] == pytest.approx(1.0)
    dense = np.linspace(1e-6, 50.0, 400_001)
    assert f["d_peak"] == pytest.approx(
        dense[np.argmax(gao_curve(form, dense, 0.8, 0.3))], rel=1e-3
    )


def test_fit_with_noise_is_close_and_r2_below_one():
    rng = np.random.default_rng(0)
    d = np.sqrt(np.log(2.0 ** np.arange(9)) - (2.0 ** np.arange(9) - 1) / 2.0 ** np.arange(9))
    y = gao_curve("bon", d, 0.2, 0.06) + rng.normal(0, 0.002, d.size)
    f = fit_gao("bon", d, y)
    assert f["alpha"] == pytest.approx(0.2, abs=0.02) and f["beta"] == pytest.approx(0.06, abs=0.02)
    assert 0.9 < f["r2"] < 1.0


def test_rl_form_is_zero_at_the_origin_and_fit_handles_degenerate_input():
    assert gao_curve("rl", np.array([0.0]), 1.0, 1.0)[0] == 0.0
    f = fit_gao("rl", np.array([0.0, 1.0]), np.array([0.0, 0.1]))
    assert np.isnan(f["alpha"])  # one non-zero distance cannot fix two coefficients
    d = np.array([0.0, 1.0, 2.0, 3.0])
    convex = fit_gao("bon", d, d + 0.1 * d**2)
    assert convex["beta"] == pytest.approx(-0.1) and convex["d_peak"] == np.inf  # no peak
    with pytest.raises(ValueError, match="unknown Gao form"):
        fit_gao("linear", np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="√KL"):
        fit_gao("bon", np.array([-1.0, 1.0, 2.0]), np.ones(3))


def test_inverted_u_needs_a_rise_a_fall_and_a_rising_proxy():
    rising = np.arange(5.0)
    assert inverted_u(np.array([0.0, 0.5, 0.3, 0.2, 0.1]), rising)["inverted_u"]
    assert not inverted_u(np.arange(5.0), rising)["inverted_u"]  # monotone gold
    assert not inverted_u(np.array([0.5, 0.4, 0.3, 0.2, 0.1]), rising)["inverted_u"]  # no rise
    falling_proxy = np.array([0.0, 3.0, 2.0, 1.0, 0.5])
    assert not inverted_u(np.array([0.0, 0.5, 0.3, 0.2, 0.1]), falling_proxy)["inverted_u"]
    s = inverted_u(np.array([0.0, 0.05, 0.02]), np.arange(3.0), tol=0.04)
    assert s["rise"] == pytest.approx(0.05) and s["fall"] == pytest.approx(0.03)
    assert not s["inverted_u"]  # the fall is within the tolerance
    with pytest.raises(ValueError, match="length >= 3"):
        inverted_u(np.zeros(2), np.zeros(2))
