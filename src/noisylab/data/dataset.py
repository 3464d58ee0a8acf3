"""The one dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from noisylab.checks import check_choice

#: the tasks a dataset can pose
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors plus what a model needs to know about them.

    ``x_*`` keep their dtype (float32 features, or int64 tokens for embedding models);
    ``y_*`` are int64 class labels for classification and float32 targets for regression.
    ``info`` holds loader extras (e.g. the teacher's weights ``beta`` of the synthetic
    ``teacher`` data, or CIFAR-100's coarse labels); it is not compared or printed.
    """

    name: str
    x_train: torch.Tensor  # (n, *feature_shape)
    y_train: torch.Tensor  # (n,) or (n, out)
    x_test: torch.Tensor  # (n_test, *feature_shape)
    y_test: torch.Tensor  # (n_test,) or (n_test, out)
    num_classes: int | None
    task: Literal["classification", "regression"] = "classification"
    provenance: str = ""
    feature_shape: tuple[int, ...] = field(default=())
    info: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.feature_shape:
            object.__setattr__(self, "feature_shape", tuple(self.x_train.shape[1:]))
        if len(self.x_train) != len(self.y_train):
            raise ValueError(
                f"x_train has {len(self.x_train)} rows but y_train has {len(self.y_train)}"
            )
        if len(self.x_test) != len(self.y_test):
            raise ValueError(
                f"x_test has {len(self.x_test)} rows but y_test has {len(self.y_test)}"
            )
        check_choice("task", self.task, TASKS)
        if self.task == "classification" and not self.num_classes:
            raise ValueError("a classification dataset needs num_classes >= 2")

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        return len(self.x_test)

    @property
    def num_outputs(self) -> int:
        """Output width of a model for this data: K classes, or the regression target width."""
        if self.task == "classification":
            assert self.num_classes is not None
            return self.num_classes
        return 1 if self.y_train.dim() == 1 else int(self.y_train.shape[1])

    def replace(self, **changes: object) -> Dataset:
        """A copy with some fields changed (e.g. a training subset)."""
        return replace(self, **changes)  # type: ignore[arg-type]
