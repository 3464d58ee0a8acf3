"""The reward model: the policy architecture with a readout, trained with the Bradley–Terry loss.

Two readouts (the project reference's second design lesson):

``token`` (default)
    R(x, y) = Σ_t m_t [ a · log p_φ(y_t | x, y_<t) + w·h_t + c ], with φ initialised from the
    SFT policy, a = 1 and w = 0, c = 0, so that the untrained model equals the SFT
    log-likelihood of y; h_t is the hidden state after reading y_t. All of φ, a, w, c train.
``eos``
    R(x, y) = w·h_T at the EOS token (AlpacaFarm's scalar head); w starts at 0.

Training minimises −log σ(R(x, y_w) − R(x, y_l)) (Bradley–Terry; Ouyang et al. 2022 and
AlpacaFarm App. A.2) over the (noisy) simulated preferences.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noisylab.feedback.policy import TransformerPolicy, response_mask_t
from noisylab.feedback.sft import adamw, chosen_rejected, clipped_step, set_lr

READOUTS = ("token", "eos")


class RewardModel(nn.Module):
    """R(x, y) on a copy of a policy's transformer (see the module docstring)."""

    def __init__(self, policy: TransformerPolicy, readout: str = "token") -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; expected one of {READOUTS}")
        self.readout = readout
        self.body = copy.deepcopy(policy)
        d = self.body.cfg.d_model
        self.head = nn.Linear(d, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.ll_scale = nn.Parameter(torch.tensor(1.0 if readout == "token" else 0.0))
        if readout == "eos":
            self.ll_scale.requires_grad_(False)

    def token_rewards(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """Per-token contributions whose sum is R(x, y); 0 after EOS. (B, L)"""
        pred, hid = self.body.forward_tokens(prompts, responses)  # (B, L, V), (B, L, D)
        mask = response_mask_t(responses)
        if self.readout == "token":
            logp = torch.log_softmax(pred, dim=-1)
            tok = responses.masked_fill(~mask, 0).clamp_min(0)
            ll = logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)  # (B, L)
            ll = ll.masked_fill(~mask, 0.0)
            r = self.ll_scale * ll + self.head(hid).squeeze(-1)
            return r.masked_fill(~mask, 0.0)
        last = mask.long().sum(1) - 1  # index of EOS (or last slot)
        onehot = F.one_hot(last, responses.shape[1]).bool()  # (B, L)
        return (self.head(hid).squeeze(-1)).masked_fill(~onehot, 0.0)

    def forward(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """R(x, y). (B,)"""
        return self.token_rewards(prompts, responses).sum(-1)

    @torch.no_grad()
    def score(self, prompts: Tensor, responses: Tensor, batch_size: int = 1024) -> Tensor:
        """R(x, y) in chunks without gradients. (B,)"""
        self.eval()
        out = [
            self(prompts[i : i + batch_size], responses[i : i + batch_size])
            for i in range(0, prompts.shape[0], batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0)


def bradley_terry_loss(r_chosen: Tensor, r_rejected: Tensor) -> Tensor:
    """Mean of −log σ(R_w − R_l) = softplus(R_l − R_w). Scalar."""
    return F.softplus(r_rejected - r_chosen).mean()


def train_reward_model(
    rm: RewardModel,
    prompts: Tensor,
    y0: Tensor,
    y1: Tensor,
    choices: np.ndarray,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Fit ``rm`` in place with the Bradley–Terry loss; returns the loss per step."""
    w, lose = chosen_rejected(y0, y1, choices)
    n = prompts.shape[0]
    if n == 0:
        raise ValueError("need at least one preference pair, got 0")
    params = [p for p in rm.parameters() if p.requires_grad]
    opt = adamw(params, lr)
    g = torch.Generator().manual_seed(seed)
    warm = max(1, min(50, steps // 10))
    losses = []
    rm.train()
    for step in range(steps):
        set_lr(opt, step, steps, lr, warm)
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        both = rm(torch.cat([prompts[idx], prompts[idx]]), torch.cat([w[idx], lose[idx]]))
        loss = bradley_terry_loss(both[: len(idx)], both[len(idx) :])
        clipped_step(opt, loss, params)
        losses.append(float(loss.detach()))
    rm.eval()
    return losses


def preference_accuracy(
    r0: np.ndarray | Tensor, r1: np.ndarray | Tensor, gold0: np.ndarray, gold1: np.ndarray
) -> float:
    """Fraction of pairs with distinct gold rewards where sign(R1 − R0) = sign(r*1 − r*0);
    reward ties count ½."""
    r0, r1 = np.asarray(r0, dtype=float), np.asarray(r1, dtype=float)
    g0, g1 = np.asarray(gold0, dtype=float), np.asarray(gold1, dtype=float)
    keep = g0 != g1
    if not keep.any():
        return float("nan")
    agree = np.sign(r1 - r0)[keep] * np.sign(g1 - g0)[keep]
    return float(np.mean((agree > 0) + 0.5 * (agree == 0)))
