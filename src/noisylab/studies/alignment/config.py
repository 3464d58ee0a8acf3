"""The ``alignment`` study's identity and settings: names, the paper, ``Config`` and its presets."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from noisylab.studies.base import StudyConfig

NAME = "alignment"
TITLE = "Representational alignment under noise: SNR and sample size"
PAPER = (
    "Umar, Laio: Signal-to-Noise Ratio and Sample Size Govern Representational Alignment in "
    "Neural Networks (arXiv 2605.26973)"
)

#: the three kinds of unit, in the figures' order.
SETTINGS = ("linear", "mlp_regression", "mlp_classification")


class Config(StudyConfig):
    """Settings of the ``alignment`` study (``PRESETS``: tiny / quick / extended / paper)."""

    members: int = 8
    seeds: int = 2
    knn_k: int = 10
    # (a) linear network on the synthetic teacher
    linear_d: int = 100
    linear_width: int = 16
    linear_snrs: list[float] = Field(default_factory=lambda: [0.5, 2.0, 8.0])
    linear_alphas: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
    linear_probe: int = 1000
    linear_max_steps: int = 20000
    linear_weight_decay: float = 0.0
    # (b, c) MLP on MNIST-1D
    mlp: bool = True
    mlp_width: int = 16
    mlp_steps: int = 1000
    mlp_lr: float = 1e-2
    mlp_ns: list[int] = Field(
        default_factory=lambda: [25, 50, 100, 200, 400, 800, 1600, 3200]
    )  # the 40-16-10 MLP's nominal threshold is 826 / 10 ≈ 83: sweep both sides
    mlp_etas: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4])
    mlp_eta_n: float = 0.2
    mlp_eta_sweep_n: int = 800
    mlp_snrs: list[float] = Field(default_factory=lambda: [0.5, 2.0, 8.0])
    mlp_snr_n: float = 2.0
    mlp_snr_sweep_n: int = 400
    #: the MLP settings' data: any registered classification dataset (images are flattened)
    dataset: str = "mnist1d"
    #: the MLP settings' network: ``mlp`` only, the one-hidden-layer net the theory is about
    model: str = "mlp"
    #: passed as ``path=`` to file datasets (npz, csv, cifar10/100, mnist from idx files)
    data_dir: str | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "members": 8,
            "seeds": 1,
            "linear_d": 50,
            "linear_snrs": [1.0, 4.0],
            "linear_alphas": [0.25, 0.5, 0.75, 1.5, 2.0, 4.0],
            "linear_probe": 400,
            "linear_max_steps": 6000,
            "mlp_width": 16,
            "mlp_steps": 200,
            "mlp_ns": [100, 400, 1200],  # <= 1438, so `--set dataset=digits` fits
            "mlp_etas": [0.0, 0.4],
            "mlp_eta_n": 0.4,
            "mlp_eta_sweep_n": 400,
            "mlp_snrs": [0.5, 8.0],
            "mlp_snr_n": 0.5,
            "mlp_snr_sweep_n": 400,
        },
        "quick": {},
        # extended (168 units, 503 unit-s measured on one thread, longest unit 14 s): quick plus what the
        # reference's "Measured feasibility" asks for. 3 seeds (float32 training is chaotic,
        # ±0.03 per value: "use ≥ 3 seeds"). The linear net at the reference table's d = 200
        # (its finite-size excess over the theory near α = 1 halves from d = 100) with α = 0.7
        # and 1.5 added around the threshold, still avoiding |α − 1| < 0.05 (the spike). The
        # MLP n sweep dense around both empirical thresholds: regression's CKA minimum sits
        # "at n = 100–200, next to the test-MSE peak" (75 … 300 added), classification's "at
        # or just past the empirical interpolation threshold (n* ≈ 500–600)" (600 added).
        # Five noise levels per SNR/η sweep (paper preset's range) for the Spearman test.
        # The reference's MLP protocol (width 16, 1000 full-batch Adam steps) is kept.
        "extended": {
            "seeds": 3,
            "linear_d": 200,
            "linear_alphas": [0.25, 0.5, 0.7, 0.8, 1.25, 1.5, 2.0, 4.0],
            "mlp_ns": [25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1600, 3200],
            "mlp_etas": [0.0, 0.1, 0.2, 0.3, 0.4],
            "mlp_snrs": [0.5, 1.0, 2.0, 4.0, 8.0],
        },
        "paper": {
            "members": 16,
            "seeds": 5,
            "linear_d": 200,
            "linear_snrs": [0.5, 1.0, 2.0, 4.0, 8.0],
            "linear_alphas": [0.25, 0.5, 0.7, 0.8, 0.9, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0],
            "linear_probe": 2000,
            "linear_max_steps": 60000,
            "mlp_steps": 3000,
            "mlp_ns": [50, 100, 200, 400, 600, 800, 1200, 1600, 2400, 3200, 4000],
            "mlp_etas": [0.0, 0.1, 0.2, 0.3, 0.4, 0.6],
            "mlp_snrs": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0],
        },
    }

    @field_validator("linear_alphas")
    @classmethod
    def _alphas(cls, v: list[float]) -> list[float]:
        for a in v:
            if not a > 0 or abs(a - 1.0) < 0.05:
                raise ValueError(
                    f"linear_alphas must be > 0 and avoid |α − 1| < 0.05 (the n = d spike of "
                    f"a shared pseudo-inverse), got {a!r}"
                )
        return v

    @field_validator("mlp_etas")
    @classmethod
    def _etas(cls, v: list[float]) -> list[float]:
        for e in v:
            if not 0 <= e < 0.9:
                raise ValueError(f"mlp_etas must lie in [0, 0.9) for 10 classes, got {e!r}")
        return v

    @field_validator("linear_snrs", "mlp_snrs")
    @classmethod
    def _snrs(cls, v: list[float]) -> list[float]:
        for s in v:
            if not s > 0:
                raise ValueError(f"SNRs must be > 0, got {s!r}")
        return v

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        from noisylab.data import DATASETS

        DATASETS.get(v)  # raises with the known names
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v != "mlp":
            raise ValueError(
                f"the alignment study's MLP settings take model 'mlp' only (the theory is about "
                f"a one-hidden-layer MLP), got {v!r}"
            )
        return v

    @field_validator("members")
    @classmethod
    def _members(cls, v: int) -> int:
        if v < 2:
            raise ValueError(f"members must be >= 2 to compare representations, got {v}")
        return v

    def mlp_max_n(self) -> int:
        """The largest training-set size the MLP settings draw."""
        return max([*self.mlp_ns, self.mlp_eta_sweep_n, self.mlp_snr_sweep_n])

    def linear_n(self, alpha: float) -> int:
        """Training-set size of the linear setting at α = n/d (at least 2).

        >>> Config(linear_d=50).linear_n(0.25)
        12
        """
        return max(2, round(alpha * self.linear_d))


def mlp_parameters(width: int, d_in: int = 40, k: int = 10) -> int:
    """Parameters of the one-hidden-layer MLP d_in → width → k (with biases).

    Its nominal interpolation threshold is parameters / outputs (Belkin et al. 2019).

    >>> mlp_parameters(16)
    826
    """
    return d_in * width + width + width * k + k
