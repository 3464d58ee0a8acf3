"""Modular-arithmetic classification c = a ∘ b mod P with label noise on the training split.

The full table of operand pairs is split once (seeded) into train and test; a fraction α of
the training pairs then gets a corrupted label. The test set is always clean. The returned
:class:`ModularTask` keeps the clean :class:`~noisylab.data.Dataset` (``y_train`` holds the
*true* labels, so the engine can score noisy samples against them), the noisy labels and the
mask of corrupted samples.

Noise kinds
-----------
``wrong``
    Exactly round(α·n) training pairs, chosen uniformly without replacement, get a label drawn
    uniformly from the P − 1 *incorrect* classes (Liu & Lu 2026). The realised rate is α.
``uniform``
    Exactly round(α·n) pairs get ``randint(0, P)`` (Doshi et al. 2024), which hits the true
    label with probability 1/P; the realised rate is about α(1 − 1/P). The noisy mask marks
    the pairs whose label actually changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from noisylab.checks import check_choice, check_int, check_probability
from noisylab.data.dataset import Dataset
from noisylab.modular.fourier import OPS, is_prime

NOISE_KINDS: dict[str, str] = {
    "wrong": "a uniformly random incorrect label (never the true one)",
    "uniform": "randint(0, P): may hit the true label with probability 1/P",
}


@dataclass(frozen=True)
class ModularTask:
    """A modular-arithmetic dataset plus the label noise of one realisation.

    Attributes
    ----------
    data : Dataset
        x = int64 (n, 2) operand pairs, y = int64 true labels; test set clean.
    noisy_labels : Tensor
        (n,) int64 training labels after corruption.
    noisy_mask : Tensor
        (n,) bool, ``noisy_labels != data.y_train``.
    p, op, noise, rate, seed
        The parameters that produced it.
    """

    data: Dataset
    noisy_labels: torch.Tensor  # (n,)
    noisy_mask: torch.Tensor  # (n,)
    p: int
    op: str
    noise: str
    rate: float
    seed: int

    @property
    def realized_rate(self) -> float:
        """Fraction of training labels that differ from the truth."""
        return float(self.noisy_mask.double().mean()) if len(self.noisy_mask) else 0.0


def check_p(p: object, op: str) -> int:
    """Validate the modulus: an int ≥ 2, prime for multiplication."""
    check_choice("op", op, OPS)
    p = check_int("P", p, minimum=2)
    if op == "mul" and not is_prime(p):
        raise ValueError(f"P must be prime for op='mul' (Z_P^× is then a group), got {p!r}")
    return p


def all_pairs(p: int, op: str = "add") -> tuple[torch.Tensor, torch.Tensor]:
    """Every operand pair and its label: x (n, 2) int64, y (n,) int64.

    add/sub use a, b ∈ 0..P−1 (n = P²); mul uses a, b ∈ 1..P−1 (n = (P−1)²): 0 is not in the
    multiplicative group and would map every pair (0, b) to 0.
    """
    p = check_p(p, op)
    lo = 1 if op == "mul" else 0
    r = torch.arange(lo, p, dtype=torch.int64)
    a, b = torch.meshgrid(r, r, indexing="ij")
    x = torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)  # (n, 2)
    return x, apply_op(x, p, op)


def apply_op(x: torch.Tensor, p: int, op: str) -> torch.Tensor:
    """c = a ∘ b mod P for pairs x (..., 2): (...,) int64."""
    a, b = x[..., 0], x[..., 1]
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p
    if op == "mul":
        return (a * b) % p
    raise ValueError(f"op must be one of {OPS}, got {op!r}")


def corrupt(
    labels: torch.Tensor | np.ndarray, p: int, kind: str, rate: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt round(rate·n) labels of ``labels`` (n,) with noise ``kind``.

    Parameters
    ----------
    labels : (n,) int
        True labels in [0, P).
    p : int
        Number of classes.
    kind : {'wrong', 'uniform'}
        See the module docstring.
    rate : float
        α ∈ [0, 1].
    seed : int
        Seed of the noise realisation (independent of the split seed).

    Returns
    -------
    noisy : Tensor (n,) int64
    mask : Tensor (n,) bool
        ``noisy != labels``.
    """
    check_choice("noise kind", kind, NOISE_KINDS)
    rate = check_probability("noise rate", rate)
    y = torch.as_tensor(labels, dtype=torch.int64).clone()
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= p):
        raise ValueError(f"labels must lie in [0, {p}), got range [{int(y.min())}, {int(y.max())}]")
    n = y.numel()
    rng = np.random.default_rng(seed)
    k = round(rate * n)
    idx = torch.as_tensor(rng.permutation(n)[:k], dtype=torch.int64)
    if kind == "wrong":
        # A shift in 1..P−1 added mod P is uniform over the P − 1 incorrect classes.
        shift = torch.as_tensor(rng.integers(1, p, size=k), dtype=torch.int64)
        y[idx] = (y[idx] + shift) % p
    else:
        y[idx] = torch.as_tensor(rng.integers(0, p, size=k), dtype=torch.int64)
    clean = torch.as_tensor(labels, dtype=torch.int64)
    return y, y != clean


def make_task(
    p: int = 113,
    op: str = "add",
    train_fraction: float = 0.8,
    noise_rate: float = 0.0,
    noise: str = "wrong",
    seed: int = 0,
    noise_seed: int | None = None,
) -> ModularTask:
    """Build the modular task: seeded train/test split of all pairs, then label noise.

    Parameters
    ----------
    p : int
        Modulus P (prime for ``op='mul'``).
    op : {'add', 'sub', 'mul'}
    train_fraction : float
        Fraction of pairs in the training split, in (0, 1).
    noise_rate : float
        α: fraction of training labels to corrupt.
    noise : {'wrong', 'uniform'}
    seed : int
        Seed of the split.
    noise_seed : int, optional
        Seed of the noise (default ``seed``).

    Returns
    -------
    ModularTask

    Examples
    --------
    >>> t = make_task(p=7, noise_rate=0.5, seed=0)
    >>> t.data.x_train.shape, t.realized_rate
    (torch.Size([39, 2]), 0.5128205128205128)
    """
    p = check_p(p, op)
    check_probability("train_fraction", train_fraction, low_open=True, high_open=True)
    x, y = all_pairs(p, op)
    n = len(y)
    n_train = round(train_fraction * n)
    if not 0 < n_train < n:
        raise ValueError(
            f"train_fraction={train_fraction} leaves {n_train} of {n} pairs for training; "
            "expected at least one pair in each split"
        )
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(n), dtype=torch.int64)
    tr, te = perm[:n_train], perm[n_train:]
    data = Dataset(
        name=f"modular-{op}-{p}",
        x_train=x[tr],
        y_train=y[tr],
        x_test=x[te],
        y_test=y[te],
        num_classes=p,
        provenance=f"c = a {'+-*'[OPS.index(op)]} b mod {p}; split seed {seed}",
    )
    noisy, mask = corrupt(
        data.y_train, p, noise, noise_rate, seed if noise_seed is None else noise_seed
    )
    return ModularTask(data, noisy, mask, p, op, noise, float(noise_rate), int(seed))


def member_labels(
    task: ModularTask, rates: Sequence[float], seeds: Sequence[int], kind: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member noisy labels (M, n) and masks (M, n) on the task's training split.

    Member i gets noise rate ``rates[i]`` drawn with seed ``seeds[i]``, so an ensemble can
    sweep noise levels and realisations at once.
    """
    if len(rates) != len(seeds):
        raise ValueError(f"need one seed per rate, got {len(rates)} rates and {len(seeds)} seeds")
    if not rates:
        raise ValueError("rates is empty; expected at least one member")
    kind = task.noise if kind is None else kind
    pairs = [corrupt(task.data.y_train, task.p, kind, r, s) for r, s in zip(rates, seeds)]
    return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])


__all__ = [
    "NOISE_KINDS",
    "ModularTask",
    "all_pairs",
    "apply_op",
    "check_p",
    "corrupt",
    "make_task",
    "member_labels",
]
