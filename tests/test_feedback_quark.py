"""Quark's reward-quantile binning and control tokens; expert iteration's validation."""

import numpy as np
import pytest
import torch

from noisylab.feedback import GPTConfig, RewardModel, TransformerPolicy, make_prompts
from noisylab.feedback.expert_iteration import expert_iteration
from noisylab.feedback.quark import quantile_bins, quark, top_prompts
from noisylab.feedback.world import QUANTILE_TOKENS


def test_quantile_bins_are_equal_count_and_monotone():
    rng = np.random.default_rng(0)
    s = rng.normal(size=1000)
    q = quantile_bins(s, 4)
    assert np.bincount(q).tolist() == [250, 250, 250, 250]
    order = np.argsort(s)
    assert np.all(np.diff(q[order]) >= 0)
    assert quantile_bins(np.array([3.0, 1.0, 2.0, 4.0]), 4).tolist() == [2, 0, 1, 3]
    assert quantile_bins(np.array([5.0, 5.0, 5.0]), 1).tolist() == [0, 0, 0]


def test_top_prompts_carry_the_top_quantile_token():
    x = torch.as_tensor(make_prompts(3, np.random.default_rng(0)).tokens)
    t = top_prompts(x)
    assert torch.all(t[:, 0] == QUANTILE_TOKENS[-1])
    assert torch.equal(t[:, 1:], x[:, 1:])


def test_quark_and_expert_iteration_run_and_validate():
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    sft = TransformerPolicy(small, seed=0)
    rm = RewardModel(sft)
    x = torch.as_tensor(make_prompts(64, np.random.default_rng(0)).tokens)
    pi = quark(sft, rm, x, rounds=2, samples_per_round=32, steps_per_round=3, batch_size=8)
    assert pi is not sft
    changed = any(not torch.equal(a, b) for a, b in zip(pi.parameters(), sft.parameters()))
    assert changed
    with pytest.raises(ValueError, match="rounds"):
        quark(sft, rm, x, rounds=0)
    with pytest.raises(ValueError, match="rounds"):
        expert_iteration(sft, rm, x, rounds=0)
    seen = []
    ei = expert_iteration(
        sft, rm, x[:8], n=2, steps=2, batch_size=4, callback=lambda r, p: seen.append(r)
    )
    assert seen == [0, 1] and ei is not sft
