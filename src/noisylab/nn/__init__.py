"""Ensemble-aware models: every parameter has a leading member axis M.

``build(name, members=M, seed=...)`` looks a model up in :data:`MODELS` (``mlp``,
``cnn1d``, ``cnn2d``, ``linear2``, ``preact-resnet18``, ``resnet34``; higher layers may register more). Forward maps
(M, B, …) or (B, …) to (M, B, out); ``representations(x, layers)`` returns hidden layers
as (M, B, p). ``from_factory`` wraps any ``nn.Module`` factory with ``torch.func``.
"""

from __future__ import annotations

from noisylab.nn.base import (
    ACTIVATIONS,
    MODELS,
    EnsembleModule,
    MemberInit,
    build,
    member_seeds,
)
from noisylab.nn.cifar import CNN8, ResNet, preact_resnet18, resnet34
from noisylab.nn.conv import CNN1d, CNN2d
from noisylab.nn.factory import FuncEnsemble, from_factory
from noisylab.nn.mlp import AUTO_LOOP_WIDTH, MLP, Linear2, resolve_strategy

__all__ = [
    "ACTIVATIONS",
    "AUTO_LOOP_WIDTH",
    "CNN8",
    "MLP",
    "MODELS",
    "CNN1d",
    "CNN2d",
    "EnsembleModule",
    "FuncEnsemble",
    "Linear2",
    "MemberInit",
    "ResNet",
    "build",
    "from_factory",
    "member_seeds",
    "preact_resnet18",
    "resnet34",
    "resolve_strategy",
]
