"""The tiny transformer policy: log-probabilities, sampling, the KV cache, training."""

import torch

from noisylab.feedback import GPTConfig, TransformerPolicy, World, count_parameters, train_lm
from noisylab.feedback.world import CONTROL_TOKENS, EOS, NEG, PAD, POS


def policy(seed: int = 0) -> TransformerPolicy:
    return TransformerPolicy(GPTConfig(), seed=seed)


def prompts(n: int = 8) -> torch.Tensor:
    w = World.build(0, 0.01)
    return torch.as_tensor(w.splits["sft"].tokens[:n])


def test_about_100k_parameters():
    assert 80_000 <= count_parameters(policy()) <= 130_000


def test_logprobs_match_a_manual_per_token_computation():
    pi = policy(1)
    x = prompts(4)
    y = pi.sample(x, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        lp = pi.logprobs(x, y)
    for b in range(x.shape[0]):
        seq = x[b].tolist()
        total = 0.0
        for t, tok in enumerate(y[b].tolist()):
            with torch.no_grad():
                logits, _, _ = pi.model(torch.tensor([seq]))
            z = logits[0, -1].clone()
            z[[PAD, *CONTROL_TOKENS]] = float("-inf")
            want = torch.log_softmax(z, -1)[tok]
            assert torch.allclose(lp[b, t], want, atol=1e-5)
            total += float(want)
            seq.append(tok)
            if tok == EOS:
                assert torch.all(lp[b, t + 1 :] == 0)
                break
        assert abs(float(lp[b].sum()) - total) < 1e-4


def test_sampling_is_reproducible_and_cache_equals_no_cache():
    pi = policy(2)
    x = prompts(16)
    a = pi.sample(x, generator=torch.Generator().manual_seed(5))
    b = pi.sample(x, generator=torch.Generator().manual_seed(5))
    c = pi.sample(x, generator=torch.Generator().manual_seed(5), use_cache=False)
    d = pi.sample(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert torch.equal(a, c)
    assert not torch.equal(a, d)
    # responses end with EOS then PAD, never contain PAD/POS/NEG before EOS
    for row in a.tolist():
        if EOS in row:
            k = row.index(EOS)
            assert all(t == PAD for t in row[k + 1 :])
            assert not {PAD, POS, NEG} & set(row[:k])


def test_temperature_zero_is_greedy_and_top_k_one_equals_greedy():
    pi = policy(3)
    x = prompts(8)
    g = pi.sample(x, temperature=0.0)
    k1 = pi.sample(x, top_k=1, generator=torch.Generator().manual_seed(9))
    assert torch.equal(g, k1)


def test_sft_training_lowers_the_nll_of_the_demonstrations():
    torch.manual_seed(0)
    w = World.build(0, 0.02)
    x = torch.as_tensor(w.splits["sft"].tokens)
    y = torch.as_tensor(w.demonstrations)
    pi = policy(0)
    before = -pi.logprobs(x, y).sum().item()
    log = train_lm(pi, x, y, steps=60, batch_size=32, lr=3e-3)
    after = -pi.logprobs(x, y).sum().item()
    assert after < 0.7 * before
    assert log.losses[-1] < log.losses[0]
