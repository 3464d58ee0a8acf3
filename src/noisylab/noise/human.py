"""Real (human) label noise: labels someone else produced, compared with the clean ones.

Synthetic kinds draw ỹ from a transition matrix; human kinds take ỹ as given (CIFAR-10N,
CIFAR-100N; Wei et al., ICLR 2022). Every member of an ensemble sees the same human labels (they
are data, not a draw), and what is reported is what the labels are: the realised rate and the
empirical transition matrix T̂[i, j] = #{y = i, ỹ = j} / #{y = i}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from noisylab.noise.labels import MemberNoise, check_labels, empirical_transition

#: human noise kinds → description (the labels come with the dataset, not from a rate).
HUMAN_KINDS: dict[str, str] = {
    "cifar10n:aggre": "CIFAR-10N majority vote of three annotators (≈ 9.0 % wrong)",
    "cifar10n:random1": "CIFAR-10N first annotator (≈ 17.2 % wrong)",
    "cifar10n:random2": "CIFAR-10N second annotator (≈ 18.1 % wrong)",
    "cifar10n:random3": "CIFAR-10N third annotator (≈ 17.6 % wrong)",
    "cifar10n:worse": "CIFAR-10N a wrong label whenever any annotator erred (≈ 40.2 % wrong)",
    "cifar100n:noisy": "CIFAR-100N one annotator's fine label (≈ 40.2 % wrong)",
}


def split_human_kind(kind: str) -> tuple[str, str]:
    """``"cifar10n:worse"`` → ``("cifar10", "worse")``; ``"worst"`` is read as ``"worse"``.

    >>> split_human_kind("cifar10n:worst")
    ('cifar10', 'worse')
    """
    if not isinstance(kind, str):
        raise TypeError(f"human noise kind must be a string, got {kind!r}")
    k = kind.strip().replace(":worst", ":worse")
    if k not in HUMAN_KINDS:
        raise ValueError(f"unknown human noise kind {kind!r}; known: {', '.join(HUMAN_KINDS)}")
    dataset, variant = k.split(":")
    return dataset[:-1], variant


def human_members(
    clean: Sequence[int] | np.ndarray,
    noisy: Sequence[int] | np.ndarray,
    num_classes: int,
    members: int,
    kind: str = "human",
) -> MemberNoise:
    """The same human labels for each of ``members`` members, with what they realise.

    Parameters
    ----------
    clean, noisy : array-like (n,)
        True labels and the human labels of the same samples.
    num_classes : int
    members : int
        Ensemble size M ≥ 1.
    kind : str
        Recorded in the result (e.g. ``"cifar10n:worse"``).

    Returns
    -------
    MemberNoise
        ``labels`` (M, n), ``is_noisy`` (M, n), ``realized_rate`` (M,) all equal, the empirical
        ``transition`` and ``rate`` = the realised rate (there is no nominal one).

    Examples
    --------
    >>> m = human_members([0, 1, 1, 0], [0, 1, 0, 0], 2, members=3)
    >>> m.labels.shape, float(m.rate)
    ((3, 4), 0.25)
    """
    y = check_labels(clean, num_classes)
    z = check_labels(noisy, num_classes)
    if y.shape != z.shape:
        raise ValueError(f"clean and human labels differ in length: {y.size} vs {z.size}")
    if isinstance(members, bool) or not isinstance(members, int | np.integer) or members < 1:
        raise ValueError(f"members must be an int >= 1, got {members!r}")
    wrong = z != y  # (n,)
    rate = float(wrong.mean()) if wrong.size else 0.0
    return MemberNoise(
        labels=np.broadcast_to(z, (members, z.size)).copy(),
        is_noisy=np.broadcast_to(wrong, (members, z.size)).copy(),
        realized_rate=np.full(members, rate),
        transition=empirical_transition(y, z, num_classes),
        kind=kind,
        rate=rate,
    )
