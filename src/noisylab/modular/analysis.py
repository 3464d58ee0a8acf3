"""Frequency extraction, neuron partition, pruning curves and activation swaps on ``modular2``.

These operate on a trained :class:`~noisylab.modular.model.ModularMLP` and return new,
evaluable models of the same class (so every result can be scored with :func:`accuracy`).
The maths lives in :mod:`noisylab.modular.fourier`; this module only moves weights.

Frequency extraction (Liu & Lu 2026, operationalised in ``reference/modular.md``): for each
neuron m take the DFT of u_m, v_m (over the input residue) and w_m (over the output class),
pick ω*_m = argmax_{ω ≥ 1} |û_ω|² + |v̂_ω|² + |ŵ_ω|², keep only that frequency
(x^G = (2/L)·Re(x̂_{ω*} e^{2πiω*·idx/L})) in the *generalising* network G and put the rest
x^R = x − x^G in the *residual* network R. G + R reconstructs U, V, W exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from noisylab.checks import check_choice
from noisylab.modular.fourier import (
    OPS,
    dominant_frequency,
    from_group_basis,
    group_order,
    keep_frequency,
    neuron_ipr,
    strength,
)
from noisylab.modular.model import ModularMLP

SCORES = ("ipr", "strength")


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Predicted classes of every member on pairs x (n, 2): (M, n) int64."""
    if len(x) == 0:
        raise ValueError("cannot predict on an empty set")
    return torch.cat([model(x[s : s + chunk]).argmax(-1) for s in range(0, len(x), chunk)], -1)


def score_predictions(
    pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | np.ndarray | None = None
) -> np.ndarray:
    """Accuracy of predictions (M, n) against y (n,) or (M, n), optionally masked: (M,)."""
    hit = (pred == torch.as_tensor(y).to(pred.device)).double()  # (M, n)
    if mask is None:
        return hit.mean(-1).cpu().numpy()
    sel = torch.as_tensor(np.asarray(mask), dtype=torch.bool).to(pred.device).expand_as(hit)
    count = sel.sum(-1).double()  # (M,)
    acc = (hit * sel).sum(-1) / count.clamp(min=1)
    return torch.where(count > 0, acc, torch.full_like(acc, float("nan"))).cpu().numpy()


def accuracy(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | np.ndarray | None = None,
) -> np.ndarray:
    """Per-member accuracy on pairs x (n, 2) with labels y (n,) or (M, n): (M,).

    ``mask`` (n,) or (M, n) bool restricts each member's average to its selected rows (e.g.
    its own noisy subset); a member with no selected row scores NaN.
    """
    return score_predictions(predict(model, x), y, mask)


def _member_split(model: ModularMLP, op: str, keep_mu: bool) -> tuple[ModularMLP, ModularMLP]:
    p = model.p
    gu, gv, gw = [], [], []
    for i in range(model.members):
        u, v, w = model.neuron_vectors(i, op)  # (N, L) each
        freq = dominant_frequency(u, v, w)  # (N,)
        parts = []
        for t in (u, v, w):
            g = keep_frequency(t, freq)  # (N, L)
            # For mul, residue 0 lies outside the group: it stays entirely in R.
            parts.append(from_group_basis(g, p, op))  # (N, P)
        gu.append(parts[0].T)  # (P, N)
        gv.append(parts[1].T)  # (P, N)
        gw.append(parts[2])  # (N, P)
    U_g = torch.as_tensor(np.stack(gu), dtype=model.U.dtype)  # (M, P, N)
    V_g = torch.as_tensor(np.stack(gv), dtype=model.V.dtype)  # (M, P, N)
    W_g = torch.as_tensor(np.stack(gw), dtype=model.W.dtype)  # (M, N, P)
    mu = model.mu.detach()
    zero = torch.zeros_like(mu)
    g_net = model.with_weights(U_g, V_g, W_g, mu if keep_mu else zero)
    r_net = model.with_weights(
        model.U.detach() - U_g,
        model.V.detach() - V_g,
        model.W.detach() - W_g,
        zero if keep_mu else mu,
    )
    return g_net, r_net


def frequency_extract(
    model: ModularMLP, op: str = "add", keep_mu: bool = False
) -> tuple[ModularMLP, ModularMLP]:
    """Split a network into its dominant-frequency part G and the residual R.

    Parameters
    ----------
    model : ModularMLP
        A trained ``modular2`` ensemble (every member is split independently).
    op : {'add', 'sub', 'mul'}
        The task; ``mul`` works in the discrete-log basis of Z_P^× (residue 0 stays in R).
    keep_mu : bool
        Whether G keeps the trained output bias μ (then R gets μ = 0). Default false, as in
        the reference's measurements: μ is fitted jointly with the whole network, whose logits
        are far larger than G's alone; with noisy labels μ mostly encodes the noisy-label
        marginal, and with φ = x² it swamped G's logits (G with μ lost most of its test
        accuracy at 80% noise). μ then goes to R, so G + R still reconstructs every weight.

    Returns
    -------
    G, R : ModularMLP
        Same class, shapes and activation; G.U + R.U == model.U (likewise V, W, μ).

    Examples
    --------
    >>> net = cosine_network(11)
    >>> g, r = frequency_extract(net)
    >>> bool(torch.allclose(g.U + r.U, net.U))
    True
    """
    check_choice("op", op, OPS)
    return _member_split(model, op, keep_mu)


def neuron_scores(
    model: ModularMLP, score: str = "ipr", op: str = "add", drop_dc: bool = True
) -> np.ndarray:
    """Per-neuron scores (M, N): ``ipr`` (periodicity, mean IPR₂ of u, v, w) or ``strength``.

    ``strength`` is ‖w_m‖_∞ · φ(‖u_m‖_∞ + ‖v_m‖_∞) with the model's activation φ (Liu & Lu
    2026, task-agnostic); ``ipr`` uses the group basis of ``op`` and passes ``drop_dc`` to
    :func:`~noisylab.modular.fourier.neuron_ipr` (``False``: the DC term counts, as in Doshi
    et al. 2024). ``drop_dc`` does not affect ``strength``.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    out = []
    for i in range(model.members):
        u, v, w = model.neuron_vectors(i, op)
        if score == "ipr":
            out.append(neuron_ipr(u, v, w, drop_dc=drop_dc))
        else:
            out.append(strength(u, v, w, model.activation))
    return np.stack(out)  # (M, N)


@torch.no_grad()
def mask_neurons(
    model: ModularMLP, keep: torch.Tensor | np.ndarray, keep_mu: bool = True
) -> ModularMLP:
    """Zero every neuron not in ``keep`` (M, N) bool: columns of U, V and rows of W."""
    keep_t = torch.as_tensor(np.asarray(keep), dtype=model.U.dtype)  # (M, N)
    if keep_t.shape != (model.members, model.width):
        raise ValueError(
            f"keep must have shape {(model.members, model.width)}, got {tuple(keep_t.shape)}"
        )
    return model.with_weights(
        model.U.detach() * keep_t.unsqueeze(1),
        model.V.detach() * keep_t.unsqueeze(1),
        model.W.detach() * keep_t.unsqueeze(2),
        model.mu.detach() if keep_mu else torch.zeros_like(model.mu),
    )


@dataclass(frozen=True)
class Partition:
    """Generalisation (top-k) and memorisation (bottom-k′) subnetworks and the scores used."""

    general: ModularMLP
    memory: ModularMLP
    scores: np.ndarray  # (M, N)
    k: int
    k_mem: int


def partition(
    model: ModularMLP,
    score: str = "ipr",
    k: int | float = 0.5,
    k_mem: int | float | None = None,
    op: str = "add",
    keep_mu: bool = False,
) -> Partition:
    """Keep the top-k neurons by ``score`` (generalisation) and the bottom-k′ (memorisation).

    Parameters
    ----------
    model : ModularMLP
    score : {'ipr', 'strength'}
        See :func:`neuron_scores`.
    k : int or float
        Neurons in the generalisation subnetwork; a float in (0, 1] is a fraction of N.
    k_mem : int or float, optional
        Neurons in the memorisation subnetwork (default N − k, the complement).
    op : {'add', 'sub', 'mul'}
    keep_mu : bool
        Whether the generalisation subnetwork keeps μ (default false, like
        :func:`frequency_extract`); the memorisation subnetwork always keeps it.

    Returns
    -------
    Partition
    """
    n = model.width

    def count(v: int | float, name: str) -> int:
        if isinstance(v, float) and 0.0 < v <= 1.0:
            return max(1, round(v * n))
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= n:
            return int(v)
        raise ValueError(f"{name} must be an int in [0, {n}] or a fraction in (0, 1], got {v!r}")

    kk = count(k, "k")
    km = n - kk if k_mem is None else count(k_mem, "k_mem")
    scores = neuron_scores(model, score, op)  # (M, N)
    order = np.argsort(-scores, axis=1, kind="stable")  # (M, N) best first
    top = np.zeros_like(scores, dtype=bool)
    bottom = np.zeros_like(scores, dtype=bool)
    rows = np.arange(model.members)[:, None]
    top[rows, order[:, :kk]] = True
    if km:
        bottom[rows, order[:, n - km :]] = True
    return Partition(
        mask_neurons(model, top, keep_mu=keep_mu), mask_neurons(model, bottom), scores, kk, km
    )


def pruning_curve(
    model: ModularMLP,
    sets: Mapping[str, tuple[Any, ...]],
    score: str = "ipr",
    op: str = "add",
    steps: int = 11,
    reverse: bool = False,
) -> dict[str, Any]:
    """Accuracies while neurons are removed in score order (Doshi et al. 2024, Fig. 4).

    Ascending order (default) removes the least periodic (or weakest) neurons first, which
    should prune memorisation; ``reverse=True`` removes the highest-scoring first.

    Parameters
    ----------
    model : ModularMLP
    sets : mapping name → (x (n, 2), y (n,) or (M, n)[, mask (n,) or (M, n)])
        E.g. ``{"noisy": (x_train, noisy_labels, noisy_mask), "test": (x_test, y_test)}``;
        an optional mask restricts each member to its rows (see :func:`accuracy`).
    score : {'ipr', 'strength'}
    op : {'add', 'sub', 'mul'}
    steps : int
        Number of points from 0 to N removed neurons (inclusive).
    reverse : bool

    Returns
    -------
    dict
        ``removed`` (steps,) neuron counts and, per set name, an (M, steps) accuracy array.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps!r}")
    scores = neuron_scores(model, score, op)  # (M, N)
    order = np.argsort(-scores if reverse else scores, axis=1, kind="stable")
    n = model.width
    removed = np.unique(np.linspace(0, n, steps).round().astype(int))
    for name, item in sets.items():
        if len(item) not in (2, 3):
            raise ValueError(
                f"sets[{name!r}] must be (x, y) or (x, y, mask), got {len(item)} items"
            )
    curves: dict[str, list[np.ndarray]] = {name: [] for name in sets}
    rows = np.arange(model.members)[:, None]
    for r in removed:
        keep = np.ones_like(scores, dtype=bool)
        keep[rows, order[:, :r]] = False
        net = mask_neurons(model, keep)
        preds: dict[int, torch.Tensor] = {}  # one forward per distinct x
        for name, item in sets.items():
            x = item[0]
            if id(x) not in preds:
                preds[id(x)] = predict(net, x)
            curves[name].append(score_predictions(preds[id(x)], *item[1:]))
    out: dict[str, Any] = {"removed": removed}
    for name, accs in curves.items():
        out[name] = np.stack(accs, axis=1)  # (M, steps)
    return out


def swap_activation(model: ModularMLP, activation: str) -> ModularMLP:
    """The same weights evaluated with another φ (e.g. ``square`` or ``reverse_relu``)."""
    return model.with_weights(activation=activation)


def cosine_network(
    p: int,
    op: str = "add",
    freqs: Sequence[int] | None = None,
    phases: int = 3,
    scale: float = 1.0,
) -> ModularMLP:
    """The analytic cosine network for c = a ∘ b mod P, φ = x² (Gromov 2023; Doshi et al. 2024).

    For each frequency ω and each pair of phases (φ_a, φ_b) on a grid of ``phases`` values
    2πj/K, one neuron with u_i = λ cos(2πω·i/L + φ_a), v_j = λ cos(2πω·j/L + φ_b),
    w_k = λ cos(2πω·k/L + φ_c), φ_c = φ_a ± φ_b (− for subtraction). With x² the neuron
    computes (u_a + v_b)², whose cross term 2u_a v_b holds cos(2πω(a ± b)/L + φ_a ± φ_b); the
    sum over the phase grid cancels every other term (K ≥ 3 is needed for the 2φ terms), so
    the logit of class c is ∝ Σ_ω cos(2πω(a ± b − c)/L), maximal exactly at c = a ± b.

    For ``mul`` the indices are discrete logarithms (L = P − 1) and residue 0 has zero input
    and output weights.

    Parameters
    ----------
    p : int
        Modulus (prime for ``mul``).
    op : {'add', 'sub', 'mul'}
    freqs : sequence of int, optional
        Frequencies in 1..⌈L/2⌉−1 (default all of them).
    phases : int
        K, phase grid size (≥ 3).
    scale : float
        λ.

    Returns
    -------
    ModularMLP
        One member, width len(freqs)·K², activation ``square``, μ = 0.
    """
    check_choice("op", op, OPS)
    if phases < 3:
        raise ValueError(f"phases must be >= 3 for the 2φ terms to cancel, got {phases!r}")
    L = group_order(p, op)
    top = (L - 1) // 2
    freqs = list(range(1, top + 1)) if freqs is None else [int(f) for f in freqs]
    if not freqs or any(not 1 <= f <= top for f in freqs):
        raise ValueError(f"freqs must be non-empty and within 1..{top}, got {freqs!r}")
    grid = 2 * np.pi * np.arange(phases) / phases
    idx = np.arange(L)
    us, vs, ws = [], [], []
    sign = -1.0 if op == "sub" else 1.0
    for f in freqs:
        theta = 2 * np.pi * f * idx / L  # (L,)
        for pa in grid:
            for pb in grid:
                us.append(np.cos(theta + pa))
                vs.append(np.cos(theta + pb))
                ws.append(np.cos(theta + pa + sign * pb))
    u = from_group_basis(np.stack(us), p, op) * scale  # (N, P)
    v = from_group_basis(np.stack(vs), p, op) * scale  # (N, P)
    w = from_group_basis(np.stack(ws), p, op) * scale  # (N, P)
    net = ModularMLP([0], p=p, width=len(us), activation="square", bias=False)
    return net.with_weights(
        torch.as_tensor(u.T[None], dtype=torch.float32),
        torch.as_tensor(v.T[None], dtype=torch.float32),
        torch.as_tensor(w[None], dtype=torch.float32),
    )


__all__ = [
    "SCORES",
    "Partition",
    "accuracy",
    "cosine_network",
    "frequency_extract",
    "mask_neurons",
    "neuron_scores",
    "partition",
    "predict",
    "pruning_curve",
    "score_predictions",
    "swap_activation",
]
