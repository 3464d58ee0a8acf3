"""PPO: advantages and returns by hand, the KL estimator, whitening, a tiny run."""

import numpy as np
import pytest
import torch

from noisylab.feedback import GPTConfig, RewardModel, TransformerPolicy, make_prompts
from noisylab.feedback.ppo import PPOConfig, gae, kl_estimate, ppo, whiten


def test_gae_with_gamma_lambda_one_is_reward_to_go_minus_value():
    r = torch.tensor([[0.0, -0.1, 1.0]])
    v = torch.tensor([[0.5, 0.2, 0.4]])
    m = torch.ones(1, 3, dtype=torch.bool)
    adv, ret = gae(r, v, m)
    assert torch.allclose(adv, torch.tensor([[0.9 - 0.5, 0.9 - 0.2, 1.0 - 0.4]]))
    assert torch.allclose(ret, torch.tensor([[0.9, 0.9, 1.0]]))


def test_gae_hand_calculation_with_discounting_and_a_mask():
    g, lam = 0.9, 0.5
    r = torch.tensor([[1.0, 2.0, 3.0, 99.0]])
    v = torch.tensor([[0.5, 1.0, 1.5, 99.0]])
    m = torch.tensor([[True, True, True, False]])  # the last slot is after EOS
    d2 = 3.0 - 1.5
    d1 = 2.0 + g * 1.5 - 1.0
    d0 = 1.0 + g * 1.0 - 0.5
    a2 = d2
    a1 = d1 + g * lam * a2
    a0 = d0 + g * lam * a1
    adv, ret = gae(r, v, m, gamma=g, lam=lam)
    assert torch.allclose(adv, torch.tensor([[a0, a1, a2, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[a0 + 0.5, a1 + 1.0, a2 + 1.5, 0.0]]))


def test_whiten_masked_entries():
    x = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
    m = torch.tensor([[True, True, True, False]])
    w = whiten(x, m)
    assert torch.allclose(w[m].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(w[m].std(unbiased=False), torch.tensor(1.0), atol=1e-5)
    assert w[0, 3] == 50.0


def test_kl_estimator_is_zero_for_identical_policies_and_nonnegative_in_expectation():
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    p, q = TransformerPolicy(small, seed=0), TransformerPolicy(small, seed=1)
    with torch.no_grad():
        for prm in q.parameters():
            prm.mul_(8.0)  # a sharper, clearly different policy
    x = torch.as_tensor(make_prompts(2000, np.random.default_rng(0)).tokens)
    y = p.sample(x, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        lp, lq = p.logprobs(x, y), q.logprobs(x, y)
    m = y != -1
    assert torch.all(kl_estimate(lp, lp, m) == 0)
    est = kl_estimate(lp, lq, m)
    assert float(est.mean()) > 3 * float(est.std() / np.sqrt(len(est)))


def test_tiny_ppo_run_increases_the_proxy_reward():
    torch.manual_seed(0)
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    sft = TransformerPolicy(small, seed=0)
    rm = RewardModel(TransformerPolicy(small, seed=5))  # proxy: another model's log-likelihood
    x = torch.as_tensor(make_prompts(256, np.random.default_rng(1)).tokens)
    cfg = PPOConfig(steps=30, batch_size=32, lr=2e-3, beta=0.01)
    _pi, log = ppo(sft, rm, x, config=cfg, seed=0)
    assert np.mean(log.proxy[-5:]) > np.mean(log.proxy[:5]) + 1.0
    assert log.kl[0] == pytest.approx(0.0, abs=1e-5)  # the first rollout comes from SFT
    assert all(0.0 <= c <= 1.0 for c in log.clip_frac)
    assert len(log.entropy) == len(log.explained_var) == 30


def test_adaptive_kl_moves_beta_towards_the_target():
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    sft = TransformerPolicy(small, seed=0)
    rm = RewardModel(TransformerPolicy(small, seed=5))
    x = torch.as_tensor(make_prompts(64, np.random.default_rng(1)).tokens)
    cfg = PPOConfig(
        steps=4, batch_size=16, lr=1e-3, adaptive_kl=True, kl_target=100.0, kl_horizon=20
    )
    _, log = ppo(sft, rm, x, config=cfg)
    assert log.beta[-1] < log.beta[0]  # KL far below the target: β shrinks
