"""The sharpness-aware optimisers inside ``noisylab.train.fit`` with a real ensemble model."""

from __future__ import annotations

import pytest
import torch

from noisylab.data import Dataset
from noisylab.nn import build
from noisylab.optim import DirectionTracker, VaSSO
from noisylab.train import fit


def _toy(n: int = 96, d: int = 6, k: int = 3, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, :k].argmax(1) + (torch.rand(n, generator=g) < 0.2).long()) % k
    return Dataset("toy", x, y, x[:32], y[:32], num_classes=k)


@pytest.mark.parametrize("name", ["sam", "vasso", "asam"])
def test_fit_ensemble_equals_members_alone(name):
    """Per-member ε: training 3 members together equals training each alone."""
    ds = _toy()
    seeds = [3, 4, 5]
    params = {"rho": 0.2, "theta": 0.5} if name == "vasso" else {"rho": 0.2}
    kw = dict(optimizer=name, optimizer_params=params, lr=0.05, epochs=3, batch_size=32)
    joint = build("mlp", seed=seeds, in_features=6, out_features=3, width=8)
    h = fit(joint, ds, seed=seeds, **kw)
    for i, s in enumerate(seeds):
        one = build("mlp", seed=[s], in_features=6, out_features=3, width=8)
        h1 = fit(one, ds, seed=[s], **kw)
        for p, q in zip(joint.parameters(), one.parameters()):
            torch.testing.assert_close(p[i : i + 1], q, rtol=1e-5, atol=1e-6)
        assert h.metrics["train/loss"][i] == pytest.approx(h1.metrics["train/loss"][0], rel=1e-5)


def test_fit_with_tracker_reports_per_member_direction_stats():
    ds = _toy()
    tracker = DirectionTracker()
    seen = []
    model = build("mlp", members=2, seed=0, in_features=6, out_features=3, width=8)
    fit(
        model,
        ds,
        optimizer="vasso",
        optimizer_params={"rho": 0.1, "theta": 0.4, "track": tracker},
        lr=0.05,
        epochs=2,
        batch_size=32,
        callbacks=[lambda epoch, m, hist: seen.append(tracker.stats(reset=True))],
    )
    assert isinstance(tracker.optimizers[0], VaSSO)
    assert len(seen) == 2
    for st in seen:
        assert st["ensemble"]["steps"] == 3  # 96 / 32 steps per epoch
        assert st["ensemble"]["variance"].shape == (2,)
