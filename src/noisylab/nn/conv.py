"""Convolutional ensembles: ``cnn1d`` (MNIST-1D) and ``cnn2d`` (MNIST/CIFAR-shaped images).

All M members run as one grouped convolution (``groups=M``): the batch is laid out as
(B, M·C, …) so member m's channels form group m, and conv weights stored as
(M, C_out, C_in, k…) reshape to (M·C_out, C_in, k…) without a copy. The dense head is a
``baddbmm`` over the member axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noisylab.checks import check_int
from noisylab.nn.base import MODELS, EnsembleModule, MemberInit, member_affine
from noisylab.nn.base import activation as get_activation


def _to_groups(x: torch.Tensor, shared: bool, members: int) -> torch.Tensor:
    """(M, B, C, *S) or shared (B, C, *S) → (B, M·C, *S), member-major channels."""
    if shared:
        return x.repeat(1, members, *([1] * (x.dim() - 2)))  # (B, M·C, *S)
    m, b = x.shape[:2]
    return x.transpose(0, 1).reshape(b, m * x.shape[2], *x.shape[3:])  # (B, M·C, *S)


def _grouped_to_members(h: torch.Tensor, members: int) -> torch.Tensor:
    """(B, M·C, *S) → (M, B, C·prod(S))."""
    b = h.shape[0]
    return h.reshape(b, members, -1).transpose(0, 1)  # (M, B, C·prod(S))


class CNN1d(EnsembleModule):
    """An ensemble of the MNIST-1D convolutional net (Greydanus, 2020).

    Three 1-D convolutions (kernels 5, 3, 3; stride 2; padding 1) with ``channels`` filters
    and an activation, then a linear head on the flattened features.

    Parameters
    ----------
    seeds : list of int
        One seed per member.
    length : int
        Sequence length L (40 for MNIST-1D).
    out_features : int
        Number of outputs.
    in_channels : int
        Input channels C.
    channels : int
        Filters per convolution.
    activation : str
        Hidden activation (relu, gelu, tanh, square, identity).

    Input (M, B, C, L) or (B, C, L); with one channel also (M, B, L) or (B, L) — a 3-D
    input with one channel is read as (M, B, L) when its first axis is M.
    Layer names: ``hidden1``…``hidden3`` (after each convolution's activation), ``output``.
    """

    kernels = (5, 3, 3)

    def __init__(
        self,
        seeds: Sequence[int],
        length: int = 40,
        out_features: int = 10,
        in_channels: int = 1,
        channels: int = 25,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.length = check_int("length", length)
        self.out_features = check_int("out_features", out_features)
        self.in_channels = check_int("in_channels", in_channels)
        self.channels = check_int("channels", channels)
        self.act = get_activation(activation)
        self.activation_name = activation
        shapes: list[tuple[int, ...]] = [(self.in_channels, self.length)]
        if self.in_channels == 1:
            shapes.append((self.length,))
        self.input_shapes = shapes
        init = MemberInit(self.seeds)
        self.conv_w = nn.ParameterList()
        self.conv_b = nn.ParameterList()
        c_in, n = self.in_channels, self.length
        for k in self.kernels:
            fan_in = c_in * k
            self.conv_w.append(init.default((self.channels, c_in, k), fan_in))  # (M, C', C, k)
            self.conv_b.append(init.default((self.channels,), fan_in))  # (M, C')
            c_in = self.channels
            n = (n + 2 - k) // 2 + 1
            if n < 1:
                raise ValueError(f"length {length} is too short for three stride-2 convolutions")
        self.flat = self.channels * n
        self.head_w = init.default((self.flat, self.out_features), self.flat)  # (M, F, out)
        self.head_b = init.default((self.out_features,), self.flat)  # (M, out)

    def layer_names(self) -> list[str]:
        return [f"hidden{i + 1}" for i in range(len(self.kernels))] + ["output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, shape = self.split_input(x)
        m = self.members
        x = x.to(self.head_w.dtype)
        if len(shape) == 1:
            x = x.unsqueeze(-2)  # add the channel axis
        h = _to_groups(x, shared, m)  # (B, M·C, L)
        for i, (w, b) in enumerate(zip(self.conv_w, self.conv_b)):
            h = F.conv1d(h, w.flatten(0, 1), b.flatten(), stride=2, padding=1, groups=m)
            h = self.act(h)  # (B, M·C', L')
            if record is not None:
                record[f"hidden{i + 1}"] = _grouped_to_members(h, m)
        feats = _grouped_to_members(h, m)  # (M, B, F)
        out = member_affine(feats, self.head_w, self.head_b)  # (M, B, out)
        if record is not None:
            record["output"] = out
        return out


class CNN2d(EnsembleModule):
    """A small image CNN ensemble: [conv3×3 → act → maxpool2] × len(channels) → dense → out.

    Parameters
    ----------
    seeds : list of int
        One seed per member.
    in_channels : int
        Image channels C (1 for MNIST, 3 for CIFAR).
    image_size : int or (int, int)
        Height and width (28 for MNIST, 32 for CIFAR).
    out_features : int
        Number of outputs.
    channels : sequence of int
        Filters of each conv block.
    hidden : int
        Width of the dense hidden layer.
    activation : str
        Hidden activation.

    Input (M, B, C, H, W) or (B, C, H, W); also flattened (…, C·H·W) and, with one channel,
    (…, H, W). Layer names: ``hidden1``… for the conv blocks and the dense layer, ``output``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        in_channels: int = 1,
        image_size: int | Sequence[int] = 28,
        out_features: int = 10,
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        self.in_channels = check_int("in_channels", in_channels)
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        hw = tuple(check_int("image_size", s) for s in image_size)
        if len(hw) != 2:
            raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")
        self.image_size: tuple[int, int] = (hw[0], hw[1])
        self.out_features = check_int("out_features", out_features)
        self.channels = [check_int("channels", c) for c in channels]
        self.hidden = check_int("hidden", hidden)
        self.act = get_activation(activation)
        self.activation_name = activation
        c, (h, w) = self.in_channels, self.image_size
        shapes: list[tuple[int, ...]] = [(c, h, w), (c * h * w,)]
        self.input_shapes = shapes + ([(h, w)] if c == 1 else [])
        init = MemberInit(self.seeds)
        self.conv_w = nn.ParameterList()
        self.conv_b = nn.ParameterList()
        for c_out in self.channels:
            fan_in = c * 9
            self.conv_w.append(init.default((c_out, c, 3, 3), fan_in))  # (M, C', C, 3, 3)
            self.conv_b.append(init.default((c_out,), fan_in))  # (M, C')
            c, h, w = c_out, h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(
                    f"image_size {image_size} is too small for {len(self.channels)} pooling steps"
                )
        self.flat = c * h * w
        self.fc_w = init.default((self.flat, self.hidden), self.flat)  # (M, F, hidden)
        self.fc_b = init.default((self.hidden,), self.flat)  # (M, hidden)
        self.head_w = init.default(
            (self.hidden, self.out_features), self.hidden
        )  # (M, hidden, out)
        self.head_b = init.default((self.out_features,), self.hidden)  # (M, out)

    def layer_names(self) -> list[str]:
        return [f"hidden{i + 1}" for i in range(len(self.channels) + 1)] + ["output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, _ = self.split_input(x)
        m = self.members
        x = x.to(self.head_w.dtype)
        lead = x.shape[:1] if shared else x.shape[:2]
        x = x.reshape(*lead, self.in_channels, *self.image_size)
        h = _to_groups(x, shared, m)  # (B, M·C, H, W)
        for i, (w, b) in enumerate(zip(self.conv_w, self.conv_b)):
            h = F.conv2d(h, w.flatten(0, 1), b.flatten(), padding=1, groups=m)
            h = F.max_pool2d(self.act(h), 2)  # (B, M·C', H/2, W/2)
            if record is not None:
                record[f"hidden{i + 1}"] = _grouped_to_members(h, m)
        feats = _grouped_to_members(h, m)  # (M, B, F)
        z = self.act(member_affine(feats, self.fc_w, self.fc_b))  # (M, B, hidden)
        if record is not None:
            record[f"hidden{len(self.channels) + 1}"] = z
        out = member_affine(z, self.head_w, self.head_b)  # (M, B, out)
        if record is not None:
            record["output"] = out
        return out


MODELS.register("cnn1d", CNN1d, doc="MNIST-1D CNN: three stride-2 1-D convs + linear head")
MODELS.register("cnn2d", CNN2d, doc="small image CNN: conv3x3+maxpool blocks, dense, head")
