"""Noisy training labels for an ensemble, from a noise spec and a dataset.

One entry point for every noise kind a run can name: synthetic kinds (``symmetric:0.4``,
``pair:mnist:0.2``, …) draw one realisation per member seed
(:func:`noisylab.noise.corrupt_members`); human kinds (``cifar10n:worse``, ``cifar100n:noisy``)
take the labels that came with the dataset (:func:`noisylab.noise.human.human_members`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from noisylab.data.cifar import human_label_sets
from noisylab.data.dataset import Dataset
from noisylab.noise import MemberNoise, corrupt_members, parse_spec
from noisylab.noise.human import HUMAN_KINDS, human_members, split_human_kind


def member_noise(ds: Dataset, spec: str, seeds: Sequence[int], **kwargs: Any) -> MemberNoise:
    """Noisy labels (M, n) for ``ds``'s training set, one member per seed.

    Parameters
    ----------
    ds : Dataset
        A classification dataset. Human kinds need it loaded with its human labels
        (``load("cifar10", path=..., human_labels=True)``).
    spec : str
        A noise spec (:func:`noisylab.noise.parse_spec`).
    seeds : sequence of int
        One per member; human kinds use only their count.
    **kwargs
        Passed to :func:`~noisylab.noise.corrupt_members` (``exact``, ``matrix``, ``features``).

    Raises
    ------
    ValueError
        For a human kind on a dataset without those labels, or a bad spec.
    """
    if ds.num_classes is None:
        raise ValueError(f"label noise needs a classification dataset; {ds.name} is regression")
    kind, rate = parse_spec(spec)
    clean = ds.y_train.numpy()
    if kind in HUMAN_KINDS:
        dataset, variant = split_human_kind(kind)
        sets = human_label_sets(ds)
        if ds.name != dataset or variant not in sets:
            raise ValueError(
                f"noise {spec!r} needs {dataset} loaded with its CIFAR-N labels "
                f"(human_labels=True and {dataset.upper().replace('CIFAR', 'CIFAR-')}_human.pt "
                f"beside the batches); got dataset {ds.name!r} with "
                f"{', '.join(sets) or 'no human labels'}"
            )
        return human_members(clean, sets[variant], ds.num_classes, len(list(seeds)), kind=kind)
    return corrupt_members(clean, ds.num_classes, kind, rate, list(seeds), **kwargs)


__all__ = ["member_noise"]
