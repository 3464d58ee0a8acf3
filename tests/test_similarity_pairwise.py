"""pairwise(): the batched M × M matrices equal the loop over pairs, for every metric."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from noisylab import similarity as sim

pw_mod = importlib.import_module("noisylab.similarity.pairwise")


def _ensemble(M=5, n=40, p=6, seed=0):
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, p))
    reps = np.stack([shared + 0.7 * rng.standard_normal((n, p)) for _ in range(M)])
    reps[2, :, 1] = 0.5  # a dead unit in one member
    return reps  # (M, n, p)


CASES = [
    ("linear_cka", {}, sim.linear_cka),
    ("linear_cka", {"debiased": True}, lambda a, b: sim.linear_cka(a, b, debiased=True)),
    ("debiased_cka", {}, lambda a, b: sim.linear_cka(a, b, debiased=True)),
    ("rbf_cka", {"threshold": 0.5}, lambda a, b: sim.rbf_cka(a, b, threshold=0.5)),
    (
        "rbf_cka",
        {"debiased": True},
        lambda a, b: sim.rbf_cka(a, b, debiased=True),
    ),
    ("cca", {}, sim.cca),
    ("svcca", {"keep": 0.9}, lambda a, b: sim.svcca(a, b, keep=0.9)),
    ("svcca", {"dims": 3}, lambda a, b: sim.svcca(a, b, dims=3)),
    ("pwcca", {}, sim.pwcca),
    ("procrustes", {}, sim.procrustes_distance),
    ("mutual_knn", {"k": 5}, lambda a, b: sim.mutual_knn(a, b, k=5)),
    ("information_imbalance", {}, sim.information_imbalance),
]


@pytest.mark.parametrize("metric,kw,fn", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_pairwise_equals_loop(metric, kw, fn):
    reps = _ensemble()
    res = sim.pairwise(reps, metric, **kw)
    M = reps.shape[0]
    loop = np.array([[fn(reps[i], reps[j]) for j in range(M)] for i in range(M)])
    np.testing.assert_allclose(res.matrix, loop, rtol=1e-8, atol=1e-7)
    info = sim.METRICS[metric]
    assert res.kind == info.kind
    if info.symmetric:
        assert res.mean == pytest.approx(loop[np.triu_indices(M, 1)].mean())
    else:
        assert res.mean == pytest.approx(loop[~np.eye(M, dtype=bool)].mean())


def test_pairwise_gram_path_and_chunking(monkeypatch):
    """p > n uses the Gram form; a tiny block budget forces several member chunks."""
    wide = _ensemble(M=4, n=12, p=30, seed=1)
    res = sim.pairwise(wide, "linear_cka")
    loop = [[sim.linear_cka(a, b, form="feature") for b in wide] for a in wide]
    np.testing.assert_allclose(res.matrix, loop, rtol=1e-9)
    monkeypatch.setattr(pw_mod, "BLOCK_BYTES", 1)
    reps = _ensemble(M=6)
    for metric in ("linear_cka", "cca", "procrustes", "information_imbalance"):
        chunked = sim.pairwise(reps, metric).matrix
        loop = [[sim.METRICS[metric].fn(a, b) for b in reps] for a in reps]
        np.testing.assert_allclose(chunked, loop, rtol=1e-8, atol=1e-7)


def test_pairwise_inputs_and_callable():
    reps = _ensemble(M=3)
    as_list = sim.pairwise([r for r in reps], "linear_cka")
    as_torch = sim.pairwise(torch.tensor(reps, dtype=torch.float32), "linear_cka")
    np.testing.assert_allclose(as_list.matrix, as_torch.matrix, atol=1e-6)
    custom = sim.pairwise(reps, lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).mean()))
    assert custom.kind == "similarity"
    assert custom.matrix[0, 0] == 0.0 and custom.matrix[0, 1] > 0
    np.testing.assert_allclose(custom.matrix, custom.matrix.T)
    one = sim.pairwise(reps[:1], "linear_cka")
    assert one.matrix.shape == (1, 1) and np.isnan(one.mean)
