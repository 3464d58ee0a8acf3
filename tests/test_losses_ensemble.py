"""PerMember: one loss per block of ensemble members, with an optional training penalty."""

from __future__ import annotations

import pytest
import torch

from noisylab import losses as L


def test_per_member_equals_separate_calls():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 8, 4, generator=g)  # (M, B, K)
    y = torch.randint(0, 4, (5, 8), generator=g)
    blocks = [L.get("ce"), L.get("sgce", q=0.2), L.get("unhinged", logit_norm="batchnorm")]
    per = L.PerMember(blocks, [2, 1, 2])(z, y)  # (M, B)
    assert per.shape == (5, 8)
    assert torch.allclose(per[:2], L.get("ce", reduction="none")(z[:2], y[:2]))
    assert torch.allclose(per[2:3], L.get("sgce", q=0.2, reduction="none")(z[2:3], y[2:3]))
    bn = L.get("unhinged", logit_norm="batchnorm", reduction="none")
    assert torch.allclose(per[3:], bn(z[3:], y[3:]))
    assert torch.allclose(L.PerMember(blocks, [2, 1, 2], reduction="mean")(z, y), per.mean())


def test_regularizer_only_while_training_and_per_member():
    w = torch.nn.Parameter(torch.ones(3, 2, 2))  # (M, …)
    z = torch.randn(3, 4, 2)
    y = torch.zeros(3, 4, dtype=torch.long)
    loss = L.PerMember([L.get("ce"), L.get("anl-ce", delta=0.1)], [1, 2], params=[w])
    plain = L.PerMember([L.get("ce"), L.get("anl-ce", delta=0.1)], [1, 2])
    with torch.no_grad():
        assert torch.equal(loss(z, y), plain(z, y))  # evaluation: pure loss
    zg = z.clone().requires_grad_(True)
    diff = loss(zg, y) - plain(zg, y)  # (M, B)
    assert torch.allclose(diff[0], torch.zeros(4))
    assert torch.allclose(diff[1:], torch.full((2, 4), 0.1 * 4))
    diff.sum().backward()
    assert torch.allclose(w.grad[0], torch.zeros(2, 2))
    assert torch.allclose(w.grad[1:], torch.full((2, 2, 2), 0.1 * 4))


@pytest.mark.parametrize(
    "args,exc,match",
    [
        (([],), ValueError, "one member count"),
        (([torch.nn.Identity()], [0]), ValueError, "counts"),
        (([lambda a, b: a], [1]), TypeError, "nn.Module"),
    ],
)
def test_per_member_rejects_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        L.PerMember(*args if len(args) == 2 else (*args, []))


def test_per_member_checks_member_count():
    loss = L.PerMember([L.get("ce")], [3])
    with pytest.raises(ValueError, match="M=3"):
        loss(torch.randn(2, 4, 3), torch.zeros(2, 4, dtype=torch.long))
