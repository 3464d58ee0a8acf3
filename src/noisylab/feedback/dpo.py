"""Direct preference optimisation and its noise-aware variants (cDPO, rDPO).

With h = [log π_θ(y_w|x) − log π_ref(y_w|x)] − [log π_θ(y_l|x) − log π_ref(y_l|x)]:

- DPO (Rafailov et al. 2023, eq. 7):            L = −log σ(β h);
- cDPO (conservative DPO, label smoothing ε):   L = −(1−ε) log σ(β h) − ε log σ(−β h);
- rDPO (Chowdhury et al. 2024, eq. 9):          L = [−(1−ε) log σ(β h) + ε log σ(−β h)] / (1 − 2ε),

where ε is the assumed flip rate (ε < ½ for rDPO). rDPO is unbiased under flips of rate ε:
E_flip[L_rDPO(noisy)] = L_DPO(clean). Our simulated training labels are flipped with rate
p = 0.25 (AlpacaFarm's coin on half of them), so ε = p is the matched setting. β = 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from noisylab.feedback.policy import TransformerPolicy, sequence_logprobs
from noisylab.feedback.sft import adamw, chosen_rejected, clipped_step, set_lr

DPO_LOSSES = ("dpo", "cdpo", "rdpo")


def dpo_loss(h: Tensor, beta: float = 0.1, kind: str = "dpo", eps: float = 0.0) -> Tensor:
    """Per-pair loss of ``kind`` (``dpo``, ``cdpo``, ``rdpo``) at margin h. (n,)"""
    if kind not in DPO_LOSSES:
        raise ValueError(f"unknown DPO loss {kind!r}; expected one of {DPO_LOSSES}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    if kind == "rdpo" and not 0.0 <= eps < 0.5:
        raise ValueError(f"rDPO needs the assumed flip rate eps in [0, 0.5), got {eps!r}")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1], got {eps!r}")
    pos = F.softplus(-beta * h)  # −log σ(βh)
    if kind == "dpo":
        return pos
    neg = F.softplus(beta * h)  # −log σ(−βh)
    if kind == "cdpo":
        return (1.0 - eps) * pos + eps * neg
    return ((1.0 - eps) * pos - eps * neg) / (1.0 - 2.0 * eps)


@dataclass
class DPOLog:
    """Loss, mean margin βh and the fraction of pairs with h > 0, per step."""

    loss: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def train_dpo(
    sft: TransformerPolicy,
    prompts: Tensor,
    y0: Tensor,
    y1: Tensor,
    choices: np.ndarray,
    *,
    kind: str = "dpo",
    beta: float = 0.1,
    eps: float = 0.0,
    steps: int = 200,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[TransformerPolicy, DPOLog]:
    """Train a copy of ``sft`` with the ``kind`` loss on the (noisy) preferences; π_ref = SFT."""
    dpo_loss(torch.zeros(1), beta, kind, eps)  # validate early
    n = prompts.shape[0]
    if n == 0:
        raise ValueError("need at least one preference pair, got 0")
    w, lose = chosen_rejected(y0, y1, choices)
    ref_w = sequence_logprobs(sft, prompts, w)  # (n,)
    ref_l = sequence_logprobs(sft, prompts, lose)
    pi = sft.clone()
    params = pi.trainable_parameters()
    opt = adamw(params, lr)
    g = torch.Generator().manual_seed(seed)
    warm = max(1, min(50, steps // 10))
    log = DPOLog()
    pi.train()
    for step in range(steps):
        set_lr(opt, step, steps, lr, warm)
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        x2 = torch.cat([prompts[idx], prompts[idx]])
        lp = pi.logprobs(x2, torch.cat([w[idx], lose[idx]])).sum(-1)  # (2B,)
        B = idx.shape[0]
        h = (lp[:B] - ref_w[idx]) - (lp[B:] - ref_l[idx])  # (B,)
        loss = dpo_loss(h, beta, kind, eps).mean()
        clipped_step(opt, loss, params)
        log.loss.append(float(loss.detach()))
        log.margin.append(float((beta * h).mean().detach()))
        log.accuracy.append(float((h > 0).float().mean()))
    pi.eval()
    return pi, log
