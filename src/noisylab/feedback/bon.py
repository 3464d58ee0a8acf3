"""Best-of-n sampling, its analytic KL bound and the unbiased estimator from N scored samples.

Best-of-n draws n responses from the policy and returns the reward model's argmax
(AlpacaFarm App. A.2, n = 16). Its KL to the sampling policy is at most
log n − (n − 1)/n (Stiennon et al. 2020; Gao et al. 2022, §2.2), the formula we use for its
√KL axis. From N ≥ n samples sorted by proxy reward, y_(1) ≤ … ≤ y_(N), the expected value of
any statistic f of the best-of-n pick is, without bias (Gao et al. 2022, App. I),

    E[f(BoN_n)] = Σ_{i=n}^{N} C(i−1, n−1) / C(N, n) · f(y_(i)),

because y_(i) is the argmax of a uniformly random n-subset with probability
C(i−1, n−1)/C(N, n). Proxy ties are broken by sample index (a stable sort).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import gammaln
from torch import Tensor

from noisylab.feedback.policy import Policy, sample_batched


def kl_bound(n: int | np.ndarray) -> np.ndarray | float:
    """log n − (n − 1)/n, the KL bound of best-of-n (0 at n = 1; 1.835 at n = 16)."""
    a = np.asarray(n, dtype=float)
    if np.any(a < 1):
        raise ValueError(f"best-of-n needs n >= 1, got {n!r}")
    out = np.log(a) - (a - 1.0) / a
    return float(out) if out.ndim == 0 else out


def bon_weights(n: int, N: int) -> np.ndarray:
    """w_i = C(i−1, n−1)/C(N, n) for ranks i = 1..N (zero below n); they sum to 1. (N,)"""
    if not 1 <= n <= N:
        raise ValueError(f"best-of-n needs 1 <= n <= N, got n={n}, N={N}")
    i = np.arange(1, N + 1, dtype=float)
    w = np.zeros(N)
    k = i >= n
    ii = i[k]
    logc = gammaln(ii) - gammaln(n) - gammaln(ii - n + 1)  # log C(i−1, n−1)
    logn = gammaln(N + 1) - gammaln(n + 1) - gammaln(N - n + 1)  # log C(N, n)
    w[k] = np.exp(logc - logn)
    return w


def bon_estimate(proxy: np.ndarray, values: np.ndarray, ns: list[int] | np.ndarray) -> np.ndarray:
    """Unbiased E[f(BoN_n)] per prompt for each n.

    Parameters
    ----------
    proxy : np.ndarray (M, N)
        Reward-model scores of N samples for each of M prompts.
    values : np.ndarray (M, N)
        The statistic f of each sample (gold reward, a win indicator, length, ...).
    ns : sequence of int, each in [1, N]

    Returns
    -------
    np.ndarray (len(ns), M)
    """
    proxy, values = np.asarray(proxy, dtype=float), np.asarray(values, dtype=float)
    if proxy.ndim != 2 or proxy.shape != values.shape:
        raise ValueError(
            f"proxy and values must both be (M, N), got {proxy.shape} and {values.shape}"
        )
    order = np.argsort(proxy, axis=1, kind="stable")
    sorted_vals = np.take_along_axis(values, order, axis=1)  # (M, N) ascending by proxy
    N = proxy.shape[1]
    W = np.stack([bon_weights(int(n), N) for n in ns])  # (len(ns), N)
    return W @ sorted_vals.T


def bon_brute_force(proxy: np.ndarray, values: np.ndarray, n: int) -> float:
    """E[f(BoN_n)] for one prompt by enumerating all n-subsets (tests; small N only)."""
    from itertools import combinations

    proxy, values = np.asarray(proxy, float), np.asarray(values, float)
    N = proxy.shape[0]
    order = np.argsort(proxy, kind="stable")
    rank = np.empty(N, dtype=int)
    rank[order] = np.arange(N)
    tot = 0.0
    for sub in combinations(range(N), n):
        best = max(sub, key=lambda j: rank[j])
        tot += values[best]
    return tot / math.comb(N, n)


@torch.no_grad()
def best_of_n(
    policy: Policy,
    score: object,
    prompts: Tensor,
    n: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 512,
) -> Tensor:
    """Sample n responses per prompt and return the highest-scoring one. (B, L)

    ``score(prompts, responses) -> (B,)`` is usually ``RewardModel.score``."""
    if n < 1:
        raise ValueError(f"best-of-n needs n >= 1, got {n}")
    B = prompts.shape[0]
    rep = prompts.repeat_interleave(n, dim=0)  # (B·n, P)
    ys = sample_batched(
        policy, rep, temperature=temperature, generator=generator, batch_size=batch_size
    )
    s = torch.as_tensor(score(rep, ys)).view(B, n)  # type: ignore[operator]
    pick = s.argmax(dim=1)
    return ys.view(B, n, -1)[torch.arange(B), pick]
