"""The ensemble-model base class, per-member initialisation and the ``MODELS`` registry.

Every model in :mod:`noisylab.nn` carries a leading member axis M: parameters are shaped
(M, …), inputs (M, B, *feature_shape) or (B, *feature_shape) (broadcast to every member),
outputs (M, B, out). Member i of a model built with seeds ``[s0, …, sM-1]`` is initialised
exactly like the single-member model built with seed ``s_i``: each member draws its
parameters, in a fixed order, from its own ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

import torch
from torch import nn

from noisylab.checks import check_int
from noisylab.registry import Registry

#: name → model constructor ``ctor(seeds: list[int], **kwargs) -> EnsembleModule``;
#: metadata key ``doc`` (one line for ``noisylab list models``).
MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


def member_seeds(members: int | None, seed: int | Sequence[int]) -> list[int]:
    """Resolve ``members`` and ``seed`` to one seed per member.

    Parameters
    ----------
    members : int or None
        Number of members M; ``None`` means ``len(seed)`` for a list, else 1.
    seed : int or sequence of int
        ``s`` gives seeds ``s, s+1, …, s+M-1``; a list gives one seed per member.

    Returns
    -------
    list of int
        M seeds.
    """
    if isinstance(seed, bool) or not isinstance(seed, Integral | Sequence):
        raise TypeError(f"seed must be an int or a list of ints, got {seed!r}")
    if isinstance(seed, Integral):
        m = 1 if members is None else members
        seeds = [int(seed) + i for i in range(check_int("members", m))]
    else:
        seeds = list(seed)
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, Integral):
                raise TypeError(f"every seed must be an int, got {s!r} in {list(seed)!r}")
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("seed list is empty; expected one seed per member")
        if members is not None and check_int("members", members) != len(seeds):
            raise ValueError(f"members={members} but {len(seeds)} seeds were given: {seeds}")
    return seeds


class MemberInit:
    """Draw parameters for M members, member i from its own generator seeded ``seeds[i]``.

    The draws of a member depend only on its seed and on the order of calls, so member i of
    an ensemble equals the single-member model with seed ``seeds[i]``.
    """

    def __init__(self, seeds: Sequence[int]) -> None:
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def uniform(self, shape: Sequence[int], bound: float) -> nn.Parameter:
        """U(−bound, bound) entries, shaped (M, *shape)."""
        draws = [torch.empty(tuple(shape)).uniform_(-bound, bound, generator=g) for g in self.gens]
        return nn.Parameter(torch.stack(draws))

    def normal(self, shape: Sequence[int], std: float) -> nn.Parameter:
        """N(0, std²) entries, shaped (M, *shape)."""
        draws = [torch.empty(tuple(shape)).normal_(0.0, std, generator=g) for g in self.gens]
        return nn.Parameter(torch.stack(draws))

    def default(self, shape: Sequence[int], fan_in: int, scale: float = 1.0) -> nn.Parameter:
        """PyTorch's default for ``nn.Linear``/``nn.Conv``: U(±1/√fan_in) (Kaiming-uniform, a=√5).

        Kaiming-uniform with a = √5 has bound gain·√(3/fan_in) with gain = √(2/(1+a²)),
        which is exactly 1/√fan_in; the bias uses the same bound.
        """
        return self.uniform(shape, scale / math.sqrt(max(fan_in, 1)))


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "gelu": nn.functional.gelu,
    "tanh": torch.tanh,
    "square": torch.square,
    "identity": lambda t: t,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation function called ``name`` (relu, gelu, tanh, square, identity)."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of: {', '.join(ACTIVATIONS)}"
        ) from None


#: Output widths below this run :func:`member_affine` in the transposed layout. On CPU
#: (MKL, AVX-512), ``baddbmm`` of (M, B, in) by (M, in, out) is slow when ``out`` is narrow
#: and not a multiple of the vector width; computing the transposed product instead is 1.7-3x
#: faster forward and backward at out = 1-12 and break-even at 16 and above (measured at
#: M = 32, B = 128, in = 40/128/512 in December 2026; ``benchmarks/ensemble.py`` times the
#: whole step).
NARROW_OUT = 16


class _NarrowAffine(torch.autograd.Function):
    """``h W + b`` for (M, B, in) ``h`` and (M, in, out) ``W`` with a narrow ``out``.

    Every product runs in the layout MKL is fast in: the forward pass as ``(Wᵀ hᵀ)ᵀ``, the
    weight gradient as ``(gᵀ h)ᵀ``, the input gradient as ``g Wᵀ``. The backward pass is made
    of differentiable operations, so double backward (Hessian-vector products) works.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(h, w)
        ctx.has_bias = b is not None
        wt, ht = w.transpose(1, 2), h.transpose(1, 2)  # (M, out, in), (M, in, B)
        out = torch.bmm(wt, ht) if b is None else torch.baddbmm(b.unsqueeze(2), wt, ht)
        return out.transpose(1, 2).contiguous()  # (M, B, out)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, w = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad
        gh = torch.bmm(g, w.transpose(1, 2)) if need_h else None  # (M, B, in)
        gw = torch.bmm(g.transpose(1, 2), h).transpose(1, 2) if need_w else None  # (M, in, out)
        gb = g.sum(1) if ctx.has_bias and need_b else None  # (M, out)
        return gh, gw, gb


def member_affine(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Every member's affine map: (M, B, in) ``h`` times (M, in, out) ``w`` plus (M, out) ``b``.

    ``h`` may also be one (B, in) batch shared by every member; it is broadcast without a
    copy (one ``baddbmm`` over a stride-0 member axis was 1.1-1.7x faster than a broadcast
    ``matmul`` plus a separate bias add, forward and backward, measured at M = 32 on CPU).
    The value is ``torch.baddbmm(b.unsqueeze(1), h, w)``; output widths below
    :data:`NARROW_OUT` run on CPU in the transposed layout (:class:`_NarrowAffine`; measured
    on CPU only, so other devices keep ``baddbmm``), which agrees up to float rounding.
    """
    if h.dim() == 2:
        h = h.expand(w.shape[0], *h.shape)  # (M, B, in), stride 0 on M
    if w.shape[-1] < NARROW_OUT and w.dim() == 3 and h.device.type == "cpu":
        return _NarrowAffine.apply(h, w, b)
    if b is None:
        return torch.bmm(h, w)
    return torch.baddbmm(b.unsqueeze(1), h, w)


class EnsembleModule(nn.Module):
    """Base of ensemble models: a member axis, input broadcasting and representations.

    Subclasses set ``self.seeds`` and ``self.input_shapes`` (the feature shapes they accept,
    first one canonical) and implement ``_forward(x, record)`` where ``x`` is shaped
    (M, B, *feature_shape) or (B, *feature_shape) with ``shared=True``, and ``record``
    (a dict or ``None``) collects hidden representations by layer name.
    """

    seeds: list[int]
    input_shapes: list[tuple[int, ...]]

    @property
    def members(self) -> int:
        """Number of members M."""
        return len(self.seeds)

    def split_input(self, x: torch.Tensor) -> tuple[torch.Tensor, bool, tuple[int, ...]]:
        """Classify ``x`` as per-member (M, B, *f) or shared (B, *f).

        Returns ``(x, shared, feature_shape)``. A per-member reading wins when both fit; a
        per-member tensor that is an ``expand`` of one batch (stride 0 on the member axis)
        is returned as shared, which lets the engine evaluate without copying.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"model input must be a torch.Tensor, got {type(x).__name__}")
        for lead in (2, 1):
            for shape in self.input_shapes:
                if x.dim() != lead + len(shape) or tuple(x.shape[lead:]) != tuple(shape):
                    continue
                if lead == 2:
                    if x.shape[0] != self.members:
                        continue
                    if x.stride(0) == 0 and self.members > 1:
                        return x[0], True, shape
                    return x, False, shape
                return x, True, shape
        accepted = " or ".join(f"(M={self.members}, B, {_dims(s)})" for s in self.input_shapes)
        raise ValueError(
            f"{type(self).__name__} expected input shaped {accepted} or (B, features), "
            f"got {tuple(x.shape)}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x, None)

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        raise NotImplementedError

    def layer_names(self) -> list[str]:
        """Names accepted by :meth:`representations`, input to output."""
        raise NotImplementedError

    def representations(
        self, x: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Hidden representations of ``x`` by layer name, each flattened to (M, B, p).

        Parameters
        ----------
        x : Tensor
            (M, B, *features) or (B, *features).
        layers : sequence of str, optional
            Subset of :meth:`layer_names`; all layers by default.

        Returns
        -------
        dict of str to Tensor
            ``{name: (M, B, p)}`` in the order of :meth:`layer_names`.
        """
        names = self.layer_names()
        wanted = names if layers is None else list(layers)
        for name in wanted:
            if name not in names:
                raise ValueError(f"unknown layer {name!r}; {type(self).__name__} has {names}")
        record: dict[str, torch.Tensor] = {}
        self._forward(x, record)
        m = self.members
        out = {}
        for name in names:
            if name in wanted:
                t = record[name]
                out[name] = t.reshape(m, t.shape[1], -1)  # (M, B, p)
        return out

    def extra_repr(self) -> str:
        return f"members={self.members}"


def _dims(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape)


def build(
    name: str, members: int | None = None, seed: int | Sequence[int] = 0, **kwargs: Any
) -> nn.Module:
    """Build the ensemble model registered as ``name`` with M members.

    Parameters
    ----------
    name : str
        A name in :data:`MODELS` (``mlp``, ``cnn1d``, ``cnn2d``, ``linear2``, …).
    members : int, optional
        Number of members M (default: ``len(seed)`` for a seed list, else 1).
    seed : int or list of int
        ``s`` seeds members with ``s, s+1, …``; a list gives each member's seed.
    **kwargs
        Model arguments (e.g. ``in_features``, ``out_features``, ``width``, ``depth``).

    Returns
    -------
    nn.Module
        A model whose parameters are all shaped (M, …) and whose forward maps
        (M, B, …) or (B, …) to (M, B, out).

    Examples
    --------
    >>> import torch
    >>> m = build("mlp", members=4, seed=0, in_features=3, out_features=2, width=8)
    >>> m(torch.zeros(5, 3)).shape
    torch.Size([4, 5, 2])
    """
    ctor = MODELS.get(name)
    return ctor(seeds=member_seeds(members, seed), **kwargs)
