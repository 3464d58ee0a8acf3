"""CIFAR models on the member axis: the 8-layer CNN, PreAct-ResNet-18 and ResNet-34.

The networks the seed papers train on 32×32 images:

* ``cnn8`` — the "8-layer CNN" of the robust-loss papers' CIFAR-10 runs (SCE, APL, ALF, ANL):
  six 3×3 conv → BN → ReLU layers (64, 64 | 128, 128 | 196, 196 filters, a 2×2 max-pool after
  each pair), then dense 256 → BN → ReLU and a linear head.
* ResNets with a 3×3 stem of stride 1, no max-pool, four stages of basic blocks with 64·2^s
  filters (``width`` rescales the 64), global average pooling and a linear head (SAM, VaSSO:
  PreAct-ResNet-18; APL/ALF/ANL on CIFAR-100: ResNet-34):

* PreAct-ResNet-18 — He et al. 2016, "Identity Mappings in Deep Residual Networks": blocks
  BN → ReLU → conv, [2, 2, 2, 2]; a 1×1 projection on the pre-activated input where the shape
  changes; a final BN → ReLU before pooling, as in that paper.
* ResNet-34 — He et al. 2015: blocks conv → BN → ReLU, [3, 4, 6, 3]; the shortcut is a 1×1
  conv + BN where the shape changes (option B).


All M members run as grouped convolutions (``groups=M``, channels member-major, as in
:mod:`noisylab.nn.conv`), so one kernel serves the ensemble. BatchNorm is per member by
construction: member m's channels are its own, so ``batch_norm`` over the M·C channels
normalises each member with its own batch statistics, and the running statistics live in
(M, C) buffers. ResNet convolutions have no bias (BN follows). Initialisation, drawn per
member seed so that member i equals the one-member model with seed ``seeds[i]``:
``init="torch"`` (default) is PyTorch's default U(±1/√fan_in) for weights and biases;
``init="kaiming"`` is the peers' choice (the APL/ALF/ANL code): Kaiming-uniform for ReLU,
U(±√(6/fan_in)), for convolutions and Xavier-uniform, U(±√(6/(fan_in + fan_out))), for
dense weights, biases as PyTorch's default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noisylab.checks import check_int
from noisylab.nn.base import MODELS, EnsembleModule, MemberInit, member_affine
from noisylab.nn.conv import _grouped_to_members, _to_groups

INITS = ("torch", "kaiming")


def _check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return init


def _conv_weight(draw: MemberInit, shape: tuple[int, ...], init: str) -> nn.Parameter:
    """(M, C', C, k, k) conv weights: PyTorch's default or Kaiming-uniform (ReLU gain)."""
    fan_in = math.prod(shape[1:])
    if init == "kaiming":
        return draw.uniform(shape, math.sqrt(6.0 / fan_in))
    return draw.default(shape, fan_in)


def _dense_weight(draw: MemberInit, fan_in: int, fan_out: int, init: str) -> nn.Parameter:
    """(M, fan_in, fan_out) dense weights: PyTorch's default or Xavier-uniform."""
    if init == "kaiming":
        return draw.uniform((fan_in, fan_out), math.sqrt(6.0 / (fan_in + fan_out)))
    return draw.default((fan_in, fan_out), fan_in)


class _BatchNorm(nn.Module):
    """Per-member 2-d batch normalisation on grouped activations (B, M·C, H, W).

    ``weight``/``bias`` are (M, C) parameters, ``running_mean``/``running_var`` (M, C)
    buffers; momentum 0.1 and ε = 1e-5 as ``nn.BatchNorm2d``. Setting
    ``track_running_stats = False`` (what :func:`noisylab.optim.disable_running_stats` does
    for SAM's perturbed pass) keeps normalising with batch statistics in training mode but
    leaves the running statistics untouched, as ``nn.BatchNorm2d`` does.
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor
    track_running_stats: bool = True

    def __init__(self, members: int, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, channels))  # (M, C)
        self.bias = nn.Parameter(torch.zeros(members, channels))  # (M, C)
        self.register_buffer("running_mean", torch.zeros(members, channels))  # (M, C)
        self.register_buffer("running_var", torch.ones(members, channels))  # (M, C)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # views of the contiguous (M, C) buffers: batch_norm updates them in place
        track = self.track_running_stats or not self.training
        return F.batch_norm(
            h,
            self.running_mean.view(-1) if track else None,
            self.running_var.view(-1) if track else None,
            self.weight.reshape(-1),
            self.bias.reshape(-1),
            training=self.training,
            momentum=0.1,
            eps=1e-5,
        )


class _Conv(nn.Module):
    """A bias-free grouped convolution with (M, C_out, C_in, k, k) weights."""

    def __init__(
        self,
        draw: MemberInit,
        c_in: int,
        c_out: int,
        k: int,
        stride: int,
        members: int,
        init: str = "torch",
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.weight = _conv_weight(draw, (c_out, c_in, k, k), init)  # (M, C', C, k, k)
        self.bias = draw.default((c_out,), c_in * k * k) if bias else None  # (M, C')
        self.stride, self.padding, self.members = stride, k // 2, members

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = self.weight.flatten(0, 1)  # (M·C', C, k, k)
        b = None if self.bias is None else self.bias.flatten()
        return F.conv2d(h, w, b, stride=self.stride, padding=self.padding, groups=self.members)


class _Block(nn.Module):
    """A basic residual block, pre-activation (``pre=True``) or post-activation."""

    def __init__(
        self,
        draw: MemberInit,
        c_in: int,
        c_out: int,
        stride: int,
        members: int,
        pre: bool,
        init: str,
    ) -> None:
        super().__init__()
        self.pre = pre
        self.bn1 = _BatchNorm(members, c_in if pre else c_out)
        self.conv1 = _Conv(draw, c_in, c_out, 3, stride, members, init)
        self.bn2 = _BatchNorm(members, c_out)
        self.conv2 = _Conv(draw, c_out, c_out, 3, 1, members, init)
        self.project = stride != 1 or c_in != c_out
        if self.project:
            self.short = _Conv(draw, c_in, c_out, 1, stride, members, init)
            if not pre:
                self.short_bn = _BatchNorm(members, c_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.pre:
            a = F.relu(self.bn1(h))
            short = self.short(a) if self.project else h
            out = self.conv1(a)
            out = self.conv2(F.relu(self.bn2(out)))
            return out + short
        out = F.relu(self.bn1(self.conv1(h)))
        out = self.bn2(self.conv2(out))
        short = self.short_bn(self.short(h)) if self.project else h
        return F.relu(out + short)


class ResNet(EnsembleModule):
    """An ensemble of CIFAR ResNets with basic blocks.

    Parameters
    ----------
    seeds : list of int
        One seed per member.
    blocks : sequence of int
        Blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for ResNet-34.
    preact : bool
        Pre-activation blocks (He et al. 2016) or the original post-activation ones.
    in_channels : int
        Image channels (3).
    image_size : int
        Height = width (32).
    out_features : int
        Number of classes.
    width : int
        Filters of the first stage (64 in the papers); stage s has ``width·2^s``.
    init : {"torch", "kaiming"}
        Weight initialisation (module docstring).

    Input (M, B, C, H, W) or (B, C, H, W), or flattened (…, C·H·W).
    Layer names: ``stem``, ``stage1``…``stage4``, ``pool``, ``output``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        blocks: Sequence[int] = (2, 2, 2, 2),
        preact: bool = True,
        in_channels: int = 3,
        image_size: int = 32,
        out_features: int = 10,
        width: int = 64,
        init: str = "torch",
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        m = self.members
        self.init = _check_init(init)
        self.in_channels = check_int("in_channels", in_channels)
        self.image_size = check_int("image_size", image_size, minimum=8)
        self.out_features = check_int("out_features", out_features)
        self.width = check_int("width", width)
        self.blocks = [check_int("blocks", b) for b in blocks]
        if not self.blocks:
            raise ValueError("blocks must name at least one stage, got an empty sequence")
        self.preact = bool(preact)
        c, s = self.in_channels, self.image_size
        self.input_shapes = [(c, s, s), (c * s * s,)]
        draw = MemberInit(self.seeds)
        self.stem = _Conv(draw, c, self.width, 3, 1, m, init)
        self.stem_bn = None if self.preact else _BatchNorm(m, self.width)
        self.stages = nn.ModuleList()
        c_in = self.width
        for i, n in enumerate(self.blocks):
            c_out = self.width * 2**i
            stage = nn.Sequential(
                *[
                    _Block(
                        draw,
                        c_in if j == 0 else c_out,
                        c_out,
                        2 if (i and j == 0) else 1,
                        m,
                        self.preact,
                        init,
                    )
                    for j in range(n)
                ]
            )
            self.stages.append(stage)
            c_in = c_out
        self.final_bn = _BatchNorm(m, c_in) if self.preact else None
        self.features = c_in
        self.head_w = _dense_weight(draw, c_in, self.out_features, init)  # (M, F, K)
        self.head_b = draw.default((self.out_features,), c_in)  # (M, K)

    def layer_names(self) -> list[str]:
        stages = [f"stage{i + 1}" for i in range(len(self.blocks))]
        return ["stem", *stages, "pool", "output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, _ = self.split_input(x)
        m, c, s = self.members, self.in_channels, self.image_size
        lead = x.shape[:1] if shared else x.shape[:2]
        x = x.to(self.head_w.dtype).reshape(*lead, c, s, s)
        h = self.stem(_to_groups(x, shared, m))  # (B, M·W, S, S)
        if self.stem_bn is not None:
            h = F.relu(self.stem_bn(h))
        if record is not None:
            record["stem"] = _grouped_to_members(h, m)
        for i, stage in enumerate(self.stages):
            h = stage(h)  # (B, M·C_i, S_i, S_i)
            if record is not None:
                record[f"stage{i + 1}"] = _grouped_to_members(h, m)
        if self.final_bn is not None:
            h = F.relu(self.final_bn(h))
        pooled = _grouped_to_members(h.mean(dim=(2, 3)), m)  # (M, B, F)
        if record is not None:
            record["pool"] = pooled
        out = member_affine(pooled, self.head_w, self.head_b)  # (M, B, K)
        if record is not None:
            record["output"] = out
        return out


class CNN8(EnsembleModule):
    """An ensemble of the robust-loss papers' 8-layer CIFAR-10 CNN (six convs, two dense).

    Parameters
    ----------
    seeds : list of int
        One seed per member.
    in_channels, image_size, out_features : int
        3, 32 and 10 for CIFAR-10; ``image_size`` must be divisible by 8.
    channels : sequence of three ints
        Filters of the three conv pairs (64, 128, 196 in the papers).
    hidden : int
        Width of the dense layer (256).
    init : {"torch", "kaiming"}
        Weight initialisation (module docstring); the papers' code uses ``"kaiming"``.

    Input (M, B, C, H, W) or (B, C, H, W), or flattened. Layer names: ``block1``…``block3``
    (after each pool), ``hidden`` (dense), ``output``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        in_channels: int = 3,
        image_size: int = 32,
        out_features: int = 10,
        channels: Sequence[int] = (64, 128, 196),
        hidden: int = 256,
        init: str = "torch",
    ) -> None:
        super().__init__()
        self.seeds = list(seeds)
        m = self.members
        self.init = _check_init(init)
        self.in_channels = check_int("in_channels", in_channels)
        self.image_size = check_int("image_size", image_size, minimum=8)
        if self.image_size % 8:
            raise ValueError(f"image_size must be divisible by 8, got {image_size}")
        self.out_features = check_int("out_features", out_features)
        self.channels = [check_int("channels", c) for c in channels]
        if len(self.channels) != 3:
            raise ValueError(f"channels must hold three filter counts, got {list(channels)}")
        self.hidden = check_int("hidden", hidden)
        c, s = self.in_channels, self.image_size
        self.input_shapes = [(c, s, s), (c * s * s,)]
        draw = MemberInit(self.seeds)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for c_out in self.channels:
            for _ in range(2):
                self.convs.append(_Conv(draw, c, c_out, 3, 1, m, init, bias=True))
                self.bns.append(_BatchNorm(m, c_out))
                c = c_out
        self.flat = c * (s // 8) ** 2
        self.fc_w = _dense_weight(draw, self.flat, self.hidden, init)  # (M, F, hidden)
        self.fc_b = draw.default((self.hidden,), self.flat)  # (M, hidden)
        self.fc_bn = _BatchNorm(m, self.hidden)
        self.head_w = _dense_weight(draw, self.hidden, self.out_features, init)  # (M, hidden, K)
        self.head_b = draw.default((self.out_features,), self.hidden)  # (M, K)

    def layer_names(self) -> list[str]:
        return ["block1", "block2", "block3", "hidden", "output"]

    def _forward(self, x: torch.Tensor, record: dict[str, torch.Tensor] | None) -> torch.Tensor:
        x, shared, _ = self.split_input(x)
        m, c, s = self.members, self.in_channels, self.image_size
        lead = x.shape[:1] if shared else x.shape[:2]
        h = _to_groups(x.to(self.head_w.dtype).reshape(*lead, c, s, s), shared, m)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            h = F.relu(bn(conv(h)))  # (B, M·C, S, S)
            if i % 2:
                h = F.max_pool2d(h, 2)
                if record is not None:
                    record[f"block{i // 2 + 1}"] = _grouped_to_members(h, m)
        feats = _grouped_to_members(h, m)  # (M, B, F), each member's features in C, H, W order
        z = member_affine(feats, self.fc_w, self.fc_b)  # (M, B, hidden)
        b = z.shape[1]
        z = self.fc_bn(z.transpose(0, 1).reshape(b, -1))  # per-member BN1d over (B, M·hidden)
        z = F.relu(z).reshape(b, m, -1).transpose(0, 1)  # (M, B, hidden)
        if record is not None:
            record["hidden"] = z
        out = member_affine(z, self.head_w, self.head_b)  # (M, B, K)
        if record is not None:
            record["output"] = out
        return out


def preact_resnet18(seeds: Sequence[int], **kwargs: object) -> ResNet:
    """PreAct-ResNet-18 (He et al. 2016): pre-activation basic blocks [2, 2, 2, 2]."""
    return ResNet(seeds, blocks=(2, 2, 2, 2), preact=True, **kwargs)  # type: ignore[arg-type]


def resnet34(seeds: Sequence[int], **kwargs: object) -> ResNet:
    """ResNet-34 (He et al. 2015), CIFAR stem: post-activation basic blocks [3, 4, 6, 3]."""
    return ResNet(seeds, blocks=(3, 4, 6, 3), preact=False, **kwargs)  # type: ignore[arg-type]


MODELS.register("cnn8", CNN8, doc="the robust-loss papers' 8-layer CIFAR-10 CNN, per-member BN")
MODELS.register(
    "preact-resnet18", preact_resnet18, doc="PreAct-ResNet-18 for 32x32 images, per-member BN"
)
MODELS.register("resnet34", resnet34, doc="ResNet-34 (CIFAR stem) for 32x32 images, per-member BN")
