"""Label, target and preference noise: pure functions, numpy in / numpy out, seeded.

>>> from noisylab.noise import corrupt_labels
>>> r = corrupt_labels([0, 1, 2] * 10, 3, "symmetric", 0.4, seed=0)
>>> r.realized_rate
0.4
"""

from noisylab.noise.human import HUMAN_KINDS, human_members
from noisylab.noise.labels import (
    LabelNoise,
    MemberNoise,
    cell_counts,
    check_labels,
    corrupt_labels,
    corrupt_members,
    empirical_transition,
)
from noisylab.noise.preferences import PreferenceNoise, flip_preferences
from noisylab.noise.spec import parse_spec
from noisylab.noise.targets import TargetNoise, corrupt_targets
from noisylab.noise.transition import (
    CIFAR100_COARSE,
    CIFAR100_FINE_NAMES,
    CIFAR100_SUPERCLASSES,
    NOISE_KINDS,
    PAIR_CIFAR10,
    PAIR_CIFAR100,
    PAIR_MNIST,
    pair_map,
    transition_matrix,
    validate_transition,
)

#: every noise kind a run can name: the synthetic kinds, then the human ones (CIFAR-N).
ALL_NOISE_KINDS: dict[str, str] = {**NOISE_KINDS, **HUMAN_KINDS}

__all__ = [
    "ALL_NOISE_KINDS",
    "CIFAR100_COARSE",
    "CIFAR100_FINE_NAMES",
    "CIFAR100_SUPERCLASSES",
    "HUMAN_KINDS",
    "NOISE_KINDS",
    "PAIR_CIFAR10",
    "PAIR_CIFAR100",
    "PAIR_MNIST",
    "LabelNoise",
    "MemberNoise",
    "PreferenceNoise",
    "TargetNoise",
    "cell_counts",
    "check_labels",
    "corrupt_labels",
    "corrupt_members",
    "corrupt_targets",
    "empirical_transition",
    "flip_preferences",
    "human_members",
    "pair_map",
    "parse_spec",
    "transition_matrix",
    "validate_transition",
]
