"""Fully connected ensembles: ``mlp`` (any depth, activation) and ``linear2`` (deep linear).

Weights are stored as (M, in, out) so a layer is one ``torch.baddbmm`` over the member
axis. The ``loop`` strategy keeps the same (M, …) parameters but runs one ``addmm`` per
member; ``auto`` uses it only above :data:`AUTO_LOOP_WIDTH` (see ``benchmarks/ensemble.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from noisylab.checks import check_int
from noisylab.nn.base import (
    MODELS,
    EnsembleModule,
    MemberInit,
    member_affine,
)
from noisylab.nn.base import activation as get_activation

#: ``strategy='auto'`` batches all members with ``baddbmm`` up to this hidden width and
#: loops over members above it. Measured with ``benchmarks/ensemble.py --quick --clock cpu``
#: (M = 32, 40→w→w→10, batch 128, Adam, one thread) as stacked-over-loop speed ratios:
#: 1.67/1.64/1.12/1.05/1.04 at widths 32/64/128/256/512, and 1.04/1.07 at 512/1024 in a
#: second run (December 2026, a heavily loaded 2-core machine); an earlier quiet-machine run
#: gave 1.15 (one thread) and 1.34 (two threads) at 512 and 1.09 at 1024. Stacked was never
#: slower at any measured width, and at 1024 the loop fell below the sequential baseline
#: (0.97×) where stacked stayed above it (1.04×), so ``auto`` stacks up to 1024 and loops
#: only beyond, where the per-member GEMMs are large enough to run at peak either way.
AUTO_LOOP_WIDTH = 1024

STRATEGIES = ("auto", "stacked", "loop")


def resolve_strategy(strategy: str, width: int) -> str:
    """Map ``auto`` to ``stacked`` or ``loop`` by hidden width (see :data:`AUTO_LOOP_WIDTH`)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "auto":
        return "loop" if width > AUTO_LOOP_WIDTH else "stacked"
    return strategy


def _input_shapes(in_features: int, input_shape: Sequence[int] | None) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = [(in_features,)]
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        n = 1
        for s in shape:
            n *= s
        if n != in_features:
            raise ValueError(f"input_shape {shape} has {n} entries but in_features={in_features}")
        if shape != (in_features,):
            shapes.append(shape)
    return shapes


class MLP(EnsembleModule):
    """An ensemble of multilayer perceptrons ``in → width (×depth) → out``.

    Parameters
    ----------
    seeds : list of int
        One seed per member (see :func:`noisylab.nn.build`).
    in_features, out_features : int
        Input and output widths.
    width : int
        Hidden width.
    depth : int
        Number of hidden layers (0 gives a linear model).
    activation : {'relu', 'gelu', 'tanh', 'square', 'identity'}
        Hidden activation.
    bias : bool
        Whether layers have biases.
    strategy : {'auto', 'stacked', 'loop'}
        ``stacked`` runs every layer as one ``baddbmm`` over members; ``loop`` runs one
        ``addmm`` per member; ``auto`` picks by width (:data:`AUTO_LOOP_WIDTH`).
    input_shape : tuple of int, optional
        Another accepted feature shape (e.g. (28, 28)), flattened to ``in_features``.

    Layer names: ``pre1``/``hidden1`` (before/after the activation) … ``output``.
    Initialisation is PyTorch's ``nn.Linear`` default, U(±1/√fan_in) for weights and biases.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        in_features: int,
        out_features: int,
        width: int = 128,
        depth: int = 2,
        activation: str = "relu",
        bias: bool = True,
        strategy: str = "auto",
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth, minimum=0)
        self.activation_name = activation
        self.act = get_activation(activation)
        self._inplace = activation == "relu"
        self.has_bias = bool(bias)
        self.strategy = resolve_strategy(strategy, self.width)
        self.input_shapes = _input_shapes(self.in_features, input_shape)
        dims = [self.in_features] + [self.width] * self.depth + [self.out_features]
        init = MemberInit(self.seeds)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(dims):
            self.weights.append(init.default((fan_in, fan_out), fan_in))  # (M, in, out)
            if self.has_bias:
                self.biases.append(init.default((fan_out,), fan_in))  # (M, out)

    def layer_names(self) -> list[str]:
        names = []
        for i in range(1, self.depth + 1):
            names += [f"pre{i}", f"hidden{i}"]
        return [*names, "output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, _ = self.split_input(x)
        dtype = self.weights[0].dtype
        lead = x.shape[:1] if shared else x.shape[:2]
        x = x.reshape(*lead, self.in_features).to(dtype)  # (B, in) or (M, B, in)
        if self.strategy == "loop":
            return self._forward_loop(x, shared, record)
        h = x
        n_layers = len(self.weights)
        for i, w in enumerate(self.weights):
            # a shared (B, in) input is broadcast to the members without a copy
            z = member_affine(h, w, self.biases[i] if self.has_bias else None)  # (M, B, out)
            if i == n_layers - 1:
                h = z
                break
            # in place when nothing keeps z: baddbmm's backward does not need its output
            h = torch.relu_(z) if record is None and self._inplace else self.act(z)  # (M, B, w)
            if record is not None:
                record[f"pre{i + 1}"] = z
                record[f"hidden{i + 1}"] = h
        if record is not None:
            record["output"] = h
        return h

    def _forward_loop(
        self, x: torch.Tensor, shared: bool, record: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        m = self.members
        xs = [x] * m if shared else list(x.unbind(0))
        ws = [w.unbind(0) for w in self.weights]
        bs = [b.unbind(0) for b in self.biases] if self.has_bias else None
        outs = []
        recs: dict[str, list[torch.Tensor]] = {}
        n_layers = len(ws)
        for k in range(m):
            h = xs[k]  # (B, in)
            for i in range(n_layers):
                z = torch.addmm(bs[i][k], h, ws[i][k]) if bs is not None else h @ ws[i][k]
                if i == n_layers - 1:
                    h = z
                    break
                h = torch.relu_(z) if record is None and self._inplace else self.act(z)
                if record is not None:
                    recs.setdefault(f"pre{i + 1}", []).append(z)
                    recs.setdefault(f"hidden{i + 1}", []).append(h)
            outs.append(h)
        out = torch.stack(outs)  # (M, B, out)
        if record is not None:
            for name, ts in recs.items():
                record[name] = torch.stack(ts)
            record["output"] = out
        return out

    def extra_repr(self) -> str:
        return (
            f"members={self.members}, in={self.in_features}, out={self.out_features}, "
            f"width={self.width}, depth={self.depth}, activation={self.activation_name}, "
            f"bias={self.has_bias}, strategy={self.strategy}"
        )


class Linear2(EnsembleModule):
    """An ensemble of two-layer linear networks f(x) = x W₁ W₂, no bias, no activation.

    The alignment theory (GD from small initialisation converges to the minimum-norm
    solution) needs small weights at the start: both layers are PyTorch-default
    U(±1/√fan_in) draws multiplied by ``init_scale``.

    Parameters
    ----------
    seeds : list of int
        One seed per member.
    in_features, out_features, width : int
        Layer sizes d → h → out.
    init_scale : float
        Multiplier of the default initialisation (1.0 is PyTorch's scale).

    Layer names: ``hidden1`` (= ``pre1``; the layer is linear) and ``output``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        in_features: int,
        out_features: int,
        width: int = 64,
        init_scale: float = 1e-3,
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.width = check_int("width", width)
        if not isinstance(init_scale, int | float) or not init_scale > 0:
            raise ValueError(f"init_scale must be a positive number, got {init_scale!r}")
        self.init_scale = float(init_scale)
        self.input_shapes = [(self.in_features,)]
        init = MemberInit(self.seeds)
        self.w1 = init.default((self.in_features, self.width), self.in_features, self.init_scale)
        self.w2 = init.default((self.width, self.out_features), self.width, self.init_scale)

    def layer_names(self) -> list[str]:
        return ["pre1", "hidden1", "output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, _, _ = self.split_input(x)
        x = x.to(self.w1.dtype)
        h = member_affine(x, self.w1)  # (M, B, width); a shared (B, in) x is broadcast
        out = member_affine(h, self.w2)  # (M, B, out)
        if record is not None:
            record["pre1"] = h
            record["hidden1"] = h
            record["output"] = out
        return out

    def extra_repr(self) -> str:
        return (
            f"members={self.members}, in={self.in_features}, width={self.width}, "
            f"out={self.out_features}, init_scale={self.init_scale}"
        )


MODELS.register("mlp", MLP, doc="multilayer perceptron: width, depth, activation, bias, strategy")
MODELS.register(
    "linear2", Linear2, doc="two-layer linear net x·W1·W2 (no bias) with small init_scale"
)
