"""Functional losses: the value of each loss at every class, and per-sample functional twins.

``<name>_all(logits, ...)`` maps logits (…, K) to L(z, k) for every class k, shaped (…, K).
``<name>(logits, labels, ..., reduction="mean")`` is the functional twin of the module
registered under that name (``noisylab.losses.get``). All probabilities are computed in log
space (``log_softmax``) so that logits of ±1e4, p → 0 and p → 1 give finite values and
finite gradients.

Notation: p = softmax(z), K classes, e_y the one-hot label.
"""

from __future__ import annotations

import math

import torch

from noisylab.losses._base import check_logits, log1m_exp, pick, reduce

# ----------------------------------------------------------------------------- helpers


def _logp(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1)  # (…, K)


def _pow_p(logp: torch.Tensor, q: float) -> torch.Tensor:
    """p^q computed as exp(q log p): finite value and gradient at p = 0."""
    return torch.exp(q * logp)


def _one_minus_p_pow(logp: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 − p)^γ = exp(γ log(1 − p)); ``log1m_exp`` keeps it finite at p = 1 for γ < 1."""
    return torch.exp(gamma * log1m_exp(logp))


def _finish(values: torch.Tensor, labels: torch.Tensor, reduction: str) -> torch.Tensor:
    return reduce(pick(values, labels), reduction)


# ----------------------------------------------------------------------------- all classes


def ce_all(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy −log p_k for every k."""
    return -_logp(logits)


def mae_all(logits: torch.Tensor) -> torch.Tensor:
    """MAE in the reference implementations' scale: 1 − p_k (the true ℓ1 error is 2 − 2p_k)."""
    return 1.0 - torch.softmax(logits, dim=-1)


def mse_all(logits: torch.Tensor) -> torch.Tensor:
    """Squared error of the outputs against e_k: Σ_j z_j² − 2 z_k + 1."""
    return (logits**2).sum(-1, keepdim=True) - 2.0 * logits + 1.0


def gce_all(logits: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """GCE (Zhang & Sabuncu 2018, eq. 6): (1 − p_k^q) / q."""
    return (1.0 - _pow_p(_logp(logits), q)) / q


def rce_all(logits: torch.Tensor, min_prob: float = 1e-4) -> torch.Tensor:
    """Reverse CE (Wang et al. 2019, eq. 5) with log 0 clamped to log ``min_prob``.

    −Σ_j p_j log clamp(e_k,j, min_prob) = −log(min_prob) · (1 − p_k).
    """
    return -math.log(min_prob) * (1.0 - torch.softmax(logits, dim=-1))


def nce_all(logits: torch.Tensor) -> torch.Tensor:
    """Normalized CE (Ma et al. 2020, eq. 3): −log p_k / Σ_j (−log p_j).

    The denominator is ≥ K log K > 0, so the ratio is always finite.
    """
    nll = -_logp(logits)
    return nll / nll.sum(-1, keepdim=True)


def ngce_all(logits: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Normalized GCE (Ma et al. 2020): (1 − p_k^q) / (K − Σ_j p_j^q).

    Σ_j p_j^q ≤ K^{1−q} < K, so the denominator stays positive.
    """
    pq = _pow_p(_logp(logits), q)
    k = logits.shape[-1]
    return (1.0 - pq) / (k - pq.sum(-1, keepdim=True))


def focal_all(logits: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): −(1 − p_k)^γ log p_k."""
    logp = _logp(logits)
    return -_one_minus_p_pow(logp, gamma) * logp


def nfl_all(logits: torch.Tensor, gamma: float = 0.5) -> torch.Tensor:
    """Normalized focal loss (Ma et al. 2020): FL(z, k) / Σ_j FL(z, j).

    The APL code detaches the normaliser; we differentiate through it, as the normalized
    loss is defined (values are identical either way).
    """
    fl = focal_all(logits, gamma)
    return fl / fl.sum(-1, keepdim=True)


def agce_all(logits: torch.Tensor, a: float = 0.6, q: float = 0.6) -> torch.Tensor:
    """Asymmetric GCE (Zhou et al. 2021, eq. 8): ((a + 1)^q − (a + p_k)^q) / q."""
    p = torch.softmax(logits, dim=-1)
    return ((a + 1.0) ** q - (a + p) ** q) / q


def aul_all(logits: torch.Tensor, a: float = 5.5, q: float = 3.0) -> torch.Tensor:
    """Asymmetric unhinged loss (Zhou et al. 2021, eq. 9): ((a − p_k)^q − (a − 1)^q) / q, a > 1."""
    p = torch.softmax(logits, dim=-1)
    return ((a - p) ** q - (a - 1.0) ** q) / q


def ael_all(logits: torch.Tensor, a: float = 2.5) -> torch.Tensor:
    """Asymmetric exponential loss (Zhou et al. 2021, eq. 10): exp(−p_k / a)."""
    return torch.exp(-torch.softmax(logits, dim=-1) / a)


def nnce_all(logits: torch.Tensor, min_prob: float = 1e-7) -> torch.Tensor:
    """Normalized negative CE (Ye et al. 2023, ANL, eq. 9).

    With A = −log ``min_prob`` and lp_k = A + log max(p_k, min_prob) ∈ [0, A]:
    NNCE(z, k) = 1 − lp_k / Σ_j lp_j. One p_j ≥ 1/K, so Σ_j lp_j ≥ A − log K > 0.
    """
    floor = math.log(min_prob)
    lp = _logp(logits).clamp_min(floor) - floor
    return 1.0 - lp / lp.sum(-1, keepdim=True)


def taylor_ce_all(logits: torch.Tensor, t: int = 2) -> torch.Tensor:
    """Taylor CE (Feng et al. 2020, eq. 6): Σ_{j=1..t} (1 − p_k)^j / j."""
    one_minus = 1.0 - torch.softmax(logits, dim=-1)
    out = torch.zeros_like(one_minus)
    power = torch.ones_like(one_minus)
    for j in range(1, t + 1):
        power = power * one_minus
        out = out + power / j
    return out


def poly1_all(logits: torch.Tensor, epsilon: float = 1.0) -> torch.Tensor:
    """Poly-1 (Leng et al. 2022, eq. 3): −log p_k + ε (1 − p_k)."""
    logp = _logp(logits)
    return -logp + epsilon * (1.0 - torch.exp(logp))


def label_smoothing_all(logits: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    """CE against the smoothed target (1 − ε) e_k + ε/K (Szegedy et al. 2016)."""
    nll = -_logp(logits)
    return (1.0 - epsilon) * nll + epsilon * nll.mean(-1, keepdim=True)


def bootstrap_soft_all(logits: torch.Tensor, beta: float = 0.95) -> torch.Tensor:
    """Soft bootstrapping (Reed et al. 2015, eq. 3): −Σ_j (β e_k,j + (1 − β) p_j) log p_j.

    = β (−log p_k) + (1 − β) H(p). The prediction in the target is *not* detached: Reed et
    al. describe it as CE plus minimum-entropy regularisation (a detached target would make
    the second term's gradient vanish).
    """
    logp = _logp(logits)
    entropy = -(torch.exp(logp) * logp).sum(-1, keepdim=True)
    return -beta * logp + (1.0 - beta) * entropy


def bootstrap_hard_all(logits: torch.Tensor, beta: float = 0.8) -> torch.Tensor:
    """Hard bootstrapping (Reed et al. 2015, eq. 4): β (−log p_k) + (1 − β)(−log max_j p_j)."""
    logp = _logp(logits)
    return -beta * logp - (1.0 - beta) * logp.max(-1, keepdim=True).values


def normalize_logits(
    logits: torch.Tensor, mode: str | None = "l2", scale: float = 1.0, eps: float = 1e-6
) -> torch.Tensor:
    """Constrain logits so that a loss unbounded below (the unhinged loss) stays bounded.

    ``'l2'``
        Euclidean normalisation of the centred logits, per sample:
        z̃ = s · (z − z̄1) / sqrt(‖z − z̄1‖² + ε). The unhinged loss ignores the mean logit z̄,
        so we centre first; otherwise a model could shrink the loss magnitude by inflating a
        direction the loss never sees.
    ``'batchnorm'``
        Batch normalisation of the logits treated as *one* channel: z̃ = s · (z − μ) /
        sqrt(σ² + ε) with μ, σ² the (biased) mean and variance over the batch and class axes,
        computed per ensemble member for (M, B, K) input. Sharing the statistics across
        classes (rather than one channel per class) keeps the map the same for every class,
        so argmax z̃ = argmax z and accuracy measured on the raw logits is unaffected; batch
        statistics are always used, as no decision depends on them.
    ``None``
        The raw logits.

    Both maps are monotone in each sample's logits up to a positive factor, so predictions
    are unchanged.
    """
    if mode is None or mode == "none":
        return logits
    if mode == "l2":
        c = logits - logits.mean(-1, keepdim=True)
        return scale * c / torch.sqrt((c * c).sum(-1, keepdim=True) + eps)
    if mode == "batchnorm":
        if logits.shape[-2] < 2:
            raise ValueError(
                f"logit_norm='batchnorm' needs a batch of at least 2 samples, "
                f"got logits shaped {tuple(logits.shape)}"
            )
        mu = logits.mean(dim=(-2, -1), keepdim=True)
        var = logits.var(dim=(-2, -1), keepdim=True, unbiased=False)
        return scale * (logits - mu) / torch.sqrt(var + eps)
    raise ValueError(f"logit_norm must be 'l2', 'batchnorm' or None, got {mode!r}")


def unhinged_all(
    logits: torch.Tensor, logit_norm: str | None = "l2", scale: float = 1.0
) -> torch.Tensor:
    """Multi-class unhinged loss: −z_k + (1/K) Σ_j z_j, on normalised logits.

    The symmetric part of CE: −log p_k − (1/K) Σ_j (−log p_j) (logsumexp cancels); linear in
    z and symmetric (Σ_k L = 0). It is unbounded below, hence :func:`normalize_logits`.
    """
    z = normalize_logits(logits, logit_norm, scale)
    return z.mean(-1, keepdim=True) - z


def sgce_all(logits: torch.Tensor, q: float = 0.3) -> torch.Tensor:
    """Symmetrized GCE: (1/q) [ (1/K) Σ_j p_j^q − p_k^q ] = GCE_q − mean_j GCE_q(z, j).

    Tends to the unhinged loss as q → 0 (p^q ≈ 1 + q log p), and equals (1/K − p_k) = MAE
    − (K−1)/K at q = 1.
    """
    pq = _pow_p(_logp(logits), q)
    return (pq.mean(-1, keepdim=True) - pq) / q


def alpha_mae_all(logits: torch.Tensor, alpha: float = 0.3) -> torch.Tensor:
    """α-MAE, logit-temperature form: (1/α) (1 − softmax(α z)_k), α > 0.

    The source's definition was unavailable; of the two forms that fit its abstract we chose
    this one (H1). α = 1 gives MAE; α → 0 gives (K−1)/(Kα) + L_unh(z, k)/K, i.e. the
    unhinged loss up to scale and constant; the β-smoothness grows with α.
    """
    return (1.0 - torch.softmax(alpha * logits, dim=-1)) / alpha


def sce_all(logits: torch.Tensor, alpha: float = 0.1, beta: float = 1.0) -> torch.Tensor:
    """Symmetric CE (Wang et al. 2019, eq. 6): α CE + β RCE."""
    return alpha * ce_all(logits) + beta * rce_all(logits)


def nce_rce_all(logits: torch.Tensor, alpha: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    """APL (Ma et al. 2020, eq. 7): α NCE + β RCE."""
    return alpha * nce_all(logits) + beta * rce_all(logits)


def nce_mae_all(logits: torch.Tensor, alpha: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    """APL (Ma et al. 2020, eq. 7): α NCE + β MAE."""
    return alpha * nce_all(logits) + beta * mae_all(logits)


def nfl_rce_all(
    logits: torch.Tensor, alpha: float = 1.0, beta: float = 1.0, gamma: float = 0.5
) -> torch.Tensor:
    """APL (Ma et al. 2020, eq. 7): α NFL_γ + β RCE."""
    return alpha * nfl_all(logits, gamma) + beta * rce_all(logits)


def nce_agce_all(
    logits: torch.Tensor, alpha: float = 1.0, beta: float = 4.0, a: float = 6.0, q: float = 1.5
) -> torch.Tensor:
    """Zhou et al. 2021: α NCE + β AGCE_{a,q}."""
    return alpha * nce_all(logits) + beta * agce_all(logits, a, q)


def anl_ce_all(
    logits: torch.Tensor, alpha: float = 5.0, beta: float = 5.0, min_prob: float = 1e-7
) -> torch.Tensor:
    """ANL-CE (Ye et al. 2023, eq. 10) without its δ‖θ‖₁ term: α NCE + β NNCE."""
    return alpha * nce_all(logits) + beta * nnce_all(logits, min_prob)


# ----------------------------------------------------------------------------- per sample


def ce(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Functional twin of ``get("ce")``: −log p_y (soft targets: −Σ_k t_k log p_k)."""
    return _finish(ce_all(check_logits(logits)), labels, reduction)


def mse(outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Functional twin of ``get("mse")``: Σ_k (f_k − t_k)² summed over the outputs.

    ``targets`` are integer classes (…) (one-hot e_y), real targets shaped like the outputs
    (…, K), or (…) for a single output (K = 1, regression).
    """
    if targets.dim() == outputs.dim() - 1:
        if outputs.shape[-1] == 1:
            targets = targets.unsqueeze(-1)
        else:
            targets = torch.nn.functional.one_hot(targets.long(), outputs.shape[-1])
            targets = targets.to(outputs.dtype)
    return reduce(((outputs - targets) ** 2).sum(-1), reduction)


def mae(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Functional twin of ``get("mae")``: 1 − p_y."""
    return _finish(mae_all(check_logits(logits)), labels, reduction)


def gce(
    logits: torch.Tensor, labels: torch.Tensor, q: float = 0.7, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("gce")``: (1 − p_y^q)/q."""
    return _finish(gce_all(check_logits(logits), q), labels, reduction)


def rce(
    logits: torch.Tensor, labels: torch.Tensor, min_prob: float = 1e-4, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("rce")``: −log(min_prob)(1 − p_y)."""
    return _finish(rce_all(check_logits(logits), min_prob), labels, reduction)


def sce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.1,
    beta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("sce")``: α CE + β RCE."""
    return _finish(sce_all(check_logits(logits), alpha, beta), labels, reduction)


def nce(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Functional twin of ``get("nce")``: −log p_y / Σ_k (−log p_k)."""
    return _finish(nce_all(check_logits(logits)), labels, reduction)


def ngce(
    logits: torch.Tensor, labels: torch.Tensor, q: float = 0.7, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("ngce")``."""
    return _finish(ngce_all(check_logits(logits), q), labels, reduction)


def focal(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("focal")``: −(1 − p_y)^γ log p_y."""
    return _finish(focal_all(check_logits(logits), gamma), labels, reduction)


def nfl(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 0.5, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("nfl")``."""
    return _finish(nfl_all(check_logits(logits), gamma), labels, reduction)


def agce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    a: float = 0.6,
    q: float = 0.6,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("agce")``."""
    return _finish(agce_all(check_logits(logits), a, q), labels, reduction)


def aul(
    logits: torch.Tensor,
    labels: torch.Tensor,
    a: float = 5.5,
    q: float = 3.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("aul")``."""
    return _finish(aul_all(check_logits(logits), a, q), labels, reduction)


def ael(
    logits: torch.Tensor, labels: torch.Tensor, a: float = 2.5, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("ael")``."""
    return _finish(ael_all(check_logits(logits), a), labels, reduction)


def nnce(
    logits: torch.Tensor, labels: torch.Tensor, min_prob: float = 1e-7, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("nnce")``."""
    return _finish(nnce_all(check_logits(logits), min_prob), labels, reduction)


def taylor_ce(
    logits: torch.Tensor, labels: torch.Tensor, t: int = 2, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("taylor-ce")``."""
    return _finish(taylor_ce_all(check_logits(logits), t), labels, reduction)


def poly1(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("poly1")``."""
    return _finish(poly1_all(check_logits(logits), epsilon), labels, reduction)


def label_smoothing(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("label-smoothing")``."""
    return _finish(label_smoothing_all(check_logits(logits), epsilon), labels, reduction)


def bootstrap_soft(
    logits: torch.Tensor, labels: torch.Tensor, beta: float = 0.95, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("bootstrap-soft")``."""
    return _finish(bootstrap_soft_all(check_logits(logits), beta), labels, reduction)


def bootstrap_hard(
    logits: torch.Tensor, labels: torch.Tensor, beta: float = 0.8, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("bootstrap-hard")``."""
    return _finish(bootstrap_hard_all(check_logits(logits), beta), labels, reduction)


def unhinged(
    logits: torch.Tensor,
    labels: torch.Tensor,
    logit_norm: str | None = "l2",
    scale: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("unhinged")``: −z̃_y + mean_k z̃_k on normalised logits z̃."""
    return _finish(unhinged_all(check_logits(logits), logit_norm, scale), labels, reduction)


def sgce(
    logits: torch.Tensor, labels: torch.Tensor, q: float = 0.3, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("sgce")``."""
    return _finish(sgce_all(check_logits(logits), q), labels, reduction)


def alpha_mae(
    logits: torch.Tensor, labels: torch.Tensor, alpha: float = 0.3, reduction: str = "mean"
) -> torch.Tensor:
    """Functional twin of ``get("alpha-mae")``."""
    return _finish(alpha_mae_all(check_logits(logits), alpha), labels, reduction)


def nce_rce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("nce+rce")``."""
    return _finish(nce_rce_all(check_logits(logits), alpha, beta), labels, reduction)


def nce_mae(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("nce+mae")``."""
    return _finish(nce_mae_all(check_logits(logits), alpha, beta), labels, reduction)


def nfl_rce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    gamma: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("nfl+rce")``."""
    return _finish(nfl_rce_all(check_logits(logits), alpha, beta, gamma), labels, reduction)


def nce_agce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 4.0,
    a: float = 6.0,
    q: float = 1.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("nce+agce")``."""
    return _finish(nce_agce_all(check_logits(logits), alpha, beta, a, q), labels, reduction)


def anl_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 5.0,
    beta: float = 5.0,
    min_prob: float = 1e-7,
    reduction: str = "mean",
) -> torch.Tensor:
    """Functional twin of ``get("anl-ce")``: α NCE + β NNCE per sample.

    The module's δ‖θ‖₁ term is a parameter penalty, not a per-sample value: add
    ``get("anl-ce", delta=δ).regularizer(model.parameters())`` (or δ Σ|θ| yourself).
    """
    return _finish(anl_ce_all(check_logits(logits), alpha, beta, min_prob), labels, reduction)


def twin(name: str):
    """The functional twin of the loss registered as ``name`` (``"nce+rce"`` → :func:`nce_rce`)."""
    from noisylab.losses._base import LOSSES

    LOSSES.get(name)  # unknown names raise with the registered ones
    return globals()[name.replace("-", "_").replace("+", "_")]
