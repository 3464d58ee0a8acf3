"""PPO against the reward model with a per-token KL penalty to the SFT policy (AlpacaFarm App. A.2).

Per rollout (x, y_1..y_T) from π_old, the token rewards are

    r_t = −β · (log π_old(y_t|·) − log π_ref(y_t|·)) + 1[t = T] · R̃(x, y),

where R̃ is the reward model's score standardised by the mean and standard deviation of its
scores on the SFT policy's own samples, fixed before training (our reading of AlpacaFarm's
"whitened rewards": it keeps β in units of reward-model standard deviations). Advantages use
GAE (Schulman et al. 2016) with γ = λ = 1 by default,

    δ_t = r_t + γ V_{t+1} − V_t,   A_t = Σ_k (γλ)^k δ_{t+k},   returns G_t = A_t + V_t,

then are whitened per batch. The losses are PPO's clipped surrogate (clip 0.2) and the clipped
value loss (value clip 0.2, coefficient 0.1) (Schulman et al. 2017; Ziegler et al. 2019).
The value network is a copy of the reward model's transformer whose head reads the state
before each token, initialised from the reward model's head. β is fixed (AlpacaFarm) or
adaptive (Ziegler et al. 2019): β ← β·(1 + clip((KL − KL_target)/KL_target, ±0.2)·B/H).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from noisylab.feedback.policy import TransformerPolicy, forward_trimmed, response_mask_t
from noisylab.feedback.reward import RewardModel
from noisylab.feedback.sft import clipped_step, fused_kw


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimates and returns over masked token sequences.

    Parameters
    ----------
    rewards, values : Tensor (B, L)
        Per-token rewards r_t and values V_t (V after the last token is 0).
    mask : Tensor (B, L) bool
        Response positions (a prefix of each row).

    Returns
    -------
    advantages, returns : Tensor (B, L), 0 outside the mask.
    """
    m = mask.float()
    r, v = rewards * m, values * m
    B, L = r.shape
    adv = torch.zeros_like(r)
    last = torch.zeros(B, dtype=r.dtype)
    for t in reversed(range(L)):
        v_next = v[:, t + 1] if t + 1 < L else torch.zeros(B, dtype=r.dtype)
        delta = r[:, t] + gamma * v_next - v[:, t]
        last = delta + gamma * lam * last
        last = last * m[:, t]
        adv[:, t] = last
    return adv, (adv + v) * m


def whiten(x: Tensor, mask: Tensor, shift_mean: bool = True) -> Tensor:
    """Standardise the masked entries of x (mean 0, std 1); others unchanged."""
    m = mask.bool()
    vals = x[m]
    mean, std = vals.mean(), vals.std(unbiased=False).clamp_min(1e-8)
    out = (x - mean) / std if shift_mean else x / std
    return torch.where(m, out, x)


def kl_estimate(logp: Tensor, logp_ref: Tensor, mask: Tensor) -> Tensor:
    """Monte-Carlo sequence KL(π ‖ π_ref) per response, Σ_t (log π − log π_ref) on samples
    of π; its expectation is ≥ 0 and it is exactly 0 when the policies are equal. (B,)"""
    return ((logp - logp_ref) * mask.float()).sum(-1)


class ValueModel(nn.Module):
    """V(s_t) for the state before each response token: the reward model's transformer with
    its head (a linear map of the hidden state), initialised from the reward model."""

    def __init__(self, rm: RewardModel) -> None:
        super().__init__()
        self.body = copy.deepcopy(rm.body.model)
        self.head = copy.deepcopy(rm.head)

    def forward(self, prompts: Tensor, responses: Tensor) -> Tensor:
        P = prompts.shape[1]
        _, h = forward_trimmed(self.body, prompts, responses)  # 0 after each row's EOS
        state = h[:, P - 1 : -1]  # (B, L, D) hidden before each response token
        return self.head(state).squeeze(-1)  # (B, L)


@dataclass
class PPOConfig:
    """AlpacaFarm's PPO settings, scaled to the small world."""

    steps: int = 100
    batch_size: int = 64
    ppo_epochs: int = 2
    minibatches: int = 2
    lr: float = 5e-4
    beta: float = 0.02
    adaptive_kl: bool = False
    kl_target: float = 1.0
    kl_horizon: int = 10_000
    clip: float = 0.2
    value_clip: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 1.0
    temperature: float = 1.0


@dataclass
class PPOLog:
    """Per-step training statistics."""

    step: list[int] = field(default_factory=list)
    proxy: list[float] = field(default_factory=list)
    gold: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    clip_frac: list[float] = field(default_factory=list)
    explained_var: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)


def ppo(
    sft: TransformerPolicy,
    rm: RewardModel,
    prompts: Tensor,
    *,
    config: PPOConfig | None = None,
    seed: int = 0,
    gold: Callable[[np.ndarray, Tensor], np.ndarray] | None = None,
    callback: Callable[[int, TransformerPolicy], None] | None = None,
    reward_norm: tuple[float, float] | None = None,
) -> tuple[TransformerPolicy, PPOLog]:
    """Optimise a copy of ``sft`` against ``rm`` with PPO; returns the policy and its log.

    Parameters
    ----------
    prompts : Tensor (n, P)
        Rollout prompts (AlpacaFarm uses the unlabeled split).
    gold : callable(prompt_indices, responses) -> (B,) gold rewards, optional
        Logged per step (never used for training).
    callback : callable(step, policy), optional
        Called before step 0 and after every step (for evaluation along training).
    reward_norm : (mean, std), optional
        Standardisation of the reward-model scores; default: from SFT samples of ``prompts``.
    """
    cfg = config or PPOConfig()
    if cfg.steps < 0 or cfg.batch_size < 1 or not cfg.beta >= 0:
        raise ValueError(
            f"need steps >= 0, batch_size >= 1, beta >= 0; got {cfg.steps}, {cfg.batch_size}, "
            f"{cfg.beta}"
        )
    g = torch.Generator().manual_seed(seed)
    n = prompts.shape[0]
    if reward_norm is None:
        idx = torch.randperm(n, generator=g)[: min(n, 512)]
        ys = sft.sample(prompts[idx], generator=g, temperature=cfg.temperature)
        sc = rm.score(prompts[idx], ys)
        reward_norm = (float(sc.mean()), float(sc.std().clamp_min(1e-6)))
    mu, sd = reward_norm
    pi = sft.clone()
    value = ValueModel(rm)
    params = pi.trainable_parameters() + list(value.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.95), **fused_kw(params))
    beta = cfg.beta
    log = PPOLog()
    if callback is not None:
        callback(0, pi)
    for step in range(cfg.steps):
        idx = torch.randint(0, n, (min(cfg.batch_size, n),), generator=g)
        x = prompts[idx]
        with torch.no_grad():
            y = pi.sample(x, generator=g, temperature=cfg.temperature)  # (B, L)
            mask = response_mask_t(y)
            old_lp = pi.logprobs(x, y)
            ref_lp = sft.logprobs(x, y)
            score = rm.score(x, y)  # (B,)
            v_old = value(x, y) * mask
            last = mask.long().sum(1) - 1
            rewards = -beta * (old_lp - ref_lp)
            rewards[torch.arange(len(idx)), last] += (score - mu) / sd
            adv, ret = gae(rewards, v_old, mask, cfg.gamma, cfg.lam)
            adv = whiten(adv, mask)
            kl_seq = kl_estimate(old_lp, ref_lp, mask)
        clips, ents = [], []
        pi.train()
        for _ in range(cfg.ppo_epochs):
            perm = torch.randperm(len(idx), generator=g)
            for mb in perm.chunk(cfg.minibatches):
                mmask = mask[mb].float()
                lp = pi.logprobs(x[mb], y[mb])
                ratio = torch.exp(lp - old_lp[mb])
                a = adv[mb]
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip))
                pg_loss = (pg * mmask).sum() / mmask.sum()
                v = value(x[mb], y[mb])
                v_clip = v_old[mb] + (v - v_old[mb]).clamp(-cfg.value_clip, cfg.value_clip)
                vf = torch.max((v - ret[mb]) ** 2, (v_clip - ret[mb]) ** 2)
                vf_loss = 0.5 * (vf * mmask).sum() / mmask.sum()
                loss = pg_loss + cfg.vf_coef * vf_loss
                clipped_step(opt, loss, params)
                with torch.no_grad():
                    out = ((ratio - 1).abs() > cfg.clip).float()
                    clips.append(float((out * mmask).sum() / mmask.sum()))
        pi.eval()
        with torch.no_grad():
            ent = pi.token_entropy(x, y)
            ents.append(float((ent * mask).sum() / mask.sum()))
            resid = (ret - v_old)[mask]
            ev = 1.0 - float(resid.var() / ret[mask].var().clamp_min(1e-8))
        log.step.append(step + 1)
        log.proxy.append(float(score.mean()))
        log.gold.append(float(np.mean(gold(idx.numpy(), y))) if gold is not None else float("nan"))
        log.kl.append(float(kl_seq.mean()))
        log.entropy.append(float(np.mean(ents)))
        log.clip_frac.append(float(np.mean(clips)))
        log.explained_var.append(ev)
        log.beta.append(beta)
        if cfg.adaptive_kl:
            err = float(np.clip((kl_seq.mean().item() - cfg.kl_target) / cfg.kl_target, -0.2, 0.2))
            beta *= 1.0 + err * len(idx) / cfg.kl_horizon
        if callback is not None:
            callback(step + 1, pi)
    return pi, log
