"""The reward model: SFT-likelihood initialisation, Bradley–Terry training, accuracy."""

import numpy as np
import pytest
import torch

from noisylab.feedback import (
    GPTConfig,
    RewardModel,
    TransformerPolicy,
    bradley_terry_loss,
    make_prompts,
    pack_responses,
    preference_accuracy,
    sequence_logprobs,
    train_reward_model,
)
from noisylab.feedback.world import LETTERS


def test_bradley_terry_loss_formula():
    rw = torch.tensor([2.0, 0.0, -1.0])
    rl = torch.tensor([1.0, 0.0, 1.0])
    want = -torch.log(torch.sigmoid(rw - rl)).mean()
    assert torch.allclose(bradley_terry_loss(rw, rl), want)
    assert bradley_terry_loss(torch.tensor([0.0]), torch.tensor([0.0])) == pytest.approx(np.log(2))


def test_untrained_token_readout_equals_the_sft_log_likelihood():
    pi = TransformerPolicy(GPTConfig(), seed=0)
    x = torch.as_tensor(make_prompts(6, np.random.default_rng(0)).tokens)
    y = pi.sample(x, generator=torch.Generator().manual_seed(1))
    rm = RewardModel(pi, "token")
    assert torch.allclose(rm.score(x, y), sequence_logprobs(pi, x, y), atol=1e-5)
    assert torch.allclose(RewardModel(pi, "eos").score(x, y), torch.zeros(6))


@pytest.mark.parametrize("readout", ["token", "eos"])
def test_bradley_terry_reward_model_separates_a_separable_toy(readout):
    """Chosen responses contain the letter 'a', rejected ones never do: near 100% held out."""
    rng = np.random.default_rng(0)
    n = 600
    ps = make_prompts(n, rng)
    others = list(LETTERS[1:])

    def seqs(with_a: bool):
        out = []
        for _ in range(n):
            k = int(rng.integers(2, 6))
            s = rng.choice(others, k).tolist()
            if with_a:
                s[int(rng.integers(0, k))] = LETTERS[0]
            out.append(s)
        return torch.as_tensor(pack_responses(out))

    good, bad = seqs(True), seqs(False)
    x = torch.as_tensor(ps.tokens)
    flip = rng.random(n) < 0.5  # randomise which slot holds the winner
    y0 = torch.where(torch.as_tensor(flip)[:, None], good, bad)
    y1 = torch.where(torch.as_tensor(flip)[:, None], bad, good)
    choices = (~flip).astype(np.int64)  # 1 = y1 won
    tr, te = slice(0, 500), slice(500, n)
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    rm = RewardModel(TransformerPolicy(small, seed=0), readout)
    train_reward_model(rm, x[tr], y0[tr], y1[tr], choices[tr], steps=80, batch_size=32, lr=3e-3)
    gold0, gold1 = flip[te].astype(float), (~flip[te]).astype(float)
    acc = preference_accuracy(rm.score(x[te], y0[te]), rm.score(x[te], y1[te]), gold0, gold1)
    assert acc >= 0.97


def test_preference_accuracy_ignores_gold_ties_and_halves_reward_ties():
    r0 = np.array([0.0, 1.0, 2.0, 5.0])
    r1 = np.array([1.0, 0.0, 2.0, 0.0])
    g0 = np.array([0.0, 0.0, 0.0, 1.0])
    g1 = np.array([1.0, 1.0, 1.0, 1.0])  # last pair tied in gold
    assert preference_accuracy(r0, r1, g0, g1) == pytest.approx((1 + 0 + 0.5) / 3)


def test_unknown_readout_raises():
    with pytest.raises(ValueError, match="readout"):
        RewardModel(TransformerPolicy(GPTConfig()), "mean")
