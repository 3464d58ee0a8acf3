"""Quark: reward-quantile conditioning with a KL penalty (Lu et al. 2022; AlpacaFarm App. A.2).

A data pool starts with SFT samples on the training prompts. Each round: samples from the
current policy conditioned on the highest quantile token are scored by the reward model and
added to the pool; the pool is split into K reward quantiles (K = 4), each sample is tagged
with its quantile token q_k in the prompt's control slot, and the policy is trained on

    L = − log π_θ(y | q_k, x) + β · Σ_t KL(π_θ(·|q_k, x, y_<t) ‖ π_ref(·|x, y_<t)),   β = 0.05.

AlpacaFarm's default (used here) is the top-quantile mode: only the top quantile's samples are
trained on. At test time the policy is sampled with the top token.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from noisylab.feedback.policy import TransformerPolicy, response_mask_t, sample_batched
from noisylab.feedback.reward import RewardModel
from noisylab.feedback.sft import adamw, clipped_step, set_lr
from noisylab.feedback.world import N_QUANTILES, QUANTILE_TOKENS, with_control


def quantile_bins(scores: np.ndarray, k: int = N_QUANTILES) -> np.ndarray:
    """Reward quantile of each score, 0 (lowest) .. k−1 (highest), by rank: equal-count bins
    (ties broken by position, a stable sort). (n,) int64"""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1 or k < 1:
        raise ValueError(f"need 1-D scores and k >= 1, got shape {s.shape} and k={k}")
    order = np.argsort(s, kind="stable")
    ranks = np.empty(s.size, dtype=np.int64)
    ranks[order] = np.arange(s.size)
    return (ranks * k // max(s.size, 1)).astype(np.int64)


def top_prompts(prompts: Tensor) -> Tensor:
    """Prompts carrying the highest quantile token (for sampling a Quark policy)."""
    return torch.as_tensor(with_control(prompts.numpy(), QUANTILE_TOKENS[-1]))


def quark(
    sft: TransformerPolicy,
    rm: RewardModel,
    prompts: Tensor,
    *,
    rounds: int = 3,
    samples_per_round: int = 1024,
    steps_per_round: int = 60,
    beta: float = 0.05,
    top_only: bool = True,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> TransformerPolicy:
    """Train a copy of ``sft`` with Quark; sample the result with :func:`top_prompts`."""
    if rounds < 1 or samples_per_round < N_QUANTILES:
        raise ValueError(
            f"need rounds >= 1 and samples_per_round >= {N_QUANTILES}, got {rounds}, "
            f"{samples_per_round}"
        )
    g = torch.Generator().manual_seed(seed)
    pi = sft.clone()
    n = prompts.shape[0]
    pool_x: list[Tensor] = []
    pool_y: list[Tensor] = []
    pool_r: list[Tensor] = []
    idx = torch.randint(0, n, (samples_per_round,), generator=g)
    y = sample_batched(sft, prompts[idx], generator=g)
    pool_x.append(prompts[idx])
    pool_y.append(y)
    pool_r.append(rm.score(prompts[idx], y))
    params = pi.trainable_parameters()
    opt = adamw(params, lr)
    total = rounds * steps_per_round
    step = 0
    for r in range(rounds):
        if r > 0:
            idx = torch.randint(0, n, (samples_per_round,), generator=g)
            y = sample_batched(pi, top_prompts(prompts[idx]), generator=g)
            pool_x.append(prompts[idx])
            pool_y.append(y)
            pool_r.append(rm.score(prompts[idx], y))
        X, Y, R = torch.cat(pool_x), torch.cat(pool_y), torch.cat(pool_r)
        q = quantile_bins(R.numpy())
        keep = np.flatnonzero(q == N_QUANTILES - 1) if top_only else np.arange(len(q))
        Xc = torch.as_tensor(np.asarray(X.numpy(), dtype=np.int64).copy())
        Xc[:, 0] = torch.as_tensor(np.asarray(QUANTILE_TOKENS)[q])
        Xk, Xplain, Yk = Xc[keep], X[keep], Y[keep]
        pi.train()
        for _ in range(steps_per_round):
            set_lr(opt, step, total, lr, max(1, total // 10))
            b = torch.randint(0, len(keep), (min(batch_size, len(keep)),), generator=g)
            pred, _ = pi.forward_tokens(Xk[b], Yk[b])
            logp = torch.log_softmax(pred, -1)  # (B, L, V)
            with torch.no_grad():
                ref = torch.log_softmax(sft.forward_tokens(Xplain[b], Yk[b])[0], -1)
            mask = response_mask_t(Yk[b]).float()
            tok = Yk[b].clamp_min(0).unsqueeze(-1)
            nll = -(logp.gather(-1, tok).squeeze(-1) * mask).sum() / mask.sum()
            kl_t = (logp.exp() * (logp - ref).nan_to_num(0.0, 0.0, 0.0)).sum(-1)  # (B, L)
            kl = (kl_t * mask).sum() / mask.sum()
            loss = nll + beta * kl
            clipped_step(opt, loss, params)
            step += 1
        pi.eval()
    return pi
