"""Expert iteration (AlpacaFarm App. A.2): best-of-n on the unlabeled prompts, then SFT on them.

Each round samples n responses per unlabeled prompt from the current policy at temperature 1,
keeps the reward model's argmax (best-of-16 by default), and continues supervised training of
the current policy on those picks. AlpacaFarm runs one round from the SFT model; ``rounds``
> 1 iterates, which we use to trace reward against KL.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from noisylab.feedback.bon import best_of_n
from noisylab.feedback.policy import TransformerPolicy
from noisylab.feedback.reward import RewardModel
from noisylab.feedback.sft import train_lm


def expert_iteration(
    sft: TransformerPolicy,
    rm: RewardModel,
    prompts: Tensor,
    *,
    n: int = 16,
    rounds: int = 1,
    steps: int = 200,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    callback: Callable[[int, TransformerPolicy], None] | None = None,
) -> TransformerPolicy:
    """Return a new policy after ``rounds`` of best-of-``n`` distillation on ``prompts``.

    ``callback(round, policy)`` is called before round 1 (round 0) and after each round."""
    if rounds < 1:
        raise ValueError(f"expert iteration needs rounds >= 1, got {rounds}")
    pi = sft.clone()
    g = torch.Generator().manual_seed(seed)
    if callback is not None:
        callback(0, pi)
    for r in range(rounds):
        picks = best_of_n(pi, rm.score, prompts, n, generator=g)  # (n_prompts, L)
        train_lm(pi, prompts, picks, steps=steps, batch_size=batch_size, lr=lr, seed=seed + r)
        if callback is not None:
            callback(r + 1, pi)
    return pi
