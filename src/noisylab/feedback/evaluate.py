"""Evaluation: win-rates against a fixed reference, judged by the simulated pool and by gold.

For evaluation prompt i with method response y_i and reference response y^ref_i:

- simulated win w_i = P_pool(y_i ≻ y^ref_i), the noise-free pool's expected judgement
  averaged over its annotators and both presentation orders (a draw is exactly ½);
- gold win g_i = 1[r*(y_i) > r*(y^ref_i)] + ½·1[r*(y_i) = r*(y^ref_i)].

A win-rate is the mean over prompts with standard error sd/√n (AlpacaFarm §3.1 counts a
draw as ½; we take the pool's expectation instead of one sampled label, which only removes
sampling noise). Seeds are combined by :func:`combine_seeds`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from noisylab.feedback.annotators import AnnotatorPool
from noisylab.feedback.policy import Policy, sequence_logprobs
from noisylab.feedback.world import Prompts, gold_reward, spurious_feature


def win_indicators(
    prompts: Prompts, responses: np.ndarray, reference: np.ndarray, pool: AnnotatorPool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-prompt simulated and gold wins of ``responses`` over ``reference``: ((n,), (n,))."""
    g, gref = gold_reward(prompts, responses), gold_reward(prompts, reference)
    s, sref = spurious_feature(responses), spurious_feature(reference)
    sim = pool.without_flips().preference(gref, g, sref, s)
    gold = (g > gref) + 0.5 * (g == gref)
    return sim, gold.astype(float)


def mean_se(x: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error sd/√n (ddof 1; 0 for n ≤ 1)."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else 0.0
    return float(x.mean()), se


def combine_seeds(means: list[float], ses: list[float]) -> tuple[float, float]:
    """Mean over seeds and its standard error.

    With several seeds the prompts are redrawn per seed, so the spread of the seed means
    already contains the prompt noise: SE = sd(means)/√S (ddof 1). With one seed, the
    prompt-level SE is returned. Chosen for simplicity over a hierarchical model."""
    m = np.asarray([v for v in means if v is not None and np.isfinite(v)], dtype=float)
    if m.size == 0:
        return float("nan"), float("nan")
    if m.size == 1:
        return float(m[0]), float(ses[0]) if ses else float("nan")
    return float(m.mean()), float(m.std(ddof=1) / np.sqrt(m.size))


def evaluate_responses(
    prompts: Prompts,
    responses: np.ndarray,
    reference: np.ndarray,
    pool: AnnotatorPool,
    *,
    proxy: np.ndarray | None = None,
    kl: float | None = None,
) -> dict[str, float]:
    """Win-rates (simulated and gold, with SEs), mean gold reward, mean length, and the mean
    proxy reward and KL when given."""
    sim, gold = win_indicators(prompts, responses, reference, pool)
    out: dict[str, float] = {}
    out["win_sim"], out["win_sim_se"] = mean_se(sim)
    out["win_gold"], out["win_gold_se"] = mean_se(gold)
    out["gold"], out["gold_se"] = mean_se(gold_reward(prompts, responses))
    out["length"] = float(spurious_feature(responses).mean())
    out["proxy"] = float(np.mean(proxy)) if proxy is not None else float("nan")
    out["kl"] = float(kl) if kl is not None else float("nan")
    return out


@torch.no_grad()
def kl_to_reference(
    policy: Policy,
    ref: Policy,
    prompts: Tensor,
    responses: Tensor,
    *,
    ref_prompts: Tensor | None = None,
) -> float:
    """Monte-Carlo KL(π ‖ π_ref) = E_{y∼π}[log π(y|x) − log π_ref(y|x)] from samples of π.

    ``ref_prompts`` lets the reference see different prompt tokens (e.g. the SFT policy
    without the control token of a reward-conditioned policy)."""
    lp = sequence_logprobs(policy, prompts, responses)
    lr = sequence_logprobs(ref, prompts if ref_prompts is None else ref_prompts, responses)
    return float((lp - lr).mean())
