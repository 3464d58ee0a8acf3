"""Supervised fine-tuning and the supervised feedback baselines (binary FeedME, reward conditioning).

All three minimise the token-level negative log-likelihood of responses given prompts,

    L(θ) = − Σ_{i,t} m_{it} log π_θ(y_{it} | x_i, y_{i,<t}) / Σ_{i,t} m_{it},

(m = response mask, EOS included) with AdamW, linear warm-up then cosine decay and gradient
clipping at 1. They differ only in the data (Dubois et al. 2023, App. A.1):
SFT uses the demonstrations; binary FeedME the chosen response of each preference pair;
binary reward conditioning [POS, x, y_w] and [NEG, x, y_l] (the data doubled), sampled
with POS at test time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from noisylab.feedback.policy import TransformerPolicy, response_mask_t
from noisylab.feedback.world import NEG, POS, with_control


@dataclass(frozen=True)
class TrainLog:
    """Loss per step (mean NLL per token)."""

    losses: list[float]


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to 10% of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))


def fused_kw(params: list[torch.nn.Parameter]) -> dict[str, bool]:
    """``{"fused": True}`` when every parameter is a floating CPU/CUDA tensor, else ``{}``.

    The fused Adam(W) kernel updates all parameters in one call instead of a Python loop
    of small ops per parameter (the same update up to float rounding). CPU support for it
    arrived in torch 2.4; older versions keep the per-parameter loop there."""
    devices = (
        ("cpu", "cuda")
        if torch.torch_version.TorchVersion(torch.__version__) >= "2.4"
        else ("cuda",)
    )
    ok = all(p.is_floating_point() and p.device.type in devices for p in params)
    return {"fused": True} if ok and params else {}


def adamw(
    params: list[torch.nn.Parameter], lr: float, weight_decay: float = 0.0
) -> torch.optim.AdamW:
    """The optimiser every trainer in this package uses: AdamW with β = (0.9, 0.95), fused."""
    return torch.optim.AdamW(
        params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95), **fused_kw(params)
    )


def set_lr(opt: torch.optim.Optimizer, step: int, steps: int, lr: float, warmup: int) -> None:
    """Set every group's learning rate to :func:`lr_at` for ``step``."""
    for group in opt.param_groups:
        group["lr"] = lr_at(step, steps, lr, warmup)


def clipped_step(
    opt: torch.optim.Optimizer, loss: Tensor, params: list[torch.nn.Parameter]
) -> None:
    """Backward ``loss``, clip the gradient norm of ``params`` at 1, step ``opt``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def train_lm(
    policy: TransformerPolicy,
    prompts: Tensor,
    responses: Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    warmup: int | None = None,
    seed: int = 0,
) -> TrainLog:
    """Maximum-likelihood training of ``policy`` on (prompt, response) pairs, in place.

    Parameters
    ----------
    policy : TransformerPolicy
    prompts : Tensor (n, P) int64
    responses : Tensor (n, L) int64
    steps, batch_size, lr, weight_decay : training budget
    warmup : int, optional
        Warm-up steps; default ``min(100, steps // 10)``.
    seed : int
        Minibatch order.
    """
    n = prompts.shape[0]
    if n == 0 or responses.shape[0] != n:
        raise ValueError(
            f"need matching non-empty prompts and responses, got {n} and {responses.shape[0]}"
        )
    if steps < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"steps must be >= 0, batch_size >= 1 and lr > 0; got {steps}, {batch_size}, {lr}"
        )
    warmup = min(100, steps // 10) if warmup is None else warmup
    warmup = max(1, warmup)
    params = policy.trainable_parameters()
    opt = adamw(params, lr, weight_decay)
    g = torch.Generator().manual_seed(seed)
    mask_all = response_mask_t(responses).float()  # (n, L)
    losses = []
    policy.train()
    for step in range(steps):
        set_lr(opt, step, steps, lr, warmup)
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        lp = policy.logprobs(prompts[idx], responses[idx])  # (B, L)
        m = mask_all[idx]
        loss = -(lp * m).sum() / m.sum()
        clipped_step(opt, loss, params)
        losses.append(float(loss.detach()))
    policy.eval()
    return TrainLog(losses)


def chosen_rejected(y0: Tensor, y1: Tensor, choices: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    """Split pairs into (chosen, rejected) responses; ``choices`` = 1 means y1 won. (n, L) each."""
    c = torch.as_tensor(np.asarray(choices), dtype=torch.bool)
    if c.shape[0] != y0.shape[0]:
        raise ValueError(f"choices must have {y0.shape[0]} entries, got {c.shape[0]}")
    w = torch.where(c[:, None], y1, y0)
    lose = torch.where(c[:, None], y0, y1)
    return w, lose


def feedme(
    sft: TransformerPolicy,
    prompts: Tensor,
    y0: Tensor,
    y1: Tensor,
    choices: np.ndarray,
    **train_kw: object,
) -> TransformerPolicy:
    """Binary FeedME: continue SFT on the chosen response of each pair (a new policy)."""
    pi = sft.clone()
    w, _ = chosen_rejected(y0, y1, choices)
    train_lm(pi, prompts, w, **train_kw)  # type: ignore[arg-type]
    return pi


def reward_conditioning(
    sft: TransformerPolicy,
    prompts: Tensor,
    y0: Tensor,
    y1: Tensor,
    choices: np.ndarray,
    **train_kw: object,
) -> TransformerPolicy:
    """Binary reward conditioning: SFT on [POS, x, y_w] and [NEG, x, y_l] (a new policy).

    Sample the result with :func:`positive_prompts` (control token POS in slot 0)."""
    pi = sft.clone()
    w, lose = chosen_rejected(y0, y1, choices)
    pos = torch.as_tensor(with_control(prompts.numpy(), POS))
    neg = torch.as_tensor(with_control(prompts.numpy(), NEG))
    train_lm(pi, torch.cat([pos, neg]), torch.cat([w, lose]), **train_kw)  # type: ignore[arg-type]
    return pi


def positive_prompts(prompts: Tensor) -> Tensor:
    """Prompts with the positive control token, for sampling a reward-conditioned policy."""
    return torch.as_tensor(with_control(prompts.numpy(), POS))
