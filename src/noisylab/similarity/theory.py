"""Alignment of a one-hidden-layer linear network trained on independent noise realisations.

An analytic estimate **derived for noisylab** (not taken from the paper, whose text we did not
have) plus a simulator that checks it.

Setting. Inputs x ~ N(0, I_d), targets y = βᵀx + ε, ε ~ N(0, σ²), SNR = ‖β‖²/σ², α = n/d.
All M members share the inputs X (n, d) and the initialisation and draw independent ε.
Model f(x) = w₂ᵀW₁ᵀx (``linear2``), trained by full-batch gradient descent from a small
initialisation: the end-to-end map tends to the minimum-norm least-squares solution
ŵ = X⁺y and W₁ becomes ≈ rank one (W₁ ≈ ŵ uᵀ), so each member's hidden representation is
∝ ŵᵀx and linear CKA between members a, b ≈ cos²(ŵ_a, ŵ_b). With ŵ = P_row(X)β + X⁺ε:

* α < 1: ‖signal‖² ≈ α‖β‖², ‖noise‖² ≈ σ² n/(d − n − 1);
* α > 1: ‖signal‖² = ‖β‖²,  ‖noise‖² ≈ σ² d/(n − d − 1).

For large d, cos ≈ ‖signal‖²/(‖signal‖² + ‖noise‖²) = SNR·|1−α| / (1 + SNR·|1−α|) and
CKA ≈ cos². Alignment rises with SNR, vanishes at the interpolation threshold α = 1 and
recovers on both sides. :func:`cka_finite_size` replaces the large-d spectrum by the actual
singular values of X (and allows a ridge λ); :func:`simulate_linear` trains the networks.

Caveat (the n = d spike): at α ≈ 1 every member's noise is amplified along the same smallest
singular direction of the shared X, and sign-blind CKA spikes instead of vanishing. Keep
|α − 1| ≥ 0.05, or regularise (ridge, weight decay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .pairwise import pairwise


def cos_theory(snr: Any, alpha: Any) -> np.ndarray:
    """Large-d cosine between two members' end-to-end weights: s|1−α| / (1 + s|1−α|).

    Parameters
    ----------
    snr : float or array
        ‖β‖²/σ² ≥ 0 (``inf`` gives 1 away from α = 1).
    alpha : float or array
        n/d > 0; broadcast against ``snr``.
    """
    s = np.asarray(snr, dtype=float)
    a = np.asarray(alpha, dtype=float)
    if np.any(~(s >= 0)):
        raise ValueError(f"snr must be >= 0, got {snr!r}")
    if np.any(~(a > 0)):
        raise ValueError(f"alpha = n/d must be > 0, got {alpha!r}")
    x = s * np.abs(1.0 - a)
    with np.errstate(invalid="ignore"):
        out = np.where(np.isinf(x), 1.0, x / (1.0 + x))
    return np.where(np.isnan(out), 0.0, out)


def cka_theory(snr: Any, alpha: Any) -> np.ndarray:
    """Large-d linear CKA between members: cos², cos = SNR·|1−α| / (1 + SNR·|1−α|).

    Examples
    --------
    >>> round(float(cka_theory(8.0, 4.0)), 3)
    0.922
    """
    return cos_theory(snr, alpha) ** 2


def cka_finite_size(X: Any, beta: Any, sigma: float, ridge: float = 0.0) -> float:
    """CKA ≈ cos² from the actual spectrum of X (finite-size version of :func:`cka_theory`).

    With X = U diag(s) Vᵀ and the (ridge) solution ŵ = (XᵀX + λI)⁻¹Xᵀ(Xβ + ε), λ ≥ 0
    (λ = 0: pseudo-inverse), the expected overlap of two members is ‖m‖² with the signal
    m = V diag(s²/(s²+λ)) Vᵀβ, and each has E‖ŵ‖² = ‖m‖² + σ² Σᵢ sᵢ²/(sᵢ²+λ)², so
    cos ≈ ‖m‖² / (‖m‖² + σ² Σᵢ sᵢ²/(sᵢ²+λ)²). Singular values below max(n,d)·eps·s_max
    count as zero.

    Parameters
    ----------
    X : array (n, d)
        The shared training inputs.
    beta : array (d,)
        The teacher.
    sigma : float
        Noise standard deviation (≥ 0).
    ridge : float
        λ ≥ 0.
    """
    Xa = np.asarray(X, dtype=float)
    b = np.asarray(beta, dtype=float).reshape(-1)
    if Xa.ndim != 2 or Xa.shape[1] != b.shape[0]:
        raise ValueError(f"X must be (n, d) with d = len(beta) = {b.shape[0]}, got {Xa.shape}")
    if not sigma >= 0 or not ridge >= 0:
        raise ValueError(f"sigma and ridge must be >= 0, got sigma={sigma!r}, ridge={ridge!r}")
    _, s, Vt = np.linalg.svd(Xa, full_matrices=False)
    keep = s > max(Xa.shape) * np.finfo(float).eps * (s.max() if s.size else 0.0)
    s, Vt = s[keep], Vt[keep]
    if s.size == 0:
        return 0.0
    shrink = s**2 / (s**2 + ridge)
    signal = float(np.sum((shrink * (Vt @ b)) ** 2))
    noise = float(sigma**2 * np.sum(s**2 / (s**2 + ridge) ** 2))
    if signal + noise == 0.0:
        return 0.0
    return (signal / (signal + noise)) ** 2


@dataclass
class LinearFit:
    """What :func:`train_linear2` returns.

    Attributes
    ----------
    reps : Tensor (M, P, h)
        Hidden representations of the probe inputs.
    weights : Tensor (M, d)
        End-to-end maps w = W₁w₂.
    steps : int
        Gradient steps taken.
    converged : bool
        Whether the relative weight change fell below ``tol`` before ``max_steps``.
    lr : float
        The step size used.
    """

    reps: torch.Tensor
    weights: torch.Tensor
    steps: int
    converged: bool
    lr: float
    model: Any = field(repr=False, default=None)


def train_linear2(
    X: Any,
    Y: Any,
    probe: Any,
    *,
    width: int = 16,
    init_scale: float = 1e-3,
    weight_decay: float = 0.0,
    lr: float | None = None,
    max_steps: int = 20000,
    tol: float = 1e-4,
    check_every: int = 50,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
) -> LinearFit:
    """Train M ``linear2`` networks by full-batch GD on shared X with per-member targets.

    Members share the initialisation (``noisylab.nn.build('linear2', seed=[seed]*M)``) so
    the targets' noise is the only difference between them. Loss per member
    L = (1/2n)‖X W₁ w₂ − y‖² + (wd/2)(‖W₁‖² + ‖w₂‖²), summed over members (each member's
    gradient is its own). Step size: by default lr = 0.9 / (2 λ_max ‖w*‖_max) with λ_max the
    top eigenvalue of XᵀX/n and w* the members' least-squares solutions, the curvature of the
    product parametrisation at the solution (balanced layers: ‖W₁‖₂² = ‖w₂‖² = ‖w‖). Stops
    when max over members of ‖w_t − w_{t−k}‖/‖w_t‖ < ``tol`` (k = ``check_every``).

    Parameters
    ----------
    X : array (n, d)
    Y : array (M, n)
        One noisy target vector per member.
    probe : array (P, d)
        Inputs whose hidden representations are returned.
    """
    from noisylab.nn import EnsembleModule, build

    Xt = torch.as_tensor(np.asarray(X), dtype=dtype, device=device)
    Yt = torch.as_tensor(np.asarray(Y), dtype=dtype, device=device)
    Pt = torch.as_tensor(np.asarray(probe), dtype=dtype, device=device)
    if Xt.dim() != 2 or Yt.dim() != 2 or Yt.shape[1] != Xt.shape[0]:
        raise ValueError(
            f"X must be (n, d) and Y (M, n) with the same n, got {tuple(Xt.shape)} and "
            f"{tuple(Yt.shape)}"
        )
    if Pt.dim() != 2 or Pt.shape[1] != Xt.shape[1]:
        raise ValueError(f"probe must be (P, d={Xt.shape[1]}), got {tuple(Pt.shape)}")
    if not (torch.isfinite(Xt).all() and torch.isfinite(Yt).all()):
        raise ValueError("X and Y must be finite")
    M, n = Yt.shape
    d = Xt.shape[1]
    model = build(
        "linear2",
        members=M,
        seed=[seed] * M,
        in_features=d,
        out_features=1,
        width=width,
        init_scale=init_scale,
    ).to(device=device, dtype=dtype)
    assert isinstance(model, EnsembleModule)
    if lr is None:
        lam_max = float(torch.linalg.matrix_norm(Xt, ord=2)) ** 2 / n
        w_star = torch.linalg.pinv(Xt) @ Yt.T  # (d, M)
        scale = max(float(w_star.norm(dim=0).max()), 1e-3)
        lr = 0.9 / (2.0 * lam_max * scale)
    params: list[torch.Tensor] = list(model.parameters())  # [W₁ (M, d, h), w₂ (M, h, 1)]
    yb = Yt[:, :, None]  # (M, n, 1)

    def end_to_end() -> torch.Tensor:
        return (params[0] @ params[1])[..., 0]  # (M, d)

    prev = end_to_end().detach().clone()
    steps, converged = 0, False
    while steps < max_steps:
        out = model(Xt)  # (M, n, 1)
        loss = 0.5 * (out - yb).square().sum() / n
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * (g + weight_decay * p))
        steps += 1
        if steps % check_every == 0:
            with torch.no_grad():
                w = end_to_end()
                if not bool(torch.isfinite(w).all()):
                    raise ValueError(f"GD diverged at step {steps} with lr={lr:.3g}")
                rel = ((w - prev).norm(dim=1) / w.norm(dim=1).clamp_min(1e-12)).max()
                prev = w.clone()
                if float(rel) < tol:
                    converged = True
                    break
    with torch.no_grad():
        reps = model.representations(Pt, ["hidden1"])["hidden1"]  # (M, P, h)
        w = end_to_end()
    return LinearFit(reps=reps, weights=w, steps=steps, converged=converged, lr=lr, model=model)


@dataclass
class LinearSim:
    """One simulated ensemble: alignment, its theory and the test error.

    ``cka``/``cka_sd`` are the mean/std of linear CKA over member pairs (hidden layer, probe
    set); ``weight_cos2`` the mean cos² between end-to-end maps; ``theory`` the large-d
    :func:`cka_theory`, ``theory_finite`` :func:`cka_finite_size` on the actual X;
    ``test_mse`` the members' mean excess risk ‖ŵ − β‖² / ‖β‖² (= test MSE against clean
    targets for x ~ N(0, I)).
    """

    n: int
    d: int
    snr: float
    alpha: float
    members: int
    cka: float
    cka_sd: float
    weight_cos2: float
    theory: float
    theory_finite: float
    test_mse: float
    steps: int
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def simulate_linear(
    n: int,
    d: int,
    snr: float,
    *,
    members: int = 8,
    width: int = 16,
    n_probe: int = 1000,
    weight_decay: float = 0.0,
    max_steps: int = 20000,
    tol: float = 1e-4,
    seed: int = 0,
    device: str = "cpu",
) -> LinearSim:
    """Train an M-member ``linear2`` ensemble on one teacher task and measure its alignment.

    Draws X (n, d) and a probe set (n_probe, d) from N(0, I), a unit-norm teacher β, and per
    member ε ~ N(0, σ²) with σ = 1/√SNR (so SNR = ‖β‖²/σ² exactly); trains with
    :func:`train_linear2` and compares members by linear CKA of the hidden layer.

    Examples
    --------
    >>> r = simulate_linear(n=80, d=20, snr=8.0, members=4, n_probe=200, max_steps=4000)
    >>> abs(r.cka - r.theory) < 0.1
    True
    """
    if n < 2 or d < 1:
        raise ValueError(f"need n >= 2 and d >= 1, got n={n}, d={d}")
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr!r}")
    if members < 2:
        raise ValueError(f"members must be >= 2 to compare representations, got {members}")
    rng = np.random.default_rng([seed, n, d])
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    X = rng.standard_normal((n, d))
    probe = rng.standard_normal((n_probe, d))
    sigma = 1.0 / math.sqrt(snr)
    Y = X @ beta + sigma * rng.standard_normal((members, n))  # (M, n)
    fit = train_linear2(
        X,
        Y,
        probe,
        width=width,
        weight_decay=weight_decay,
        max_steps=max_steps,
        tol=tol,
        seed=seed,
        device=device,
    )
    res = pairwise(fit.reps, "linear_cka")
    iu = np.triu_indices(members, 1)
    w = fit.weights.cpu().numpy()  # (M, d)
    wn = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-300)
    cos2 = (wn @ wn.T)[iu] ** 2
    return LinearSim(
        n=n,
        d=d,
        snr=float(snr),
        alpha=n / d,
        members=members,
        cka=res.mean,
        cka_sd=float(res.matrix[iu].std()),
        weight_cos2=float(cos2.mean()),
        theory=float(cka_theory(snr, n / d)),
        theory_finite=cka_finite_size(X, beta, sigma),
        test_mse=float(np.mean(np.sum((w - beta) ** 2, axis=1))),
        steps=fit.steps,
        converged=fit.converged,
    )


__all__ = [
    "LinearFit",
    "LinearSim",
    "cka_finite_size",
    "cka_theory",
    "cos_theory",
    "simulate_linear",
    "train_linear2",
]
