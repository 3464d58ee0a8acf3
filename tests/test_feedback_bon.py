"""Best-of-n: the KL bound, the unbiased estimator against brute force, the sampler."""

import math

import numpy as np
import pytest
import torch

from noisylab.feedback import (
    GPTConfig,
    TransformerPolicy,
    best_of_n,
    bon_brute_force,
    bon_estimate,
    bon_weights,
    kl_bound,
    make_prompts,
)
from noisylab.feedback.world import spurious_feature


def test_kl_bound_values():
    assert kl_bound(1) == 0.0
    assert kl_bound(16) == pytest.approx(math.log(16) - 15 / 16)
    assert kl_bound(16) == pytest.approx(1.835, abs=1e-3)
    assert np.all(np.diff(kl_bound(np.arange(1, 100))) > 0)
    with pytest.raises(ValueError, match="n >= 1"):
        kl_bound(0)


@pytest.mark.parametrize("n", [1, 2, 4, 16, 64])
def test_kl_bound_against_the_exact_kl_of_best_of_n(n):
    """For a discrete policy with distinct proxy values the best-of-n law is
    F(i)^n − F(i−1)^n; its KL stays below the bound and approaches it for many outcomes."""
    rng = np.random.default_rng(n)
    for K in (5, 50, 20_000):
        p = rng.dirichlet(np.ones(K)) if K < 1000 else np.full(K, 1.0 / K)
        F = np.cumsum(p)
        q = F**n - np.concatenate([[0.0], F[:-1]]) ** n
        keep = q > 0
        kl = float(np.sum(q[keep] * np.log(q[keep] / p[keep])))
        assert kl <= kl_bound(n) + 1e-9
        if K == 20_000:
            assert kl == pytest.approx(kl_bound(n), abs=2e-3)


def test_weights_are_a_distribution_and_match_binomials():
    N = 10
    for n in range(1, N + 1):
        w = bon_weights(n, N)
        assert w.sum() == pytest.approx(1.0)
        for i in range(1, N + 1):
            want = math.comb(i - 1, n - 1) / math.comb(N, n) if i >= n else 0.0
            assert w[i - 1] == pytest.approx(want)
    with pytest.raises(ValueError, match="1 <= n <= N"):
        bon_weights(11, 10)


def test_unbiased_estimator_equals_brute_force_on_small_n():
    rng = np.random.default_rng(0)
    M, N = 5, 8
    proxy = rng.normal(size=(M, N))
    gold = rng.normal(size=(M, N))
    ns = list(range(1, N + 1))
    est = bon_estimate(proxy, gold, ns)
    for m in range(M):
        for j, n in enumerate(ns):
            assert est[j, m] == pytest.approx(bon_brute_force(proxy[m], gold[m], n))
    assert np.allclose(est[0], gold.mean(axis=1))  # n = 1 is the plain mean
    assert np.allclose(est[-1], gold[np.arange(M), proxy.argmax(axis=1)])  # n = N: argmax


def test_estimator_matches_monte_carlo_resampling():
    rng = np.random.default_rng(1)
    N, n = 30, 4
    proxy, gold = rng.normal(size=N), rng.normal(size=N)
    est = bon_estimate(proxy[None], gold[None], [n])[0, 0]
    picks = [
        gold[s[np.argmax(proxy[s])]]
        for s in (rng.choice(N, n, replace=False) for _ in range(40_000))
    ]
    assert est == pytest.approx(np.mean(picks), abs=0.02)


def test_best_of_n_returns_the_highest_scoring_sample():
    pi = TransformerPolicy(GPTConfig(), seed=0)
    x = torch.as_tensor(make_prompts(6, np.random.default_rng(0)).tokens)

    def length(prompts, responses):
        return torch.as_tensor(spurious_feature(responses.numpy()))

    g = torch.Generator().manual_seed(3)
    picked = best_of_n(pi, length, x, 8, generator=g)
    g = torch.Generator().manual_seed(3)
    from noisylab.feedback import sample_batched

    all_ = sample_batched(pi, x.repeat_interleave(8, 0), generator=g)
    longest = spurious_feature(all_.numpy()).reshape(6, 8).max(axis=1)
    assert np.array_equal(spurious_feature(picked.numpy()), longest)
