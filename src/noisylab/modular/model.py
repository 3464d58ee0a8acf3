"""The two-layer modular-arithmetic network f(a, b) = W φ(U e_a + V e_b) + μ, as an ensemble.

Registered in :data:`noisylab.nn.MODELS` as ``modular2``. One-hot inputs e_a, e_b ∈ R^P are
never materialised: ``U e_a`` is row a of U, gathered (an embedding lookup).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from noisylab.checks import check_int
from noisylab.modular.fourier import group_order, to_group_basis
from noisylab.nn import MODELS, EnsembleModule, MemberInit


def reverse_relu(x: torch.Tensor) -> torch.Tensor:
    """relu(−x) = max(−x, 0).

    Chosen definition of the "reverse ReLU" the reference mentions for inference-time swaps
    (the source gives none): relu(x) = |x|/2 + x/2, and relu(−x) = |x|/2 − x/2 keeps the even
    part |x|/2 (which mixes the two operands' cosines into the a ∘ b term) while flipping the
    sign of the odd, linear part x/2 (which carries no a ∘ b information).
    """
    return torch.relu(-x)


#: Hidden activations φ. ``square`` is x², ``gelu`` the exact x·Φ(x).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "square": torch.square,
    "gelu": nn.functional.gelu,
    "reverse_relu": reverse_relu,
    "abs": torch.abs,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation called ``name`` (see :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of: {', '.join(ACTIVATIONS)}"
        ) from None


class ModularMLP(EnsembleModule):
    """Ensemble of two-layer networks f(a, b) = W φ(U e_a + V e_b) + μ on residues mod P.

    Parameters
    ----------
    seeds : list of int
        One seed per member (see :func:`noisylab.nn.build`).
    p : int
        Modulus P: P input residues per operand and P output classes.
    width : int
        Hidden width N (the paper uses 2^k + 1).
    activation : {'relu', 'square', 'gelu', 'reverse_relu', 'abs'}
        φ.
    bias : bool
        Whether the output bias μ is trained (if false it is a zero buffer).
    init_scale : float
        Multiplier of the default initialisation.

    Notes
    -----
    Parameters: U (M, P, N), V (M, P, N), W (M, N, P), μ (M, P). Initialisation is PyTorch's
    ``nn.Linear`` default treating U e_a and V e_b as two ``Linear(P, N)`` layers and W as
    ``Linear(N, P)``: U, V ~ U(±1/√P), W, μ ~ U(±1/√N), drawn in that order per member.

    Layer names for :meth:`representations`: ``pre1`` (U e_a + V e_b), ``hidden1`` (φ of it)
    and ``output``.

    Examples
    --------
    >>> m = ModularMLP([0, 1], p=7, width=9)
    >>> m(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 2, 7])
    """

    def __init__(
        self,
        seeds: Sequence[int],
        p: int,
        width: int = 513,
        activation: str = "relu",
        bias: bool = True,
        init_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.seeds = [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("seeds is empty; expected one seed per member")
        self.p = check_int("p", p, minimum=2)
        self.width = check_int("width", width)
        self.activation = activation
        get_activation(activation)
        if not isinstance(init_scale, int | float) or not init_scale > 0:
            raise ValueError(f"init_scale must be a positive number, got {init_scale!r}")
        self.has_bias = bool(bias)
        self.input_shapes = [(2,)]
        init = MemberInit(self.seeds)
        self.U = init.default((self.p, self.width), self.p, init_scale)  # (M, P, N)
        self.V = init.default((self.p, self.width), self.p, init_scale)  # (M, P, N)
        self.W = init.default((self.width, self.p), self.width, init_scale)  # (M, N, P)
        if self.has_bias:
            self.mu = init.default((self.p,), self.width, init_scale)  # (M, P)
        else:
            self.register_buffer("mu", torch.zeros(len(self.seeds), self.p))

    #: ``fit(compile="auto")`` compiles the step on the CPU once steps × :meth:`compile_work`
    #: reaches this (see :data:`noisylab.train.engine.AUTO_COMPILE_MIN_STEPS`). The step is
    #: dominated by elementwise passes over (M, B, N) tensors (the two gathers, their sum, φ
    #: and their backward), which inductor fuses; ``benchmarks/modular.py``, P = 47, x²,
    #: M = 5, full batch, one thread: the compiled step is 1.5–2.1× faster at widths
    #: 129–1025 and saves 4.3–14 ns per unit of work, after ~13 s of compiling (cold cache,
    #: 2 cores); 4e9 is about 1.3× the break-even at the smallest saving. Quick's widest
    #: network (5 × 1767 × 1025 × 600 ≈ 5.4e9) compiles, its narrower ones do not.
    AUTO_COMPILE_WORK: ClassVar[dict[str, float]] = {"cpu": 4e9}

    def compile_work(self, batch: int) -> int:
        """Elementwise work of one training step on ``batch`` rows: members × batch × width."""
        return self.members * batch * self.width

    def layer_names(self) -> list[str]:
        return ["pre1", "hidden1", "output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, _ = self.split_input(x)
        if x.dtype.is_floating_point or x.dtype == torch.bool:
            raise TypeError(f"modular2 expects integer operand pairs, got dtype {x.dtype}")
        # Skipped inside a compiled graph, which reading the range would split (fit checks
        # its training rows eagerly before a compiled run's first step).
        compiling = torch.compiler.is_compiling()
        if not compiling and x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.p):
            raise ValueError(
                f"operands must lie in [0, {self.p}), got range [{int(x.min())}, {int(x.max())}]"
            )
        a, b = x[..., 0].long(), x[..., 1].long()  # (B,) or (M, B)
        if shared:
            pre = self.U[:, a] + self.V[:, b]  # (M, B, N)
        else:
            rows = torch.arange(self.members, device=x.device).unsqueeze(1)  # (M, 1)
            pre = self.U[rows, a] + self.V[rows, b]  # (M, B, N)
        h = get_activation(self.activation)(pre)  # (M, B, N)
        out = torch.baddbmm(self.mu.unsqueeze(1), h, self.W)  # (M, B, P)
        if record is not None:
            record["pre1"] = pre
            record["hidden1"] = h
            record["output"] = out
        return out

    @torch.no_grad()
    def with_weights(
        self,
        U: torch.Tensor | None = None,
        V: torch.Tensor | None = None,
        W: torch.Tensor | None = None,
        mu: torch.Tensor | None = None,
        activation: str | None = None,
    ) -> ModularMLP:
        """A copy of this model with some weights (same shapes) or the activation replaced."""
        new = copy.deepcopy(self)
        for name, value in (("U", U), ("V", V), ("W", W), ("mu", mu)):
            if value is None:
                continue
            target = getattr(new, name)
            value = torch.as_tensor(value, dtype=target.dtype, device=target.device)
            if value.shape != target.shape:
                raise ValueError(
                    f"{name} must have shape {tuple(target.shape)}, got {tuple(value.shape)}"
                )
            target.copy_(value)
        if activation is not None:
            get_activation(activation)
            new.activation = activation
        return new

    def select(self, members: Sequence[int]) -> ModularMLP:
        """A model holding only the listed members (copies)."""
        idx = list(members)
        for i in idx:
            if not 0 <= i < self.members:
                raise ValueError(f"member index {i} out of range [0, {self.members})")
        new = copy.deepcopy(self)
        new.seeds = [self.seeds[i] for i in idx]
        with torch.no_grad():
            for name in ("U", "V", "W", "mu"):
                t = getattr(self, name)[idx].clone()
                if isinstance(getattr(new, name), nn.Parameter):
                    setattr(new, name, nn.Parameter(t))
                else:
                    setattr(new, name, t)
        return new

    def neuron_vectors(self, member: int = 0, op: str = "add") -> tuple[np.ndarray, ...]:
        """(u, v, w) of one member, each (N, L) in the group basis of ``op`` (numpy float64).

        u_m = U[:, m], v_m = V[:, m] over the input residues and w_m = W[m, :] over the output
        classes; for ``mul`` residues 1..P−1 are re-indexed by discrete logarithm.
        """
        if not 0 <= member < self.members:
            raise ValueError(f"member {member} out of range [0, {self.members})")
        u = self.U[member].detach().T  # (N, P)
        v = self.V[member].detach().T  # (N, P)
        w = self.W[member].detach()  # (N, P)
        out = tuple(to_group_basis(t, self.p, op) for t in (u, v, w))
        assert out[0].shape[-1] == group_order(self.p, op)
        return out

    def extra_repr(self) -> str:
        return (
            f"members={self.members}, p={self.p}, width={self.width}, "
            f"activation={self.activation}, bias={self.has_bias}"
        )


MODELS.register(
    "modular2",
    ModularMLP,
    doc="f(a,b) = W φ(U e_a + V e_b) + μ on residues mod P: p, width, activation, bias",
)

__all__ = ["ACTIVATIONS", "ModularMLP", "get_activation", "reverse_relu"]
