"""Sharpness probes: the top Hessian eigenvalue and the m-sharpness of a trained model.

Both take a loss *closure* (no model or data types), so they work for any model, and both
are per member when the parameters carry an ensemble axis (the loss of an ensemble is a sum
over members, so its Hessian is block-diagonal and each block is probed on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from noisylab.checks import check_int, check_nonneg

_EPS = 1e-12


def _per_member(t: torch.Tensor, ensemble: bool) -> torch.Tensor:
    """Sum of ``t`` over all dims but the member axis → (M,), or over everything → (1,)."""
    return t.reshape(t.shape[0], -1).sum(1) if ensemble else t.sum()[None]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor], ensemble: bool) -> torch.Tensor:
    return sum(_per_member(x * y, ensemble) for x, y in zip(a, b))  # type: ignore[return-value]


def _scale(ts: Sequence[torch.Tensor], s: torch.Tensor, ensemble: bool) -> list[torch.Tensor]:
    """Multiply each tensor by the per-member factor ``s`` (M,) (or the scalar ``s[0]``)."""
    out = []
    for t in ts:
        f = s.reshape(-1, *([1] * (t.dim() - 1))) if ensemble else s.reshape(())
        out.append(t * f)
    return out


def _check_params(params: Sequence[torch.Tensor], ensemble: bool) -> None:
    if not params:
        raise ValueError("params is empty; pass the model's parameters")
    if ensemble:
        m = {int(p.shape[0]) if p.dim() else -1 for p in params}
        if len(m) != 1 or -1 in m:
            raise ValueError(f"ensemble parameters need one leading member axis, got M in {m}")


def top_hessian_eigenvalue(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    *,
    ensemble: bool = False,
    iters: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> torch.Tensor:
    """Largest Hessian eigenvalue of the loss by power iteration on Hessian-vector products.

    ``H v`` is computed by double back-propagation (Pearlmutter, 1994): ``∂(∇L · v)/∂w``. The
    iteration ``v ← H v / ‖H v‖`` (per member with ``ensemble``) converges to the eigenvector of
    the eigenvalue largest in magnitude; the value returned is the Rayleigh quotient
    ``vᵀ H v`` at the last iterate. Near a minimum the Hessian is close to positive
    semi-definite and this is the top eigenvalue λ_max used as the sharpness measure by
    Keskar et al. (2017) and Foret et al. (2021).

    Parameters
    ----------
    loss_fn : callable
        Returns the loss at the current parameters with its autograd graph: a scalar, or per
        member (M,) (summed before differentiating; members are independent).
    params : sequence of tensors
        The parameters (requires_grad); with ``ensemble`` every one shaped (M, …).
    ensemble : bool
        Run M independent power iterations, one per member.
    iters : int
        Maximum number of Hessian-vector products (≥ 1).
    tol : float
        Stop when every member's estimate changes by less than ``tol`` relative.
    seed : int
        Seed of the random start vector.

    Returns
    -------
    torch.Tensor
        (M,) eigenvalues (M = 1 without ``ensemble``).
    """
    params = list(params)
    _check_params(params, ensemble)
    check_int("iters", iters)
    loss = loss_fn()
    grads = torch.autograd.grad(loss.sum(), params, create_graph=True)
    gen = torch.Generator().manual_seed(int(seed))
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
    v = _scale(v, _dot(v, v, ensemble).rsqrt(), ensemble)
    lam = torch.full((params[0].shape[0] if ensemble else 1,), float("nan"))
    for _ in range(iters):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        new = _dot(v, hv, ensemble).detach()  # Rayleigh quotient, ‖v‖ = 1
        norm = _dot(hv, hv, ensemble).sqrt()
        v = _scale([h.detach() for h in hv], 1.0 / (norm + _EPS), ensemble)
        done = bool(((new - lam).abs() <= tol * new.abs()).all())
        lam = new
        if done:
            break
    return lam.cpu()


def m_sharpness(
    loss_fn: Callable[[int], torch.Tensor],
    params: Sequence[torch.Tensor],
    n_batches: int,
    rho: float,
    *,
    ensemble: bool = False,
) -> torch.Tensor:
    """m-sharpness: mean over batches of size m of the worst loss increase in a ρ-ball.

    ``S_m = (1/n) Σ_B [L_B(w + ε_B) − L_B(w)]`` with ``ε_B = ρ ∇L_B / ‖∇L_B‖`` (Foret et al.,
    ICLR 2021, Sec. 4.1 / App. C.3): the inner maximum is approximated by one normalised
    gradient-ascent step, as SAM itself does; the batch size m is set by the caller's batches.
    The weights are restored exactly after each batch.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(i)`` returns the mean loss of batch ``i`` at the current weights: a scalar,
        or per member (M,) with ``ensemble``.
    params : sequence of tensors
        The parameters; with ``ensemble`` every one shaped (M, …).
    n_batches : int
        Number of batches to average over (≥ 1).
    rho : float
        Radius of the ball (≥ 0).

    Returns
    -------
    torch.Tensor
        (M,) mean loss increase (M = 1 without ``ensemble``).
    """
    params = list(params)
    _check_params(params, ensemble)
    check_int("n_batches", n_batches)
    rho = check_nonneg("rho", rho)
    total = torch.zeros(params[0].shape[0] if ensemble else 1, dtype=torch.float64)
    for i in range(n_batches):
        loss0 = loss_fn(i)
        grads = torch.autograd.grad(loss0.sum(), params)
        norm = _dot(grads, grads, ensemble).sqrt()
        eps = _scale(grads, rho / (norm + _EPS), ensemble)
        with torch.no_grad():
            saved = [p.detach().clone() for p in params]
            for p, e in zip(params, eps):
                p.add_(e)
            loss1 = loss_fn(i)
            for p, s in zip(params, saved):
                p.copy_(s)
        total += (loss1.detach() - loss0.detach()).reshape(-1).cpu()
    return total / n_batches


__all__ = ["m_sharpness", "top_hessian_eigenvalue"]
