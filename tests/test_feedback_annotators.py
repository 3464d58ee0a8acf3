"""The simulated annotator pool: Bradley–Terry probabilities, flips at rate p, agreement."""

import numpy as np
import pytest

from noisylab.feedback import Annotator, AnnotatorPool


def pairs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    g0 = rng.choice(np.linspace(0, 1, 5), n)
    g1 = rng.choice(np.linspace(0, 1, 5), n)
    s0 = rng.integers(1, 10, n).astype(float)
    s1 = rng.integers(1, 10, n).astype(float)
    return g0, g1, s0, s1


def test_default_pool_has_13_annotators_in_the_reference_ranges():
    pool = AnnotatorPool.default(0)
    assert pool.size == 13
    assert pool.flip_rate == 0.25
    for a in pool.annotators:
        assert 0.05 <= a.bias <= 0.25
        assert 0.05 <= a.temperature <= 0.30
        assert abs(a.position_bias) <= 0.3


def test_bradley_terry_probability_formula():
    pool = AnnotatorPool((Annotator(0.2, 0.5, 0.1),), 0.0)
    P = pool.probabilities(np.array([0.3]), np.array([0.8]), np.array([2.0]), np.array([5.0]))
    z = ((0.8 + 0.2 * 5) - (0.3 + 0.2 * 2)) / 0.5 + 0.1
    assert P[0, 0] == pytest.approx(1 / (1 + np.exp(-z)))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.4])
def test_flip_rate_is_p_in_expectation(p):
    pool = AnnotatorPool.default(1, flip_rate=p)
    n = 200_000
    lab = pool.label(*pairs(n), seed=3)
    rate = lab.flipped.mean()
    assert np.array_equal(lab.flipped, lab.choices != lab.clean)
    assert abs(rate - p) < 4 * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def test_clean_labels_follow_the_chosen_annotator():
    pool = AnnotatorPool.default(2, flip_rate=0.0)
    g0, g1, s0, s1 = pairs(100_000, 1)
    lab = pool.label(g0, g1, s0, s1, seed=0)
    P = pool.probabilities(g0, g1, s0, s1)[lab.annotator, np.arange(g0.size)]
    assert abs(lab.clean.mean() - P.mean()) < 0.005
    assert np.bincount(lab.annotator, minlength=13).min() > 100_000 / 13 * 0.9


def test_evaluation_preference_is_a_half_for_identical_responses():
    pool = AnnotatorPool.default(0)
    g = np.array([0.5, 0.2])
    s = np.array([3.0, 7.0])
    assert np.allclose(pool.preference(g, g, s, s), 0.5)
    assert np.allclose(pool.without_flips().preference(g, g, s, s), 0.5)


def test_agreement_matches_monte_carlo():
    pool = AnnotatorPool.default(4)
    g0, g1, s0, s1 = pairs(3000, 2)
    exact = pool.agreement(g0, g1, s0, s1)
    rng = np.random.default_rng(0)
    reps = 40
    with_gold, inter = [], []
    differ = g0 != g1
    for _ in range(reps):
        a = pool.label(g0, g1, s0, s1, seed=rng)
        b = pool.label(g0, g1, s0, s1, seed=rng)
        with_gold.append((a.choices == (g1 > g0))[differ].mean())
        same_ann = a.annotator == b.annotator
        inter.append((a.choices == b.choices)[~same_ann].mean())
    assert abs(np.mean(with_gold) - exact["with_gold"]) < 0.01
    assert abs(np.mean(inter) - exact["inter_annotator"]) < 0.01


def test_noise_lowers_agreement_and_low_variance_annotator_agrees_most():
    g0, g1, s0, s1 = pairs(5000, 3)
    noisy = AnnotatorPool.default(0).agreement(g0, g1, s0, s1)
    clean = AnnotatorPool.default(0, flip_rate=0.0).agreement(g0, g1, s0, s1)
    low = AnnotatorPool.low_variance().agreement(g0, g1, s0, s1)
    assert noisy["with_gold"] < clean["with_gold"] < low["with_gold"]
    # with flips p, P' = (1-2p)P + p: agreement shrinks towards ½ by the factor (1 - 2p)
    assert noisy["with_gold"] - 0.5 == pytest.approx(0.5 * (clean["with_gold"] - 0.5))


def test_bad_pool_parameters_raise():
    with pytest.raises(ValueError, match="flip_rate"):
        AnnotatorPool.default(0, flip_rate=0.6)
    with pytest.raises(ValueError, match="temperature"):
        Annotator(0.1, 0.0)
    with pytest.raises(ValueError, match="at least one"):
        AnnotatorPool(())
