"""The fast paths of the policy: trimmed forwards, length groups, the in-place KV cache."""

import pytest
import torch

from noisylab.feedback import GPTConfig, RewardModel, TransformerPolicy, World
from noisylab.feedback.policy import draw_tokens, forward_trimmed, length_buckets, response_mask_t
from noisylab.feedback.ppo import ValueModel
from noisylab.feedback.sft import adamw, fused_kw
from noisylab.feedback.world import EOS, PAD, RESPONSE_LEN


def data(n: int = 96):
    w = World.build(0, 0.02)
    x = torch.as_tensor(w.splits["sft"].tokens[:n])
    y = torch.as_tensor(w.demonstrations[:n])  # short responses: EOS early, then PAD
    return x, y


def eos_prone(seed: int = 0, bias: float = 3.0) -> TransformerPolicy:
    """A policy whose responses end at very different lengths: the final LayerNorm puts a
    constant ``bias`` in feature 0, which only EOS's (tied) embedding reads, so the EOS
    logit is raised by 0.15·bias at every step."""
    pi = TransformerPolicy(GPTConfig(), seed=seed)
    with torch.no_grad():
        pi.model.ln_f.bias.zero_()
        pi.model.ln_f.bias[0] = bias
        pi.model.tok.weight[:, 0] = 0.0
        pi.model.tok.weight[EOS, 0] = 0.15
    return pi


@pytest.mark.parametrize("bucket", [True, False])
def test_trimmed_forward_equals_full_forward_where_it_matters(bucket):
    x, y = data()
    y = y.clone()
    y[:5] = torch.randint(9, 25, (5, RESPONSE_LEN))  # a few rows without EOS: full width
    pi = TransformerPolicy(GPTConfig(), seed=1)
    P, L = x.shape[1], y.shape[1]
    with torch.no_grad():
        full_l, full_h, _ = pi.model(torch.cat([x, y.clamp_min(0)], dim=1))
        lg, h = forward_trimmed(pi.model, x, y, bucket=bucket)
    assert lg.shape == full_l.shape and h.shape == full_h.shape
    mask = response_mask_t(y)
    keep = torch.cat([torch.ones(len(x), P, dtype=torch.bool), mask], dim=1)  # (B, P+L)
    torch.testing.assert_close(lg[keep], full_l[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h[keep], full_h[keep], atol=1e-5, rtol=1e-5)
    # without the long rows, every position after the longest response is exactly 0
    lg2, h2 = forward_trimmed(pi.model, x[5:], y[5:], bucket=bucket)
    width = int(response_mask_t(y[5:]).sum(1).max())
    assert width < L
    assert torch.all(lg2[:, P + width :] == 0) and torch.all(h2[:, P + width :] == 0)


def test_logprobs_and_their_gradients_equal_the_full_width_computation():
    x, y = data(64)
    pi = TransformerPolicy(GPTConfig(), seed=2)
    lp = pi.logprobs(x, y)
    P = x.shape[1]
    logits, _, _ = pi.model(torch.cat([x, y.clamp_min(0)], dim=1))
    logp = torch.log_softmax(logits[:, P - 1 : -1].masked_fill(pi.ban, float("-inf")), -1)
    mask = response_mask_t(y)
    ref = logp.gather(-1, y.masked_fill(~mask, EOS)[..., None]).squeeze(-1).masked_fill(~mask, 0)
    torch.testing.assert_close(lp, ref, atol=1e-5, rtol=1e-5)
    g1 = torch.autograd.grad(lp.sum(), pi.trainable_parameters())
    g2 = torch.autograd.grad(ref.sum(), pi.trainable_parameters())
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_value_model_and_reward_scores_match_full_width():
    x, y = data(64)
    pi = TransformerPolicy(GPTConfig(), seed=3)
    rm = RewardModel(pi)
    with torch.no_grad():
        rm.head.weight.normal_()
        val = ValueModel(rm)
        P = x.shape[1]
        _, h, _ = val.body(torch.cat([x, y.clamp_min(0)], dim=1))
        ref = val.head(h[:, P - 1 : -1]).squeeze(-1)
        mask = response_mask_t(y)
        torch.testing.assert_close(val(x, y)[mask], ref[mask], atol=1e-5, rtol=1e-5)
        logits, h, _ = rm.body.model(torch.cat([x, y.clamp_min(0)], dim=1))
        logp = torch.log_softmax(logits[:, P - 1 : -1].masked_fill(pi.ban, float("-inf")), -1)
        ll = logp.gather(-1, y.masked_fill(~mask, 0)[..., None]).squeeze(-1)
        r = (ll + rm.head(h[:, P:]).squeeze(-1)).masked_fill(~mask, 0.0).sum(-1)
        torch.testing.assert_close(rm.score(x, y), r, atol=1e-4, rtol=1e-5)


def test_length_buckets_partition_rows_and_only_split_when_it_pays():
    same = torch.full((64,), 7)
    assert [(len(i), m) for i, m in length_buckets(same, 9)] == [(64, 7)]
    lens = torch.cat([torch.full((40,), 2), torch.full((24,), 17)])[torch.randperm(64)]
    groups = length_buckets(lens, 9)
    assert len(groups) == 2
    rows = torch.cat([i for i, _ in groups])
    assert sorted(rows.tolist()) == list(range(64))
    for idx, m in groups:
        assert int(lens[idx].max()) == m
    assert sorted(m for _, m in groups) == [2, 17]
    assert len(length_buckets(lens[:20], 9)) == 1  # too few rows for two groups of 16


def reference_sample(pi: TransformerPolicy, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The plain algorithm: whole batch, full recompute per token, B uniforms per step."""
    B = x.shape[0]
    out = torch.full((B, RESPONSE_LEN), PAD, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    seq = x
    with torch.no_grad():
        for t in range(RESPONSE_LEN):
            logits, _, _ = pi.model(seq)
            tok = draw_tokens(logits[:, -1].masked_fill(pi.ban, float("-inf")), 1.0, None, g)
            tok = tok.masked_fill(done, PAD)
            out[:, t] = tok
            done = done | (tok == EOS)
            if bool(done.all()):
                break
            seq = torch.cat([seq, tok[:, None]], dim=1)
    return out


def test_compacting_cached_sampling_equals_the_plain_algorithm():
    x, _ = data(64)
    pi = eos_prone()
    ours = pi.sample(x, generator=torch.Generator().manual_seed(3))
    lens = response_mask_t(ours).sum(1)
    assert int(lens.min()) <= 3 and int(lens.max()) >= 8  # rows finish far apart: compaction
    ref = reference_sample(pi, x, torch.Generator().manual_seed(3))
    assert torch.equal(ours, ref)
    nocache = pi.sample(x, generator=torch.Generator().manual_seed(3), use_cache=False)
    assert torch.equal(ours, nocache)


def test_static_cache_rejects_an_overfull_buffer():
    pi = TransformerPolicy(GPTConfig(), seed=0)
    x, _ = data(4)
    with torch.no_grad():
        _, _, cache = pi.model(x)
        buf = pi.model.empty_cache(4, x.shape[1], cache)  # no free slot
        with pytest.raises(ValueError, match="slots, all filled"):
            pi.model(torch.ones(4, 1, dtype=torch.long), buf, filled=x.shape[1])


def test_fused_optimiser_is_used_on_cpu_float_parameters():
    pi = TransformerPolicy(GPTConfig(), seed=0)
    params = pi.trainable_parameters()
    assert fused_kw(params) == {"fused": True}
    assert fused_kw([]) == {}
    assert adamw(params, 1e-3).defaults["fused"] is True
