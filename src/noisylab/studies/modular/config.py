"""The ``modular`` study's identity and settings: names, the paper, ``Config`` and its presets."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from noisylab.studies.base import StudyConfig

NAME = "modular"
TITLE = "Memorisation and generalisation on modular arithmetic with label noise"
PAPER = (
    "Liu & Lu 2026, Unveiling Memorization-Generalization Coexistence: A Case Study on "
    "Arithmetic Tasks with Label Noise (arXiv 2605.18022); Doshi et al. 2024, To grok or not "
    "to grok (ICLR)"
)

#: engine metrics recorded per epoch under ``"metrics"``.
TRACKED = ("train/loss", "clean/acc", "noisy/acc_noisy", "noisy/acc_true", "test/acc")
#: subsets every network is scored on.
SUBSETS = ("clean", "noisy", "noisy_true", "test")
#: bins of the per-member histogram of neuron IPRs over [0, 1].
IPR_BINS = 20


class Config(StudyConfig):
    """Task, model, optimisation and analysis settings.

    Defaults follow the reference (``reference/modular.md``): train fraction 0.8, the
    ``wrong`` noise kind, full-batch AdamW with lr 1e-3 and betas (0.9, 0.98) at a constant
    rate; weight decay 1 (the prototype's setting; the paper's 0.1 is unverified);
    cross-entropy (``loss='mse'`` on one-hot targets gives Doshi et al.'s setting).
    """

    DATA: ClassVar[str | None] = (
        "its data is the table of (a + b) mod p for every pair, generated from p, with a "
        "one-hidden-layer network; set p, train_frac, widths or activation instead"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "p": 31,
            "activation": "square",
            "widths": [129, 513],
            "noise_rates": [0.4, 0.8],
            "epochs": 300,
            "eval_every": 5,
            "pruning_steps": 9,
        },
        "quick": {
            "p": 47,
            "activation": "square",
            "widths": [129, 257, 513, 1025],
            "noise_rates": [0.0, 0.2, 0.4, 0.6, 0.8],
            "epochs": 600,
            "eval_every": 5,
        },
        # extended (issue #13): quick's task and activation (x², P = 47, the setting where the
        # reference measured extraction cheaply) trained 8x longer, 5000 epochs, with the
        # claims' numbers snapshotted at epoch checkpoints inside each run, so that the budget
        # axis the reference names (width gain, partitions and neuron frequency concentration
        # "did not show at <= 3000 epochs against the paper's 200k") is visible in one run.
        # Members are α ∈ {0.4, 0.8} × 2 seeds (the α = 0.4 arm is where the reference saw
        # partitions beat raw with x²); widths stop at 513 so the widest unit stays under a
        # quarter of the 1800 unit-s budget. ReLU at P = 97 (436 ms/epoch at N = 2049) would
        # fit only a few hundred epochs: see docs/audit/modular.yaml. Measured (1 thread, CPU
        # seconds): units 65/129/257/513 took 48/85/172/362 s, 667 unit-s in all, eagerly;
        # 37/57/95/165 s (354 unit-s) once fit compiles widths 129-513 (ModularMLP's
        # AUTO_COMPILE_WORK), on a machine where the other studies ran 13% faster.
        "extended": {
            "p": 47,
            "activation": "square",
            "widths": [65, 129, 257, 513],
            "noise_rates": [0.4, 0.8],
            "seeds": 2,
            "epochs": 5000,
            "eval_every": 5,
            "checkpoints": [300, 600, 1500, 3000, 5000],
        },
        "paper": {
            "p": 113,
            "activation": "relu",
            "widths": [17, 33, 65, 129, 257, 513, 1025, 2049, 4097],
            "noise_rates": [0.0, 0.2, 0.4, 0.6, 0.8],
            "epochs": 20000,
            "eval_every": 20,
            "seeds": 3,
        },
    }

    p: int = 47
    op: str = "add"
    train_fraction: float = 0.8
    noise: str = "wrong"
    noise_rates: list[float] = Field(default_factory=lambda: [0.0, 0.4, 0.8])
    activation: str = "square"
    widths: list[int] = Field(default_factory=lambda: [129, 257, 513, 1025])
    seeds: int = 1
    epochs: int = 600
    loss: str = "ce"
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    eval_every: int = 5
    #: epochs at which the claims' numbers (raw, G and partition test accuracy, mean neuron
    #: IPR) are also recorded during training: a budget axis inside one run; empty: none.
    checkpoints: list[int] = Field(default_factory=list)
    keep_mu: bool = False
    partition_k: float = 0.25
    partition_grid: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5])
    pruning_steps: int = 21
    swap_activations: list[str] = Field(default_factory=lambda: ["relu", "square", "reverse_relu"])
    threshold: float = 0.9

    @field_validator("op")
    @classmethod
    def _op(cls, v: str) -> str:
        if v not in ("add", "sub", "mul"):
            raise ValueError(f"op must be 'add', 'sub' or 'mul', got {v!r}")
        return v

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        if v not in ("ce", "mse"):
            raise ValueError(
                f"loss must be 'ce' or 'mse' (one-hot targets, Doshi et al.), got {v!r}"
            )
        return v

    @field_validator("noise")
    @classmethod
    def _noise(cls, v: str) -> str:
        if v not in ("wrong", "uniform"):
            raise ValueError(f"noise must be 'wrong' or 'uniform', got {v!r}")
        return v

    @field_validator("noise_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if not v or any(not 0.0 <= r <= 1.0 for r in v):
            raise ValueError(f"noise_rates must be a non-empty list in [0, 1], got {v!r}")
        return v

    @field_validator("widths")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if not v or any(w < 1 for w in v):
            raise ValueError(f"widths must be a non-empty list of positive ints, got {v!r}")
        return v

    @field_validator("activation")
    @classmethod
    def _act(cls, v: str) -> str:
        if v not in ("relu", "square", "gelu"):
            raise ValueError(f"activation must be 'relu', 'square' or 'gelu', got {v!r}")
        return v

    @field_validator("train_fraction", "partition_k", "threshold")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0.0 < v < 1.0:
            raise ValueError(f"expected a fraction in (0, 1), got {v!r}")
        return v

    @model_validator(mode="after")
    def _positive(self) -> Config:
        for name in ("seeds", "epochs", "eval_every", "p"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        bad = [c for c in self.checkpoints if not 1 <= c <= self.epochs or c % self.eval_every]
        if bad or len(set(self.checkpoints)) != len(self.checkpoints):
            raise ValueError(
                "checkpoints must be distinct epochs in [1, epochs] that are multiples of "
                f"eval_every, got {self.checkpoints!r}"
            )
        if self.pruning_steps < 2:
            raise ValueError(f"pruning_steps must be >= 2, got {self.pruning_steps!r}")
        return self
