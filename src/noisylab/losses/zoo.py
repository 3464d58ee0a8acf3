"""The robust-loss zoo as ``nn.Module``s, registered by name in ``LOSSES``.

Defaults follow the reference implementations (the CIFAR-10 column where a paper gives
several): APL (Ma et al. 2020), ALF (Zhou et al. 2021), ANL (Ye et al. 2023), SCE (Wang et
al. 2019). The symmetric family (Σ_k L(z, k) constant) is marked ``symmetric=True``.
"""

from __future__ import annotations

import math

import torch

from noisylab.losses import functional as F
from noisylab.losses._base import (
    LOSSES,
    Loss,
    check_logits,
    check_nonneg,
    check_positive,
    check_unit,
    pick,
    reduce,
)


def cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """−log softmax(z)_y, computed as logsumexp(z) − z_y (faster than F.cross_entropy on CPU).

    ``labels`` are integer classes (…) or soft targets (…, K) (then −Σ_k t_k log p_k).
    """
    if labels.is_floating_point():
        return reduce(-(labels * torch.log_softmax(logits, dim=-1)).sum(-1), reduction)
    if labels.shape != logits.shape[:-1]:
        labels = labels.expand(logits.shape[:-1])
    z_y = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return reduce(torch.logsumexp(logits, dim=-1) - z_y, reduction)


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared error summed over outputs: Σ_k (f_k − t_k)². Targets: (…, K) or (…) for K = 1."""
    return F.mse(outputs, targets, reduction)


# ----------------------------------------------------------------------------- classic


@LOSSES.register("ce", params={}, symmetric=False)
class CrossEntropy(Loss):
    """Cross-entropy −log p_y (soft targets: −Σ_k t_k log p_k)."""

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.ce_all(logits)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_logits(logits)
        if isinstance(labels, torch.Tensor) and labels.is_floating_point():
            return super().forward(logits, labels)
        z_y = pick(logits, labels)  # (…) validated labels, fast path: logsumexp(z) − z_y
        return reduce(torch.logsumexp(logits, dim=-1) - z_y, self.reduction)


@LOSSES.register("mse", params={}, symmetric=False)
class MSE(Loss):
    """Squared error Σ_k (f_k − t_k)² on the outputs against one-hot labels or real targets.

    Also the regression loss: targets (…) for a single output or (…, K) real targets.
    """

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.mse_all(logits)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return mse_loss(outputs, targets, self.reduction)


@LOSSES.register("mae", params={}, symmetric=True)
class MAE(Loss):
    """Mean absolute error on probabilities, 1 − p_y (Ghosh et al. 2017; half the ℓ1 error)."""

    symmetric = True

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.mae_all(logits)


@LOSSES.register("gce", params={"q": 0.7}, symmetric=False)
class GCE(Loss):
    """Generalized cross-entropy (Zhang & Sabuncu 2018, eq. 6): (1 − p_y^q)/q, q ∈ (0, 1]."""

    def __init__(self, q: float = 0.7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.gce_all(logits, self.q)

    def extra_repr(self) -> str:
        return f"q={self.q}, " + super().extra_repr()


@LOSSES.register("rce", params={"min_prob": 1e-4}, symmetric=True)
class RCE(Loss):
    """Reverse cross-entropy (Wang et al. 2019, eq. 5): −log(min_prob) (1 − p_y)."""

    symmetric = True

    def __init__(self, min_prob: float = 1e-4, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.rce_all(logits, self.min_prob)


@LOSSES.register("sce", params={"alpha": 0.1, "beta": 1.0}, symmetric=False)
class SCE(Loss):
    """Symmetric cross-entropy (Wang et al. 2019, eq. 6): α CE + β RCE (CIFAR-10: 0.1, 1.0)."""

    def __init__(self, alpha: float = 0.1, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.sce_all(logits, self.alpha, self.beta)


@LOSSES.register("focal", params={"gamma": 2.0}, symmetric=False)
class Focal(Loss):
    """Focal loss (Lin et al. 2017, eq. 5, no α-balancing): −(1 − p_y)^γ log p_y."""

    def __init__(self, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.gamma = check_nonneg("gamma", gamma)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.focal_all(logits, self.gamma)


@LOSSES.register("taylor-ce", params={"t": 2}, symmetric=False)
class TaylorCE(Loss):
    """Taylor cross-entropy (Feng et al. 2020, eq. 6): Σ_{j=1..t} (1 − p_y)^j / j."""

    def __init__(self, t: int = 2, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(f"t must be an integer >= 1, got {t!r}")
        self.t = t

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.taylor_ce_all(logits, self.t)


@LOSSES.register("poly1", params={"epsilon": 1.0}, symmetric=False)
class Poly1(Loss):
    """Poly-1 loss (Leng et al. 2022, eq. 3): −log p_y + ε (1 − p_y)."""

    def __init__(self, epsilon: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not isinstance(epsilon, int | float) or not math.isfinite(epsilon) or epsilon < -1:
            raise ValueError(f"epsilon must be a finite number >= -1, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.poly1_all(logits, self.epsilon)


@LOSSES.register("label-smoothing", params={"epsilon": 0.1}, symmetric=False)
class LabelSmoothing(Loss):
    """CE against (1 − ε) e_y + ε/K (Szegedy et al. 2016, sec. 7)."""

    def __init__(self, epsilon: float = 0.1, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.epsilon = check_unit("epsilon", epsilon)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.label_smoothing_all(logits, self.epsilon)


@LOSSES.register("bootstrap-soft", params={"beta": 0.95}, symmetric=False)
class BootstrapSoft(Loss):
    """Soft bootstrapping (Reed et al. 2015): β CE + (1 − β) H(p)."""

    def __init__(self, beta: float = 0.95, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.beta = check_unit("beta", beta)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.bootstrap_soft_all(logits, self.beta)


@LOSSES.register("bootstrap-hard", params={"beta": 0.8}, symmetric=False)
class BootstrapHard(Loss):
    """Hard bootstrapping (Reed et al. 2015): β CE + (1 − β)(−log max_k p_k)."""

    def __init__(self, beta: float = 0.8, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.beta = check_unit("beta", beta)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.bootstrap_hard_all(logits, self.beta)


# ----------------------------------------------------------------------------- normalized (APL)


@LOSSES.register("nce", params={}, symmetric=True)
class NCE(Loss):
    """Normalized cross-entropy (Ma et al. 2020, eq. 3): −log p_y / Σ_k (−log p_k)."""

    symmetric = True

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nce_all(logits)


@LOSSES.register("ngce", params={"q": 0.7}, symmetric=True)
class NGCE(Loss):
    """Normalized GCE (Ma et al. 2020): (1 − p_y^q) / (K − Σ_k p_k^q)."""

    symmetric = True

    def __init__(self, q: float = 0.7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.q = check_positive("q", q, upper=1.0, closed=True)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.ngce_all(logits, self.q)


@LOSSES.register("nfl", params={"gamma": 0.5}, symmetric=True)
class NFL(Loss):
    """Normalized focal loss (Ma et al. 2020): FL(z, y) / Σ_k FL(z, k)."""

    symmetric = True

    def __init__(self, gamma: float = 0.5, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.gamma = check_nonneg("gamma", gamma)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nfl_all(logits, self.gamma)


class _ActivePassive(Loss):
    """Active-passive loss (APL, Ma et al. 2020, eq. 7): α · active + β · passive."""

    symmetric = True

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, " + super().extra_repr()


@LOSSES.register("nce+rce", params={"alpha": 1.0, "beta": 1.0}, symmetric=True)
class NCEandRCE(_ActivePassive):
    """APL: α NCE + β RCE (CIFAR-10: α = β = 1)."""

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nce_rce_all(logits, self.alpha, self.beta)


@LOSSES.register("nce+mae", params={"alpha": 1.0, "beta": 1.0}, symmetric=True)
class NCEandMAE(_ActivePassive):
    """APL: α NCE + β MAE (CIFAR-10: α = β = 1)."""

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nce_mae_all(logits, self.alpha, self.beta)


@LOSSES.register("nfl+rce", params={"alpha": 1.0, "beta": 1.0, "gamma": 0.5}, symmetric=True)
class NFLandRCE(_ActivePassive):
    """APL: α NFL_γ + β RCE (CIFAR-10: α = β = 1, γ = 0.5)."""

    def __init__(
        self, alpha: float = 1.0, beta: float = 1.0, gamma: float = 0.5, reduction: str = "mean"
    ) -> None:
        super().__init__(alpha, beta, reduction)
        self.gamma = check_nonneg("gamma", gamma)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nfl_rce_all(logits, self.alpha, self.beta, self.gamma)


# ----------------------------------------------------------------------------- asymmetric (ALF)


@LOSSES.register("agce", params={"a": 0.6, "q": 0.6}, symmetric=False)
class AGCE(Loss):
    """Asymmetric GCE (Zhou et al. 2021, eq. 8): ((a + 1)^q − (a + p_y)^q)/q (C10 a = q = 0.6)."""

    def __init__(self, a: float = 0.6, q: float = 0.6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.a = check_positive("a", a)
        self.q = check_positive("q", q)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.agce_all(logits, self.a, self.q)


@LOSSES.register("aul", params={"a": 5.5, "q": 3.0}, symmetric=False)
class AUL(Loss):
    """Asymmetric unhinged loss (Zhou et al. 2021, eq. 9): ((a − p_y)^q − (a − 1)^q)/q, a > 1."""

    def __init__(self, a: float = 5.5, q: float = 3.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.a = check_positive("a", a)
        if self.a <= 1:
            raise ValueError(f"a must be > 1 for AUL, got {a}")
        self.q = check_positive("q", q)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.aul_all(logits, self.a, self.q)


@LOSSES.register("ael", params={"a": 2.5}, symmetric=False)
class AEL(Loss):
    """Asymmetric exponential loss (Zhou et al. 2021, eq. 10): exp(−p_y / a) (C10 a = 2.5)."""

    def __init__(self, a: float = 2.5, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.a = check_positive("a", a)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.ael_all(logits, self.a)


@LOSSES.register(
    "nce+agce", params={"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5}, symmetric=False
)
class NCEandAGCE(Loss):
    """Zhou et al. 2021: α NCE + β AGCE_{a,q} (CIFAR-10 config: α = 1, β = 4, a = 6, q = 1.5)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 4.0,
        a: float = 6.0,
        q: float = 1.5,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)
        self.a = check_positive("a", a)
        self.q = check_positive("q", q)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nce_agce_all(logits, self.alpha, self.beta, self.a, self.q)


# ----------------------------------------------------------------------------- ANL


@LOSSES.register("nnce", params={"min_prob": 1e-7}, symmetric=True)
class NNCE(Loss):
    """Normalized negative cross-entropy (Ye et al. 2023, eq. 9), A = −log min_prob."""

    symmetric = True

    def __init__(self, min_prob: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.nnce_all(logits, self.min_prob)


@LOSSES.register(
    "anl-ce",
    params={"alpha": 5.0, "beta": 5.0, "delta": 5e-5, "min_prob": 1e-7},
    symmetric=True,
)
class ANLCE(Loss):
    """Active negative loss (Ye et al. 2023, eq. 10): α NCE + β NNCE, plus δ ‖θ‖₁.

    The L1 term is not part of the per-sample value: it is exposed as
    ``regularization = δ`` and :meth:`regularizer(params) <Loss.regularizer>`, which the
    training loop adds (the ANL recipe uses it with weight decay 0). CIFAR-10 defaults:
    α = β = 5, δ = 5e-5.
    """

    symmetric = True

    def __init__(
        self,
        alpha: float = 5.0,
        beta: float = 5.0,
        delta: float = 5e-5,
        min_prob: float = 1e-7,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)
        self.regularization = check_nonneg("delta", delta)
        self.min_prob = check_positive("min_prob", min_prob, upper=1.0)

    def all_classes(self, logits: torch.Tensor) -> torch.Tensor:
        return F.anl_ce_all(logits, self.alpha, self.beta, self.min_prob)
