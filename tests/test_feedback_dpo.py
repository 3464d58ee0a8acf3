"""DPO, cDPO and rDPO: losses against their formulas, rDPO's unbiasedness under flips."""

import numpy as np
import pytest
import torch

from noisylab.feedback import GPTConfig, TransformerPolicy, make_prompts
from noisylab.feedback.dpo import dpo_loss, train_dpo

H = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0])


def logsig(z):
    return torch.log(torch.sigmoid(z))


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_losses_match_their_formulas(beta):
    eps = 0.2
    assert torch.allclose(dpo_loss(H, beta, "dpo"), -logsig(beta * H))
    cdpo = -(1 - eps) * logsig(beta * H) - eps * logsig(-beta * H)
    assert torch.allclose(dpo_loss(H, beta, "cdpo", eps), cdpo)
    rdpo = (-(1 - eps) * logsig(beta * H) + eps * logsig(-beta * H)) / (1 - 2 * eps)
    assert torch.allclose(dpo_loss(H, beta, "rdpo", eps), rdpo, atol=1e-6)
    # with eps = 0 both variants are DPO
    for kind in ("cdpo", "rdpo"):
        assert torch.allclose(dpo_loss(H, beta, kind, 0.0), dpo_loss(H, beta, "dpo"))


@pytest.mark.parametrize("eps", [0.05, 0.25, 0.45])
def test_rdpo_expectation_over_flips_is_clean_dpo(eps):
    """A flip swaps winner and loser, i.e. h → −h; with flip probability eps,
    (1 − eps)·L(h) + eps·L(−h) equals the clean DPO loss (Chowdhury et al. 2024, Lemma 3.1)."""
    beta = 0.1
    expected = (1 - eps) * dpo_loss(H, beta, "rdpo", eps) + eps * dpo_loss(-H, beta, "rdpo", eps)
    assert torch.allclose(expected, dpo_loss(H, beta, "dpo"), atol=1e-6)
    # DPO and cDPO are biased under flips
    biased = (1 - eps) * dpo_loss(H, beta, "dpo") + eps * dpo_loss(-H, beta, "dpo")
    assert not torch.allclose(biased, dpo_loss(H, beta, "dpo"))


def test_rdpo_expectation_by_simulation():
    rng = np.random.default_rng(0)
    h = torch.as_tensor(rng.normal(size=200_000) * 5)
    flips = torch.as_tensor(rng.random(h.shape[0]) < 0.3)
    noisy = torch.where(flips, -h, h)
    got = dpo_loss(noisy, 0.5, "rdpo", 0.3).mean()
    assert float(got) == pytest.approx(float(dpo_loss(h, 0.5, "dpo").mean()), abs=0.01)


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="eps"):
        dpo_loss(H, 0.1, "rdpo", 0.5)
    with pytest.raises(ValueError, match="unknown DPO loss"):
        dpo_loss(H, 0.1, "ipo")
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(H, 0.0)


def test_dpo_training_raises_the_margin_of_the_chosen_responses():
    small = GPTConfig(n_layer=1, n_head=2, d_model=32)
    sft = TransformerPolicy(small, seed=0)
    x = torch.as_tensor(make_prompts(64, np.random.default_rng(0)).tokens)
    g = torch.Generator().manual_seed(0)
    y0, y1 = sft.sample(x, generator=g), sft.sample(x, generator=g)
    choices = np.ones(64, dtype=np.int64)
    _pi, log = train_dpo(sft, x, y0, y1, choices, kind="rdpo", eps=0.1, steps=25, lr=3e-3)
    assert log.margin[0] == pytest.approx(0.0, abs=1e-6)  # π = π_ref at the start
    assert log.margin[-1] > 0.05
    assert log.accuracy[-1] > 0.8
    with torch.no_grad():  # the reference (SFT) is untouched
        assert torch.equal(sft.logprobs(x, y0), TransformerPolicy(small, seed=0).logprobs(x, y0))
