"""The robust-loss zoo as ``nn.Module``s, registered by name in ``LOSSES``.

Each loss writes its formula once, in ``terms(v)``, over a gather-first :class:`View`
(see :mod:`noisylab.losses._base`). Defaults are each class's signature (the registry reads
them from there) and follow the reference implementations, the CIFAR-10 column where a paper
gives several: APL (Ma et al. 2020, HanxunH/Active-Passive-Losses), ALF (Zhou et al. 2021,
hitcszx/ALFs), ANL (Ye et al. 2023, Virusdoll/Active-Negative-Loss), SCE (Wang et al. 2019).
Named presets (``losses.get(name, preset="cifar100")``) hold the papers' configurations; each
cites the config file it was read from.

Conventions of the peers' code, off by default (see ``docs/losses.md``):

``clamp``
    The peers clamp the softmax at 1e-7 before GCE, NGCE and RCE (``clamp=1e-7``
    reproduces them; their RCE then sums max(p_k, 1e-7) over k ≠ y).
``detach_focal``
    The peers detach the focal factor (1 − p)^γ in focal and NFL (and in NFL's normaliser,
    while log p there stays live); their gradient is −(1 − p)^γ ∇log p, not the gradient of
    the focal loss. ``detach_focal=True`` reproduces it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from noisylab.checks import check_flag, check_nonneg, check_positive, check_probability
from noisylab.losses._base import (
    Loss,
    View,
    default_of,
    reduce,
    register,
    scaled,
)

# APL = HanxunH/Active-Passive-Losses configs/{cifar10,cifar100}/sym/<loss>.yaml
# ALF = hitcszx/ALFs config.py (CIFAR10_CONFIG, CIFAR100_CONFIG)
# ANL = Virusdoll/Active-Negative-Loss config/{cifar10,cifar100}_<loss>.json


def cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """−log softmax(z)_y, computed as logsumexp(z) − z_y (gather first).

    ``labels`` are integer classes (…) or soft targets (…, K) (then −Σ_k t_k log p_k).
    """
    if labels.is_floating_point():
        return reduce(-(labels * torch.log_softmax(logits, dim=-1)).sum(-1), reduction)
    if labels.shape != logits.shape[:-1]:
        labels = labels.expand(logits.shape[:-1])
    z_y = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return reduce(torch.logsumexp(logits, dim=-1) - z_y, reduction)


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared error summed over outputs: Σ_k (f_k − t_k)².

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


# ----------------------------------------------------------------------------- formulas
# Each takes a View and returns (…, 1) at the label or (…, K) at every class.


def _ce(v: View) -> torch.Tensor:
    return v.lse - v.at(v.z)  # −log p = logsumexp(z) − z_k


def _mae(v: View) -> torch.Tensor:
    return 1.0 - v.p


def _floor(logp: torch.Tensor, clamp: float) -> torch.Tensor:
    """log max(p, clamp): the peers' probability clamp in log space (0 = off)."""
    return logp if clamp == 0.0 else logp.clamp_min(math.log(clamp))


def _gce(v: View, q: float, clamp: float) -> torch.Tensor:
    if clamp > 0.0:
        return (1.0 - v.p.clamp_min(clamp) ** q) / q
    return (1.0 - (v.p + torch.finfo(v.z.dtype).tiny) ** q) / q  # finite gradient at p = 0


def _rce(v: View, min_prob: float, clamp: float) -> torch.Tensor:
    a = -math.log(min_prob)
    if clamp == 0.0:
        return a * (1.0 - v.p)
    pc = v.p_all.clamp_min(clamp)  # (…, K)
    return a * (pc.sum(-1, keepdim=True) - v.at(pc))


def _nce(v: View) -> torch.Tensor:
    total = v.logp_all.sum(-1, keepdim=True)  # the full log-softmax first, then gather
    return v.logp / total


def _ngce(v: View, q: float, clamp: float) -> torch.Tensor:
    pq = torch.exp(q * _floor(v.logp_all, clamp))  # (…, K)
    return (1.0 - v.at(pq)) / (v.k - pq.sum(-1, keepdim=True))


def _focal_of(logp: torch.Tensor, gamma: float, detach: bool) -> torch.Tensor:
    """(1 − p)^γ log p = −FL from log p (any shape): the focal loss with its sign flipped.

    Normalised forms use it as is (the signs cancel in their ratios), saving a pass over
    (…, K). For γ < 1, 1 − p is shifted by the smallest normal float, which keeps the
    gradient finite at p = 1 (the factor's derivative is infinite there while log p = 0) and
    changes no value above the float's resolution.
    """
    one_minus = 1.0 - torch.exp(logp)
    if gamma < 1.0:  # only then is the factor's derivative at p = 1 infinite
        one_minus = one_minus + torch.finfo(logp.dtype).tiny
    factor = one_minus.pow(gamma)
    if detach:
        factor = factor.detach()
    return factor * logp


def _nfl(v: View, gamma: float, detach: bool) -> torch.Tensor:
    neg_fl = _focal_of(v.logp_all, gamma, detach)  # (…, K), −FL
    return v.at(neg_fl) / neg_fl.sum(-1, keepdim=True)


def _agce(v: View, a: float, q: float) -> torch.Tensor:
    return ((a + 1.0) ** q - (a + v.p) ** q) / q


def _aul(v: View, a: float, q: float) -> torch.Tensor:
    return ((a - v.p) ** q - (a - 1.0) ** q) / q


def _ael(v: View, a: float) -> torch.Tensor:
    return torch.exp(-v.p / a)


def _anorm(v: View, a: float, p: float, clamp: float) -> torch.Tensor:
    lp = _floor(v.logp_all, clamp)  # (…, K)
    pp = torch.exp(p * lp)  # p_k^p, finite gradient at p_k = 0
    p_y = torch.exp(v.at(lp))
    return ((a - p_y) ** p - v.at(pp) + pp.sum(-1, keepdim=True) - (a - 1.0) ** p) / p


def _nnce(v: View, min_prob: float) -> torch.Tensor:
    floor = math.log(min_prob)
    lp = v.logp_all.clamp_min(floor) - floor  # A + log max(p, min_prob) ∈ [0, A]
    return 1.0 - v.at(lp) / lp.sum(-1, keepdim=True)


def _nnfl(v: View, gamma: float, min_prob: float, detach: bool) -> torch.Tensor:
    floor = math.log(min_prob)
    neg_fl = _focal_of(v.logp_all.clamp_min(floor), gamma, detach)  # (…, K), −FL ∈ [−A, 0]
    a = -((1.0 - min_prob) ** gamma) * floor  # the focal loss at p = min_prob
    return 1.0 - (a + v.at(neg_fl)) / (v.k * a + neg_fl.sum(-1, keepdim=True))


def _nrce(v: View, clamp: float) -> torch.Tensor:
    if clamp == 0.0:
        return (1.0 - v.p) / (v.k - 1)
    pc = v.p_all.clamp_min(clamp)
    total = pc.sum(-1, keepdim=True)
    return (total - v.at(pc)) / ((v.k - 1) * total)


# ----------------------------------------------------------------------------- classic


@register("ce", symmetric=False)
class CrossEntropy(Loss):
    """Cross-entropy −log p_y (soft targets: −Σ_k t_k log p_k).

    Integer labels take the gather-first path logsumexp(z) − z_y: no per-class loss is
    formed. Its speed against a plain implementation is measured by ``benchmarks/losses.py``.
    """

    def terms(self, v: View) -> torch.Tensor:
        return _ce(v)


@register("mse", symmetric=False)
class MSE(Loss):
    """Squared error Σ_k (f_k − t_k)² on the outputs against one-hot labels or real targets.

    Also the regression loss: targets (…) for a single output or (…, K) real targets.
    """

    def terms(self, v: View) -> torch.Tensor:
        return (v.z**2).sum(-1, keepdim=True) - 2.0 * v.at(v.z) + 1.0

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        classes = isinstance(targets, torch.Tensor) and not targets.is_floating_point()
        if classes and outputs.dim() >= 2 and outputs.shape[-1] >= 2:
            return super().forward(outputs, targets)  # gather first: Σ z² − 2 z_y + 1
        return mse_loss(outputs, targets, self.reduction)


@register("mae", symmetric=True)
class MAE(Loss):
    """Mean absolute error on probabilities, scale · (1 − p_y) (Ghosh et al. 2017).

    Half the ℓ1 error ‖p − e_y‖₁ = 2 − 2p_y, as in the APL, ALF and ANL code; ALF's
    ``MAELoss`` defaults to scale 2 (the true ℓ1 error).
    """

    def __init__(self, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_mae(v), self.scale)


@register("gce", symmetric=False, presets={"cifar10": {"q": 0.7}, "cifar100": {"q": 0.7}})
class GCE(Loss):
    """Generalized cross-entropy (Zhang & Sabuncu 2018, eq. 6): (1 − p_y^q)/q, q ∈ (0, 1].

    ``clamp`` (default 0, off) floors p at ``clamp`` first, as the peers do (1e-7).
    Presets: ALF config.py (q = 0.7 on CIFAR-10 and CIFAR-100).
    """

    def __init__(self, q: float = 0.7, clamp: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return _gce(v, self.q, self.clamp)


@register("rce", symmetric=True)
class RCE(Loss):
    """Reverse cross-entropy (Wang et al. 2019, eq. 5): −log(min_prob) (1 − p_y), times scale.

    −Σ_k p_k log clamp(e_y,k, min_prob). With ``clamp`` c > 0 (peers: 1e-7) p is floored
    first: −log(min_prob) Σ_{k≠y} max(p_k, c), and floored classes get no gradient.
    """

    def __init__(
        self,
        min_prob: float = 1e-4,
        scale: float = 1.0,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)
        self.scale = check_positive("scale", scale)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_rce(v, self.min_prob, self.clamp), self.scale)


_RCE_MIN_PROB = default_of(RCE, "min_prob")  # the log-0 floor of RCE inside combinations


@register(
    "sce",
    symmetric=False,
    presets={"cifar10": {"alpha": 0.1, "beta": 1.0}, "cifar100": {"alpha": 6.0, "beta": 0.1}},
)
class SCE(Loss):
    """Symmetric cross-entropy (Wang et al. 2019, eq. 6): α CE + β RCE.

    Presets: APL sce.yaml (CIFAR-10 α = 0.1, β = 1; CIFAR-100 α = 6, β = 0.1).
    """

    def __init__(
        self,
        alpha: float = 0.1,
        beta: float = 1.0,
        min_prob: float = _RCE_MIN_PROB,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _ce(v) + self.beta * _rce(v, self.min_prob, self.clamp)


@register("focal", symmetric=False, presets={"cifar10": {"gamma": 0.5}, "cifar100": {"gamma": 0.5}})
class Focal(Loss):
    """Focal loss (Lin et al. 2017, eq. 5): −α_y (1 − p_y)^γ log p_y.

    ``alpha``: None (no weighting), one number (every class) or K per-class weights α_k, as
    the peers' ``FocalLoss(alpha=[...])``. ``detach_focal=True`` detaches (1 − p_y)^γ, as the
    peers do. Presets: APL focal.yaml, ANL {cifar10,cifar100}_fl.json (γ = 0.5).
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.gamma = check_nonneg("gamma", gamma)
        if alpha is not None and not isinstance(alpha, int | float):
            alpha = tuple(check_nonneg("alpha", a) for a in alpha)
            if not alpha:
                raise ValueError("alpha must be a number or a non-empty sequence of K weights")
        elif alpha is not None:
            alpha = check_nonneg("alpha", alpha)
        self.alpha = alpha
        self.detach_focal = check_flag("detach_focal", detach_focal)

    def terms(self, v: View) -> torch.Tensor:
        out = -_focal_of(v.logp, self.gamma, self.detach_focal)  # (…, 1): gathered first
        if self.alpha is None:
            return out
        if isinstance(self.alpha, float):
            return self.alpha * out
        if len(self.alpha) != v.k:
            raise ValueError(f"alpha has {len(self.alpha)} class weights, the logits {v.k}")
        w = torch.tensor(self.alpha, dtype=v.z.dtype, device=v.z.device)
        return v.at(w.expand(v.z.shape)) * out


@register("taylor-ce", symmetric=False)
class TaylorCE(Loss):
    """Taylor cross-entropy (Feng et al. 2020, eq. 6): Σ_{j=1..t} (1 − p_y)^j / j."""

    def __init__(self, t: int = 2, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(f"t must be an integer >= 1, got {t!r}")
        self.t = t

    def terms(self, v: View) -> torch.Tensor:
        one_minus = 1.0 - v.p
        out, power = one_minus, one_minus
        for j in range(2, self.t + 1):
            power = power * one_minus
            out = out + power / j
        return out


@register("poly1", symmetric=False)
class Poly1(Loss):
    """Poly-1 loss (Leng et al. 2022, eq. 3): −log p_y + ε (1 − p_y)."""

    def __init__(self, epsilon: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not isinstance(epsilon, int | float) or not math.isfinite(epsilon) or epsilon < -1:
            raise ValueError(f"epsilon must be a finite number >= -1, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def terms(self, v: View) -> torch.Tensor:
        return -v.logp + self.epsilon * (1.0 - torch.exp(v.logp))


@register("label-smoothing", symmetric=False)
class LabelSmoothing(Loss):
    """CE against (1 − ε) e_y + ε/K (Szegedy et al. 2016, sec. 7)."""

    def __init__(self, epsilon: float = 0.1, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.epsilon = check_probability("epsilon", epsilon)

    def terms(self, v: View) -> torch.Tensor:
        mean = v.logp_all.mean(-1, keepdim=True)  # the full log-softmax first, then gather
        return -(1.0 - self.epsilon) * v.logp - self.epsilon * mean


@register("bootstrap-soft", symmetric=False)
class BootstrapSoft(Loss):
    """Soft bootstrapping (Reed et al. 2015, eq. 3): −Σ_j (β e_y,j + (1 − β) p_j) log p_j.

    = β (−log p_y) + (1 − β) H(p). The prediction in the target is *not* detached: Reed et
    al. describe it as CE plus minimum-entropy regularisation (a detached target would make
    the second term's gradient vanish).
    """

    def __init__(self, beta: float = 0.95, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.beta = check_probability("beta", beta)

    def terms(self, v: View) -> torch.Tensor:
        lp = v.logp_all  # before p_all, so that p_all = exp(lp)
        entropy = -(v.p_all * lp).sum(-1, keepdim=True)
        return -self.beta * v.logp + (1.0 - self.beta) * entropy


@register("bootstrap-hard", symmetric=False)
class BootstrapHard(Loss):
    """Hard bootstrapping (Reed et al. 2015, eq. 4): β (−log p_y) + (1 − β)(−log max_k p_k)."""

    def __init__(self, beta: float = 0.8, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.beta = check_probability("beta", beta)

    def terms(self, v: View) -> torch.Tensor:
        top = v.logp_all.max(-1, keepdim=True).values
        return -self.beta * v.logp - (1.0 - self.beta) * top


@register("nlnl", symmetric=False)
class NLNL(Loss):
    """Negative learning (Kim et al. 2019, NLNL eq. 2), in expectation over the complementary label.

    NL(z, ȳ) = −log max(1 − p_ȳ, min_prob) for a complementary label ȳ ≠ y. The APL and
    ALF code draw one ȳ uniformly per sample and step; noisylab returns its expectation
    (1/(K−1)) Σ_{k≠y} NL(z, k), whose value and gradient the peers' draw estimates without
    bias, deterministic so that every registry property (twin, symmetry, ensembles) holds.
    Not applied: the peers' per-class weights from the training set's label counts (all 1
    on a balanced set) and NLNL's later selective stages. ``min_prob`` = 1e-5 as the peers.
    Not symmetric: Σ_y L(z, y) = Σ_k NL(z, k) depends on z.
    """

    def __init__(self, min_prob: float = 1e-5, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    def terms(self, v: View) -> torch.Tensor:
        nl = -torch.log((1.0 - v.p_all).clamp_min(self.min_prob))  # (…, K)
        return (nl.sum(-1, keepdim=True) - v.at(nl)) / (v.k - 1)


# ----------------------------------------------------------------------------- normalized (APL)


@register("nce", symmetric=True)
class NCE(Loss):
    """Normalized cross-entropy (Ma et al. 2020, eq. 3): scale · (−log p_y) / Σ_k (−log p_k).

    The denominator is ≥ K log K > 0, so the ratio is always finite.
    """

    def __init__(self, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_nce(v), self.scale)


@register("ngce", symmetric=True, presets={"cifar10": {"q": 0.1}, "cifar100": {"q": 0.7}})
class NGCE(Loss):
    """Normalized GCE (Ma et al. 2020): scale · (1 − p_y^q) / (K − Σ_k p_k^q).

    Σ_k p_k^q ≤ K^{1−q} < K, so the denominator stays positive. ``clamp``: the peers' floor
    on p (1e-7), material at q = 0.1 (up to 24 % per sample). Presets: APL ngce.yaml
    (CIFAR-10 q = 0.1, CIFAR-100 q = 0.7).
    """

    def __init__(
        self, q: float = 0.7, scale: float = 1.0, clamp: float = 0.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)
        self.scale = check_positive("scale", scale)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_ngce(v, self.q, self.clamp), self.scale)


@register(
    "nfl",
    symmetric=True,
    presets={"cifar10": {"gamma": 0.5, "scale": 10.0}, "cifar100": {"gamma": 0.5, "scale": 1.0}},
)
class NFL(Loss):
    """Normalized focal loss (Ma et al. 2020): scale · FL(z, y) / Σ_k FL(z, k).

    Both the numerator and the normaliser are differentiated (the gradient of the loss as
    defined). ``detach_focal=True`` detaches every factor (1 − p_k)^γ, numerator and
    normaliser, as the APL/ALF/ANL code does; values are identical either way.
    Presets: APL nfl.yaml (CIFAR-10 γ = 0.5, scale 10; CIFAR-100 γ = 0.5, scale 1).
    """

    def __init__(
        self,
        gamma: float = 0.5,
        scale: float = 1.0,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.gamma = check_nonneg("gamma", gamma)
        self.scale = check_positive("scale", scale)
        self.detach_focal = check_flag("detach_focal", detach_focal)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_nfl(v, self.gamma, self.detach_focal), self.scale)


@register("nmae", symmetric=True)
class NMAE(Loss):
    """Normalized MAE (Ma et al. 2020, eq. 3 applied to MAE): scale · (1 − p_y) / (K − 1).

    MAE / Σ_k MAE(z, k), since Σ_k (1 − p_k) = K − 1. The APL code's
    ``NormalizedMeanAbsoluteError`` divides by 2(K − 1) instead (scale = 0.5 reproduces it);
    ALF's ``NMAE`` equals this one.
    """

    def __init__(self, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_mae(v) / (v.k - 1), self.scale)


@register("nrce", symmetric=True)
class NRCE(Loss):
    """Normalized RCE (Ma et al. 2020, eq. 3 applied to RCE): scale · (1 − p_y) / (K − 1).

    RCE / Σ_k RCE(z, k): the factor −log(min_prob) cancels. The APL and ALF code multiply
    RCE by (K − 1)/4 instead (``1 / 4 * (K - 1)``, an operator-precedence slip for
    1/(4(K − 1))); their NRCE equals this one times −log(1e-4)·(K − 1)²/4 (use ``scale``).
    With ``clamp`` c: (Σ_k p̃_k − p̃_y) / ((K − 1) Σ_k p̃_k), p̃ = max(p, c).
    """

    def __init__(self, scale: float = 1.0, clamp: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.scale = check_positive("scale", scale)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_nrce(v, self.clamp), self.scale)


class _Pair(Loss):
    """α · first + β · second (APL, Ma et al. 2020, eq. 7; ALF; ANL without the L1 term)."""

    def __init__(self, alpha: float, beta: float, reduction: str) -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)


_APL = {"cifar10": {"alpha": 1.0, "beta": 1.0}, "cifar100": {"alpha": 10.0, "beta": 0.1}}


@register("nce+rce", symmetric=True, presets=_APL)
class NCEandRCE(_Pair):
    """APL: α NCE + β RCE. Presets: APL nce+rce.yaml (CIFAR-10 1, 1; CIFAR-100 10, 0.1)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _rce(v, _RCE_MIN_PROB, self.clamp)


@register(
    "nce+mae",
    symmetric=True,
    presets={"cifar10": {"alpha": 1.0, "beta": 1.0}, "cifar100": {"alpha": 10.0, "beta": 1.0}},
)
class NCEandMAE(_Pair):
    """APL: α NCE + β MAE. Presets: ALF config.py / APL nce+mae.yaml (C10 1, 1; C100 10, 1)."""

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(alpha, beta, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _mae(v)


class _NFLPair(_Pair):
    """α NFL_γ + β · second; ``detach_focal`` as in :class:`NFL`."""

    def __init__(
        self, alpha: float, beta: float, gamma: float, detach_focal: bool, reduction: str
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.gamma = check_nonneg("gamma", gamma)
        self.detach_focal = check_flag("detach_focal", detach_focal)

    def first(self, v: View) -> torch.Tensor:
        return self.alpha * _nfl(v, self.gamma, self.detach_focal)


_GAMMA = default_of(NFL, "gamma")


@register(
    "nfl+rce",
    symmetric=True,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
        "cifar100": {"alpha": 10.0, "beta": 0.1, "gamma": 0.5},
    },
)
class NFLandRCE(_NFLPair):
    """APL: α NFL_γ + β RCE. Presets: APL nfl+rce.yaml (C10 1, 1, γ 0.5; C100 10, 0.1, γ 0.5).

    (ALF's config.py uses β = 1 on CIFAR-100.)
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _rce(v, _RCE_MIN_PROB, self.clamp)


@register(
    "nfl+mae",
    symmetric=True,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 1.0, "gamma": 0.5},
        "cifar100": {"alpha": 10.0, "beta": 1.0, "gamma": 0.5},
    },
)
class NFLandMAE(_NFLPair):
    """APL: α NFL_γ + β MAE. Presets: APL nfl+mae.yaml (C10 1, 1, γ 0.5; C100 10, 1, γ 0.5)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _mae(v)


@register("nfl+nce", symmetric=True)
class NFLandNCE(_NFLPair):
    """APL code's ``NFLandNCE``: α NFL_γ + β NCE."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _nce(v)


_Q_GCE = default_of(GCE, "q")
_Q_NGCE = default_of(NGCE, "q")


class _QPair(_Pair):
    """A pair whose first part has an exponent q and, optionally, the peers' clamp."""

    def __init__(self, alpha: float, beta: float, q: float, clamp: float, reduction: str) -> None:
        super().__init__(alpha, beta, reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)
        self.clamp = check_probability("clamp", clamp, high_open=True)


@register("gce+mae", symmetric=False)
class GCEandMAE(_QPair):
    """APL code's ``GCEandMAE``: α GCE_q + β MAE (the APL code leaves GCE unscaled: α = 1)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_GCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _gce(v, self.q, self.clamp) + self.beta * _mae(v)


@register("gce+rce", symmetric=False)
class GCEandRCE(_QPair):
    """APL code's ``GCEandRCE``: α GCE_q + β RCE (APL leaves GCE unscaled: α = 1)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_GCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _gce(v, self.q, self.clamp) + self.beta * _rce(
            v, _RCE_MIN_PROB, self.clamp
        )


@register("gce+nce", symmetric=False)
class GCEandNCE(_QPair):
    """APL code's ``GCEandNCE``: α GCE_q + β NCE (APL ignores both scales: α = β = 1)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_GCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        nce = _nce(v)  # the full log-softmax first, then gather
        return self.alpha * _gce(v, self.q, self.clamp) + self.beta * nce


@register("ngce+nce", symmetric=True)
class NGCEandNCE(_QPair):
    """APL code's ``NGCEandNCE``: α NGCE_q + β NCE."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_NGCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _ngce(v, self.q, self.clamp) + self.beta * _nce(v)


@register(
    "ngce+mae",
    symmetric=True,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 1.0, "q": 0.1},
        "cifar100": {"alpha": 10.0, "beta": 1.0, "q": 0.7},
    },
)
class NGCEandMAE(_QPair):
    """APL: α NGCE_q + β MAE. Presets: APL ngce+mae.yaml (C10 1, 1, q 0.1; C100 10, 1, q 0.7)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_NGCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _ngce(v, self.q, self.clamp) + self.beta * _mae(v)


@register(
    "ngce+rce",
    symmetric=True,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 1.0, "q": 0.1},
        "cifar100": {"alpha": 10.0, "beta": 0.1, "q": 0.7},
    },
)
class NGCEandRCE(_QPair):
    """APL: α NGCE_q + β RCE.

    Presets: APL ngce+rce.yaml (C10 1, 1, q 0.1; C100 10, 0.1, q 0.7; that CIFAR-100 file
    names ``NGCEandMAE`` as its criterion, we take its numbers for NGCE+RCE).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        q: float = _Q_NGCE,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, q, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _ngce(v, self.q, self.clamp) + self.beta * _rce(
            v, _RCE_MIN_PROB, self.clamp
        )


@register("mae+rce", symmetric=True)
class MAEandRCE(_Pair):
    """APL code's ``MAEandRCE``: α MAE + β RCE (two passive losses)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _mae(v) + self.beta * _rce(v, _RCE_MIN_PROB, self.clamp)


# ----------------------------------------------------------------------------- asymmetric (ALF)


@register(
    "agce",
    symmetric=False,
    presets={"cifar10": {"a": 0.6, "q": 0.6}, "cifar100": {"a": 0.6, "q": 0.6}},
)
class AGCE(Loss):
    """Asymmetric GCE (Zhou et al. 2021, eq. 8): scale · ((a + 1)^q − (a + p_y)^q)/q.

    Presets: ALF config.py (a = q = 0.6 on CIFAR-10 and CIFAR-100).
    """

    def __init__(
        self, a: float = 0.6, q: float = 0.6, scale: float = 1.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.a = check_positive("a", a)
        self.q = check_positive("q", q)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_agce(v, self.a, self.q), self.scale)


def _check_a_above_one(a: float, what: str) -> float:
    a = check_positive("a", a)
    if a <= 1:
        raise ValueError(f"a must be > 1 for {what}, got {a}")
    return a


@register(
    "aul",
    symmetric=False,
    presets={"cifar10": {"a": 5.5, "q": 3.0}, "cifar100": {"a": 5.5, "q": 3.0}},
)
class AUL(Loss):
    """Asymmetric unhinged loss (Zhou et al. 2021, eq. 9): scale · ((a − p_y)^q − (a − 1)^q)/q.

    a > 1. Presets: ALF config.py (a = 5.5, q = 3 on CIFAR-10 and CIFAR-100).
    """

    def __init__(
        self, a: float = 5.5, q: float = 3.0, scale: float = 1.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.a = _check_a_above_one(a, "AUL")
        self.q = check_positive("q", q)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_aul(v, self.a, self.q), self.scale)


@register("ael", symmetric=False, presets={"cifar10": {"a": 2.5}, "cifar100": {"a": 2.5}})
class AEL(Loss):
    """Asymmetric exponential loss (Zhou et al. 2021, eq. 10): scale · exp(−p_y / a).

    Presets: ALF config.py (a = 2.5 on CIFAR-10 and CIFAR-100).
    """

    def __init__(self, a: float = 2.5, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.a = check_positive("a", a)
        self.scale = check_positive("scale", scale)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_ael(v, self.a), self.scale)


@register("anorm", symmetric=False)
class ANorm(Loss):
    """Asymmetric p-norm loss (ALF code's ``ANormLoss``, Zhou et al. 2021):

    scale · (1/p) [Σ_k |a e_y,k − p_k|^p − (a − 1)^p], a > 1, p ∈ (0, 1]. Computed as
    (1/p)[(a − p_y)^p + Σ_{k≠y} p_k^p − (a − 1)^p] with p_k^p = exp(p log p_k), so the
    gradient stays finite at p_k = 0. The ALF code floors p at 1e-5 first (``clamp=1e-5``).
    Defaults: ALF's ``ANormLoss`` (a = 1.5, p = 0.9).
    """

    def __init__(
        self,
        a: float = 1.5,
        p: float = 0.9,
        scale: float = 1.0,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.a = _check_a_above_one(a, "ANorm")
        self.p = check_positive("p", p, upper=1.0, closed=True)
        self.scale = check_positive("scale", scale)
        self.clamp = check_probability("clamp", clamp, high_open=True)

    def terms(self, v: View) -> torch.Tensor:
        return scaled(_anorm(v, self.a, self.p, self.clamp), self.scale)


class _ANormPair(_Pair):
    def __init__(
        self, alpha: float, beta: float, a: float, p: float, clamp: float, reduction: str
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.a = _check_a_above_one(a, "ANorm")
        self.p = check_positive("p", p, upper=1.0, closed=True)
        self.clamp = check_probability("clamp", clamp, high_open=True)


@register("nce+anorm", symmetric=False)
class NCEandANorm(_ANormPair):
    """ALF code's ``NCEandANL``: α NCE + β ANorm_{a,p} (defaults a = 2, p = 0.7 as there)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        a: float = 2.0,
        p: float = 0.7,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, a, p, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _anorm(v, self.a, self.p, self.clamp)


@register("anorm+rce", symmetric=False)
class ANormandRCE(_ANormPair):
    """ALF code's ``ANLandRCE``: α ANorm_{a,p} + β RCE (defaults a = 2, p = 0.7 as there).

    ``clamp`` floors p in both parts (ALF: 1e-5 in ANorm, 1e-7 in RCE).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        a: float = 2.0,
        p: float = 0.7,
        clamp: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, a, p, clamp, reduction)

    def terms(self, v: View) -> torch.Tensor:
        anorm = _anorm(v, self.a, self.p, self.clamp)
        return self.alpha * anorm + self.beta * _rce(v, _RCE_MIN_PROB, self.clamp)


@register(
    "nce+agce",
    symmetric=False,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
        "cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.8, "q": 3.0},
    },
)
class NCEandAGCE(_Pair):
    """Zhou et al. 2021: α NCE + β AGCE_{a,q}.

    Presets: ALF config.py and ANL {cifar10,cifar100}_nce_agce.json (C10 α 1, β 4, a 6,
    q 1.5; C100 α 10, β 0.1, a 1.8, q 3).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 4.0,
        a: float = 6.0,
        q: float = 1.5,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.a = check_positive("a", a)
        self.q = check_positive("q", q)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _agce(v, self.a, self.q)


@register(
    "nce+aul",
    symmetric=False,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
        "cifar100": {"alpha": 10.0, "beta": 0.015, "a": 6.0, "q": 3.0},
    },
)
class NCEandAUL(_Pair):
    """Zhou et al. 2021: α NCE + β AUL_{a,q} (ALF and ANL's CIFAR-10 configuration).

    Presets: ALF config.py and ANL {cifar10,cifar100}_nce_aul.json (C10 α 1, β 4, a 6.3,
    q 1.5; C100 α 10, β 0.015, a 6, q 3).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 4.0,
        a: float = 6.3,
        q: float = 1.5,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.a = _check_a_above_one(a, "AUL")
        self.q = check_positive("q", q)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _aul(v, self.a, self.q)


@register(
    "nce+ael",
    symmetric=False,
    presets={
        "cifar10": {"alpha": 1.0, "beta": 4.0, "a": 5.0},
        "cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.5},
    },
)
class NCEandAEL(_Pair):
    """Zhou et al. 2021: α NCE + β AEL_a (ALF and ANL's CIFAR-10 configuration).

    Presets: ALF config.py and ANL {cifar10,cifar100}_nce_ael.json (C10 α 1, β 4, a 5;
    C100 α 10, β 0.1, a 1.5).
    """

    def __init__(
        self, alpha: float = 1.0, beta: float = 4.0, a: float = 5.0, reduction: str = "mean"
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.a = check_positive("a", a)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _ael(v, self.a)


@register("nfl+agce", symmetric=False)
class NFLandAGCE(_NFLPair):
    """ALF code's ``NFLandAGCE``: α NFL_γ + β AGCE_{a,q} (defaults a = 3, q = 2 as there)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        a: float = 3.0,
        q: float = 2.0,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)
        self.a = check_positive("a", a)
        self.q = check_positive("q", q)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _agce(v, self.a, self.q)


@register("nfl+aul", symmetric=False)
class NFLandAUL(_NFLPair):
    """ALF code's ``NFLandAUE``: α NFL_γ + β AUL_{a,q} (defaults a = 1.5, q = 0.9 as there)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        a: float = 1.5,
        q: float = 0.9,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)
        self.a = _check_a_above_one(a, "AUL")
        self.q = check_positive("q", q)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _aul(v, self.a, self.q)


@register("nfl+ael", symmetric=False)
class NFLandAEL(_NFLPair):
    """ALF code's ``NFLandAEL``: α NFL_γ + β AEL_a (default a = 3 as there)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        a: float = 3.0,
        gamma: float = _GAMMA,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, gamma, detach_focal, reduction)
        self.a = check_positive("a", a)

    def terms(self, v: View) -> torch.Tensor:
        return self.first(v) + self.beta * _ael(v, self.a)


# ----------------------------------------------------------------------------- ANL


@register("nnce", symmetric=True)
class NNCE(Loss):
    """Normalized negative cross-entropy (Ye et al. 2023, ANL, eq. 9).

    With A = −log ``min_prob`` and lp_k = A + log max(p_k, min_prob) ∈ [0, A]:
    NNCE(z, k) = 1 − lp_k / Σ_j lp_j. One p_j ≥ 1/K, so Σ_j lp_j ≥ A − log K > 0.
    """

    def __init__(self, min_prob: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    def terms(self, v: View) -> torch.Tensor:
        return _nnce(v, self.min_prob)


@register("nnfl", symmetric=True)
class NNFL(Loss):
    """Normalized negative focal loss (Ye et al. 2023, ANL; ``NormalizedNegativeFocalLoss``).

    With log p floored at log ``min_prob``, FL_k = −(1 − p_k)^γ log p_k ∈ [0, A] and
    A = −(1 − min_prob)^γ log min_prob: NNFL(z, y) = 1 − (A − FL_y) / (K A − Σ_k FL_k).
    ``detach_focal=True`` detaches the factors (1 − p_k)^γ, as the ANL code does.
    """

    def __init__(
        self,
        gamma: float = _GAMMA,
        min_prob: float = default_of(NNCE, "min_prob"),
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.gamma = check_nonneg("gamma", gamma)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)
        self.detach_focal = check_flag("detach_focal", detach_focal)

    def terms(self, v: View) -> torch.Tensor:
        return _nnfl(v, self.gamma, self.min_prob, self.detach_focal)


_MIN_PROB = default_of(NNCE, "min_prob")


class _ANL(_Pair):
    """Active negative loss (Ye et al. 2023, eq. 10): α · active + β · negative, plus δ ‖θ‖₁.

    The L1 term is not part of the per-sample value: it is exposed as
    ``regularization = δ`` and :meth:`regularizer(params) <Loss.regularizer>`, which the
    training loop adds (the ANL recipe uses it with weight decay 0).
    """

    def __init__(
        self, alpha: float, beta: float, delta: float, min_prob: float, reduction: str
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.regularization = check_nonneg("delta", delta)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    @property
    def delta(self) -> float:
        return self.regularization


_ANL_PRESETS = {
    "cifar10": {"alpha": 5.0, "beta": 5.0, "delta": 5e-5},
    "cifar100": {"alpha": 10.0, "beta": 1.0, "delta": 5e-7},
}


@register("anl-ce", symmetric=True, presets=_ANL_PRESETS)
class ANLCE(_ANL):
    """ANL-CE (Ye et al. 2023, eq. 10): α NCE + β NNCE, plus δ ‖θ‖₁ (see :class:`_ANL`).

    Presets: ANL {cifar10,cifar100}_anl_ce.json (C10 α = β = 5, δ = 5e-5; C100 α = 10,
    β = 1, δ = 5e-7).
    """

    def __init__(
        self,
        alpha: float = 5.0,
        beta: float = 5.0,
        delta: float = 5e-5,
        min_prob: float = _MIN_PROB,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, delta, min_prob, reduction)

    def terms(self, v: View) -> torch.Tensor:
        return self.alpha * _nce(v) + self.beta * _nnce(v, self.min_prob)


@register(
    "anl-fl",
    symmetric=True,
    presets={k: {**p, "gamma": 0.5} for k, p in _ANL_PRESETS.items()},
)
class ANLFL(_ANL):
    """ANL-FL (Ye et al. 2023): α NFL_γ + β NNFL_γ, plus δ ‖θ‖₁ (see :class:`_ANL`).

    ``detach_focal=True`` reproduces the ANL code's detached focal factors.
    Presets: ANL {cifar10,cifar100}_anl_fl.json (C10 α = β = 5, δ = 5e-5, γ = 0.5; C100
    α = 10, β = 1, δ = 5e-7, γ = 0.5).
    """

    def __init__(
        self,
        alpha: float = 5.0,
        beta: float = 5.0,
        delta: float = 5e-5,
        gamma: float = _GAMMA,
        min_prob: float = _MIN_PROB,
        detach_focal: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, delta, min_prob, reduction)
        self.gamma = check_nonneg("gamma", gamma)
        self.detach_focal = check_flag("detach_focal", detach_focal)

    def terms(self, v: View) -> torch.Tensor:
        nfl = _nfl(v, self.gamma, self.detach_focal)
        return self.alpha * nfl + self.beta * _nnfl(v, self.gamma, self.min_prob, self.detach_focal)


@register(
    "anl-ce-er",
    symmetric=False,
    batch=True,
    presets={
        "cifar10": {**_ANL_PRESETS["cifar10"], "lamb": 2.0},
        "cifar100": {**_ANL_PRESETS["cifar100"], "lamb": 0.01},
    },
)
class ANLCEER(_ANL):
    """ANL-CE with entropy regularisation (ANL code's ``ANL_CE_ER``).

    α NCE + β NNCE + λ ER + δ ‖θ‖₁, ER = log K − H(p̄) with p̄ = the batch-mean prediction
    (Σ_k p̄_k log max(p̄_k, min_prob) + log K). ER is one number per batch (per member for
    (M, B, K) logits); it is added to every sample's value, so ``reduction='mean'`` gives
    the ANL objective and ``'none'`` gives (…, B) values that share it. Its value at every
    class (symmetrize, soft targets) adds the same ER to each class. Not applied: the ANL
    code's clamps of p to [min_prob, 1 − min_prob] before p̄ and inside this NNCE.
    Presets: ANL {cifar10,cifar100}_anl_ce_er.json (C10 α = β = 5, δ = 5e-5, λ = 2; C100
    α = 10, β = 1, δ = 5e-7, λ = 0.01).
    """

    def __init__(
        self,
        alpha: float = 5.0,
        beta: float = 5.0,
        delta: float = 5e-5,
        lamb: float = 2.0,
        min_prob: float = _MIN_PROB,
        reduction: str = "mean",
    ) -> None:
        super().__init__(alpha, beta, delta, min_prob, reduction)
        self.lamb = check_nonneg("lamb", lamb)

    def terms(self, v: View) -> torch.Tensor:
        out = self.alpha * _nce(v) + self.beta * _nnce(v, self.min_prob)
        if self.lamb == 0.0:
            return out
        mean_p = v.p_all.mean(-2, keepdim=True)  # (…, 1, K) over the batch
        neg_entropy = (mean_p * mean_p.clamp_min(self.min_prob).log()).sum(-1, keepdim=True)
        return out + self.lamb * (math.log(v.k) + neg_entropy)  # ER broadcast over (…, B, ·)


# ----------------------------------------------------------------------------- DMI


@register("dmi", symmetric=False, batch=True)
class DMI(Loss):
    """L_DMI (Xu et al. 2019, eq. 5; their code): −log(|det(Pᵀ Y)| + eps), one value per batch.

    P (B, K) the softmax, Y (B, K) the one-hot labels (or soft targets), per ensemble member
    for (M, B, K) logits. The official code does not divide U = Pᵀ Y by B and adds eps =
    1e-3 inside the log; we do the same, in float64, and through log|det(U/B)| + K log B
    when B^K would overflow float64 (K log B ≥ 700). The batch value is returned for every sample: ``reduction='mean'`` is L_DMI,
    ``'none'`` gives (…, B) equal entries, ``'sum'`` B · L_DMI. A batch needs B ≥ K samples
    covering the classes for det ≠ 0; otherwise the value is −log(eps) with zero gradient.
    The value "at every class" is not defined for a loss of the whole batch's labels:
    :meth:`all_classes` raises; :func:`~noisylab.losses.symmetrize` evaluates a tiled batch
    (one label per block, det = 0) and yields a constant.
    """

    def __init__(self, eps: float = 1e-3, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.eps = check_positive("eps", eps)

    def _value(self, p: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        b, k = p.shape[-2], p.shape[-1]
        u = (p.transpose(-1, -2) @ targets.to(p.dtype)).double()  # (…, K, K) = Pᵀ Y
        if k * math.log(b) < 700.0:  # |det U| ≤ B^K fits in float64
            value = -torch.log(torch.linalg.det(u).abs() + self.eps)  # (…)
        else:  # det(U/B) B^K in log space; finite gradient at singular U (0 through |·|)
            det = torch.linalg.det(u / b).abs().clamp_min(torch.finfo(torch.float64).tiny)
            log_det = torch.log(det) + k * math.log(b)
            value = -torch.logaddexp(log_det, torch.full_like(log_det, math.log(self.eps)))
        return value.to(p.dtype).unsqueeze(-1).expand(p.shape[:-1])  # (…, B)

    def terms(self, v: View) -> torch.Tensor:
        if v.index is None:
            raise TypeError(
                "dmi is a loss of the whole batch's labels; its value at every class is "
                "undefined (pass integer labels or soft targets)"
            )
        onehot = torch.zeros_like(v.z).scatter_(-1, v.index, 1.0)
        return self._value(torch.softmax(v.z, dim=-1), onehot).unsqueeze(-1)

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if isinstance(labels, torch.Tensor) and labels.is_floating_point():
            if labels.shape != logits.shape:
                raise ValueError(
                    f"soft targets must be shaped like the logits {tuple(logits.shape)}, "
                    f"got {tuple(labels.shape)}"
                )
            return self._value(torch.softmax(logits, dim=-1), labels)
        return super().per_sample(logits, labels)
