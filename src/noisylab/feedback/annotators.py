"""Simulated annotators: a pool of Bradley–Terry judges with spurious-feature and position biases.

Annotator k prefers the second response of a pair (y0 shown first, y1 second) with

    P_k(y1 ≻ y0) = σ( (u_k(y1) − u_k(y0)) / τ_k + c_k ),   u_k(y) = r*(x, y) + b_k · s(y),

with its own bias b_k towards the spurious feature s (length), temperature τ_k and position
bias c_k (a logit offset towards the second position). Each pair goes to one annotator drawn
uniformly, who samples its label from P_k (AlpacaFarm's annotators sample at temperature 1).
Training labels then get AlpacaFarm's noise: with probability 2p the label is replaced by a
fair coin (p = 0.25; Dubois et al. 2023, §3.3), via :func:`noisylab.noise.flip_preferences`.
Evaluation uses the same pool without the flips, averaged over annotators and both orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noisylab.noise import flip_preferences


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class Annotator:
    """One Bradley–Terry judge: spurious bias b, temperature τ > 0, position bias c."""

    bias: float
    temperature: float
    position_bias: float = 0.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"annotator temperature must be > 0, got {self.temperature!r}")


@dataclass(frozen=True)
class Labels:
    """Annotated pairs: ``choices`` (n,) in {0, 1} (1 = the second response wins), the clean
    choices before flips, the annotator of each pair and the flip mask."""

    choices: np.ndarray
    clean: np.ndarray
    annotator: np.ndarray
    flipped: np.ndarray


@dataclass(frozen=True)
class AnnotatorPool:
    """A pool of annotators and the training flip rate p (0 for evaluation pools)."""

    annotators: tuple[Annotator, ...]
    flip_rate: float = 0.25

    def __post_init__(self) -> None:
        if not self.annotators:
            raise ValueError("an annotator pool needs at least one annotator, got none")
        if not 0.0 <= self.flip_rate <= 0.5:
            raise ValueError(f"flip_rate must be in [0, 0.5], got {self.flip_rate!r}")

    @classmethod
    def default(
        cls,
        seed: int = 0,
        *,
        n: int = 13,
        bias: tuple[float, float] = (0.05, 0.25),
        temperature: tuple[float, float] = (0.05, 0.30),
        position_bias: float = 0.3,
        flip_rate: float = 0.25,
    ) -> AnnotatorPool:
        """AlpacaFarm's pool analogue: ``n`` annotators with b ~ U(bias), τ ~ U(temperature),
        c ~ U(−position_bias, position_bias) (the project reference's measured ranges)."""
        if n < 1:
            raise ValueError(f"number of annotators must be >= 1, got {n}")
        rng = np.random.default_rng([seed, 13])
        b = rng.uniform(*bias, size=n)
        t = rng.uniform(*temperature, size=n)
        c = rng.uniform(-position_bias, position_bias, size=n)
        ann = tuple(Annotator(float(b[i]), float(t[i]), float(c[i])) for i in range(n))
        return cls(ann, flip_rate)

    @classmethod
    def low_variance(cls, bias: float = 0.15, temperature: float = 0.02) -> AnnotatorPool:
        """AlpacaFarm's ablation: one low-variance annotator, no position bias, no flips."""
        return cls((Annotator(bias, temperature, 0.0),), 0.0)

    def without_flips(self) -> AnnotatorPool:
        """The same annotators with p = 0 (AlpacaFarm's evaluation pool)."""
        return AnnotatorPool(self.annotators, 0.0)

    @property
    def size(self) -> int:
        return len(self.annotators)

    def _params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = np.array([a.bias for a in self.annotators])
        t = np.array([a.temperature for a in self.annotators])
        c = np.array([a.position_bias for a in self.annotators])
        return b, t, c

    def probabilities(
        self, gold0: np.ndarray, gold1: np.ndarray, feat0: np.ndarray, feat1: np.ndarray
    ) -> np.ndarray:
        """P_k(y1 ≻ y0) for every annotator and pair, before flips. (K, n)"""
        g0, g1, s0, s1 = (np.asarray(a, dtype=float) for a in (gold0, gold1, feat0, feat1))
        if not g0.shape == g1.shape == s0.shape == s1.shape or g0.ndim != 1:
            raise ValueError(
                "gold and feature arrays must be 1-D of one length, got shapes "
                f"{g0.shape}, {g1.shape}, {s0.shape}, {s1.shape}"
            )
        b, t, c = self._params()
        du = (g1 - g0)[None, :] + b[:, None] * (s1 - s0)[None, :]  # (K, n)
        return _sigmoid(du / t[:, None] + c[:, None])

    def label(
        self,
        gold0: np.ndarray,
        gold1: np.ndarray,
        feat0: np.ndarray,
        feat1: np.ndarray,
        seed: int | np.random.Generator = 0,
    ) -> Labels:
        """Annotate pairs: one random annotator per pair samples a label, then flips (rate p)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        P = self.probabilities(gold0, gold1, feat0, feat1)  # (K, n)
        n = P.shape[1]
        who = np.asarray(rng.integers(0, self.size, size=n), dtype=np.int64)
        p = P[who, np.arange(n)]
        clean = (rng.random(n) < p).astype(np.int64)
        noisy = flip_preferences(clean, self.flip_rate, rng)
        return Labels(noisy.choices, clean, who, noisy.flipped)

    def preference(
        self, gold0: np.ndarray, gold1: np.ndarray, feat0: np.ndarray, feat1: np.ndarray
    ) -> np.ndarray:
        """Expected judgement P(y1 ≻ y0): the pool average over annotators, both presentation
        orders and (if p > 0) the coin flips, P' = (1 − 2p)·P + p. (n,)

        Identical responses get exactly ½, a draw. Used for evaluation (win-rates)."""
        fwd = self.probabilities(gold0, gold1, feat0, feat1)
        bwd = 1.0 - self.probabilities(gold1, gold0, feat1, feat0)
        P = 0.5 * (fwd + bwd).mean(axis=0)
        return (1.0 - 2.0 * self.flip_rate) * P + self.flip_rate

    def agreement(
        self, gold0: np.ndarray, gold1: np.ndarray, feat0: np.ndarray, feat1: np.ndarray
    ) -> dict[str, float]:
        """Exact expected agreement rates on given pairs (the analogue of AlpacaFarm's 65%
        simulator–human vs 66% human–human figures).

        ``with_gold``: P(label agrees with the gold preference) over pairs whose gold
        rewards differ; ``inter_annotator``: P(two independent labels of a pair, by two
        different random annotators (the same one if the pool has one), agree), including
        the flips when p > 0.
        """
        P = self.probabilities(gold0, gold1, feat0, feat1)  # (K, n)
        p = self.flip_rate
        P = (1.0 - 2.0 * p) * P + p
        g0, g1 = np.asarray(gold0, float), np.asarray(gold1, float)
        differ = g0 != g1
        better1 = g1 > g0
        mean_p = P.mean(axis=0)
        with_gold = np.where(better1, mean_p, 1.0 - mean_p)[differ]
        K = P.shape[0]
        if K == 1:
            inter = P[0] ** 2 + (1 - P[0]) ** 2
        else:
            s1 = P.sum(0)
            s0 = (1 - P).sum(0)
            same = s1**2 - (P**2).sum(0) + s0**2 - ((1 - P) ** 2).sum(0)
            inter = same / (K * (K - 1))
        return {
            "with_gold": float(with_gold.mean()) if with_gold.size else float("nan"),
            "inter_annotator": float(inter.mean()),
            "gold_ties": float(1.0 - differ.mean()),
        }
