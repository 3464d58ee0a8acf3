"""Sharpness probes: top Hessian eigenvalue and m-sharpness against closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from noisylab.optim.probe import m_sharpness, top_hessian_eigenvalue


def _spd(eigs, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ q.T


def test_top_eigenvalue_of_a_quadratic():
    a = _spd([5.0, 2.0, 1.0, 0.5, 0.1], seed=0)
    x = nn.Parameter(torch.randn(5, dtype=torch.float64))
    lam = top_hessian_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=200, tol=1e-10)
    assert lam.shape == (1,)
    assert float(lam[0]) == pytest.approx(5.0, rel=1e-6)


def test_top_eigenvalue_is_per_member():
    a = torch.stack([_spd([3.0, 1.0, 0.2], 1), _spd([9.0, 8.0, 0.5], 2)])  # (M, d, d)
    x = nn.Parameter(torch.randn(2, 3, dtype=torch.float64))  # (M, d)
    w = nn.Parameter(torch.randn(2, 2, dtype=torch.float64))  # a second parameter per member

    def loss():  # per member (M,)
        return 0.5 * torch.einsum("mi,mij,mj->m", x, a, x) + 0.5 * (w * w).sum(1)

    lam = top_hessian_eigenvalue(loss, [x, w], ensemble=True, iters=500, tol=1e-12)
    torch.testing.assert_close(
        lam, torch.tensor([3.0, 9.0], dtype=torch.float64), rtol=1e-4, atol=0
    )


def test_m_sharpness_of_a_quadratic():
    a = _spd([4.0, 1.0, 0.3], seed=3)
    x = nn.Parameter(torch.randn(3, dtype=torch.float64))
    x0 = x.detach().clone()
    rho = 0.2
    s = m_sharpness(lambda i: 0.5 * x @ a @ x * (1 + i), [x], n_batches=2, rho=rho)
    g = a @ x0
    u = g / g.norm()
    one = rho * g.norm() + 0.5 * rho**2 * (u @ a @ u)  # exact increase for batch 0
    assert float(s[0]) == pytest.approx(float(one * (1 + 2) / 2), rel=1e-10)
    assert torch.equal(x.detach(), x0)


def test_probes_validate_input():
    x = nn.Parameter(torch.randn(3))
    with pytest.raises(ValueError, match="iters must be an int >= 1, got 0"):
        top_hessian_eigenvalue(lambda: (x * x).sum(), [x], iters=0)
    with pytest.raises(ValueError, match=r"rho must be a finite number >= 0, got -1\.0"):
        m_sharpness(lambda i: (x * x).sum(), [x], n_batches=1, rho=-1.0)
    with pytest.raises(ValueError, match="member axis"):
        top_hessian_eigenvalue(
            lambda: (x * x).sum(), [x, nn.Parameter(torch.randn(2, 2))], ensemble=True
        )
