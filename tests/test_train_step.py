"""The engine's step function: one gather for all members equals a per-member loop."""

from __future__ import annotations

import pytest
import torch

from noisylab.losses import get as get_loss
from noisylab.nn import build
from noisylab.train.engine import _member_losses

M, N, D = 3, 20, 5


def _idx(b: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.stack([torch.randperm(N, generator=g)[:b] for _ in range(M)])  # (M, b)


@pytest.mark.parametrize(
    ("task", "target_shape", "loss"),
    [("cls", (M, N), "ce"), ("reg", (M, N), "mse"), ("reg", (M, N, 2), "mse")],
)
def test_member_losses_equal_a_loop_over_members(task, target_shape, loss):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g)
    out = 4 if task == "cls" else (target_shape[2] if len(target_shape) == 3 else 1)
    if task == "cls":
        y = torch.randint(0, out, target_shape, generator=g)
    else:
        y = torch.randn(target_shape, generator=g)
    model = build("mlp", M, seed=3, in_features=D, out_features=out, width=6)
    loss_fn = get_loss(loss, reduction="none")
    idx = _idx(8)
    got = _member_losses(model, loss_fn, x, y, idx, False)  # (M,)
    assert got.shape == (M,)
    for i in range(M):
        single = build("mlp", 1, seed=[3 + i], in_features=D, out_features=out, width=6)
        rows = idx[i]
        want = loss_fn(single(x[rows].unsqueeze(0)), y[i, rows].unsqueeze(0)).mean()
        torch.testing.assert_close(got[i], want, rtol=1e-6, atol=1e-6)


def test_full_batch_shares_the_input_and_matches_the_gathered_path():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, D, generator=g)
    y = torch.randint(0, 3, (N,), generator=g).expand(M, N)  # shared labels, stride 0 on M
    model = build("mlp", M, seed=0, in_features=D, out_features=3, width=6)
    loss_fn = get_loss("ce", reduction="none")
    identity = torch.arange(N).expand(M, N)
    full = _member_losses(model, loss_fn, x, y, identity, True)
    gathered = _member_losses(model, loss_fn, x, y, identity.contiguous(), False)
    torch.testing.assert_close(full, gathered, rtol=1e-6, atol=1e-7)


def test_a_loss_without_per_sample_values_is_rejected():
    x = torch.randn(N, D)
    y = torch.zeros(M, N, dtype=torch.long)
    model = build("mlp", M, seed=0, in_features=D, out_features=3, width=6)
    with pytest.raises(ValueError, match=r"per-sample values shaped \(M, B\) = \(3, 8\)"):
        _member_losses(model, get_loss("ce", reduction="mean"), x, y, _idx(8), False)
