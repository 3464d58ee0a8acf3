"""Label transition matrices T[i, j] = P(noisy = j | clean = i) and the pair maps behind them.

Conventions follow the robust-loss literature (Ma et al. 2020 "Normalized Loss Functions",
Zhou et al. 2021 "Asymmetric Loss Functions"; Patrini et al. 2017 for T itself):

* ``symmetric``: T = (1 − η) I + η/(K − 1) (11ᵀ − I): a flipped label goes to a uniformly
  random *other* class, so the realised rate is η.
* ``uniform``: T = (1 − η) I + η/K · 11ᵀ: with probability η the label is redrawn from all K
  classes (it may land on itself), so the realised rate is η (K − 1)/K.
* ``pair:*``: class s goes to ``map[s]`` with probability η; other rows are the identity.
* ``matrix``: a user-given row-stochastic T.
"""

from __future__ import annotations

import numpy as np

from noisylab.checks import check_int, check_probability, check_registered

#: kind → one-line description (read by ``noisylab list noise``).
NOISE_KINDS: dict[str, str] = {
    "none": "no noise: T = I",
    "symmetric": "flip to a uniformly random other class w.p. rate (realised rate = rate)",
    "uniform": "redraw from all K classes w.p. rate (realised rate = rate·(K−1)/K)",
    "pair:mnist": "MNIST pair flips 7→1, 2→7, 5↔6, 3→8 w.p. rate (K = 10)",
    "pair:cifar10": "CIFAR-10 pair flips truck→automobile, bird→airplane, deer→horse, cat↔dog",
    "pair:cifar100": "CIFAR-100: next fine class within its true superclass (cyclic)",
    "pair:next": "cyclic pair flips y → (y + 1) mod K w.p. rate",
    "matrix": "user-given row-stochastic transition matrix T (--matrix T.npy)",
    "instance": "instance-dependent (Xia et al. 2020): flip rate and target depend on features",
}

#: MNIST asymmetric flips (Patrini et al. 2017; Ma et al. 2020): 7→1, 2→7, 5↔6, 3→8.
PAIR_MNIST: dict[int, int] = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}

#: CIFAR-10 asymmetric flips: truck→automobile, bird→airplane, deer→horse, cat↔dog.
PAIR_CIFAR10: dict[int, int] = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}

#: CIFAR-100 fine label names, in label order (alphabetical, as in the ``meta`` file).
CIFAR100_FINE_NAMES: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

#: CIFAR-100 superclasses (coarse label order) and their five fine classes, as documented
#: on the dataset page (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR100_SUPERCLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aquatic_mammals", ("beaver", "dolphin", "otter", "seal", "whale")),
    ("fish", ("aquarium_fish", "flatfish", "ray", "shark", "trout")),
    ("flowers", ("orchid", "poppy", "rose", "sunflower", "tulip")),
    ("food_containers", ("bottle", "bowl", "can", "cup", "plate")),
    ("fruit_and_vegetables", ("apple", "mushroom", "orange", "pear", "sweet_pepper")),
    ("household_electrical_devices", ("clock", "keyboard", "lamp", "telephone", "television")),
    ("household_furniture", ("bed", "chair", "couch", "table", "wardrobe")),
    ("insects", ("bee", "beetle", "butterfly", "caterpillar", "cockroach")),
    ("large_carnivores", ("bear", "leopard", "lion", "tiger", "wolf")),
    ("large_man-made_outdoor_things", ("bridge", "castle", "house", "road", "skyscraper")),
    ("large_natural_outdoor_scenes", ("cloud", "forest", "mountain", "plain", "sea")),
    ("large_omnivores_and_herbivores", ("camel", "cattle", "chimpanzee", "elephant", "kangaroo")),
    ("medium_mammals", ("fox", "porcupine", "possum", "raccoon", "skunk")),
    ("non-insect_invertebrates", ("crab", "lobster", "snail", "spider", "worm")),
    ("people", ("baby", "boy", "girl", "man", "woman")),
    ("reptiles", ("crocodile", "dinosaur", "lizard", "snake", "turtle")),
    ("small_mammals", ("hamster", "mouse", "rabbit", "shrew", "squirrel")),
    ("trees", ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree")),
    ("vehicles_1", ("bicycle", "bus", "motorcycle", "pickup_truck", "train")),
    ("vehicles_2", ("lawn_mower", "rocket", "streetcar", "tank", "tractor")),
)

#: fine label → coarse label (superclass) of CIFAR-100, written out from the lists above.
CIFAR100_COARSE: tuple[int, ...] = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)  # fmt: skip


def _cifar100_next_in_superclass() -> dict[int, int]:
    """Each fine class → the next fine class (by label) of its superclass, cyclically."""
    out: dict[int, int] = {}
    coarse = np.asarray(CIFAR100_COARSE)
    for c in range(20):
        members = np.flatnonzero(coarse == c)  # ascending fine labels
        for i, f in enumerate(members):
            out[int(f)] = int(members[(i + 1) % len(members)])
    return out


#: CIFAR-100 pair map: fine class → next fine class within its true superclass (cyclic).
PAIR_CIFAR100: dict[int, int] = _cifar100_next_in_superclass()

_PAIR_FIXED_K: dict[str, tuple[dict[int, int], int]] = {
    "pair:mnist": (PAIR_MNIST, 10),
    "pair:cifar10": (PAIR_CIFAR10, 10),
    "pair:cifar100": (PAIR_CIFAR100, 100),
}


def check_rate(kind: str, num_classes: int, rate: object) -> float:
    """Validate the noise rate η ∈ [0, 1); symmetric noise also needs η < (K − 1)/K.

    At η = (K − 1)/K a symmetric T has equal entries everywhere and the clean class can no
    longer be identified from the noisy one (Ma et al. 2020, §3), so it is rejected.
    """
    r = check_probability("noise rate", rate, high_open=True)
    if kind == "symmetric" and r >= (num_classes - 1) / num_classes:
        raise ValueError(
            f"symmetric noise rate must be < (K-1)/K = {(num_classes - 1) / num_classes:.4g} "
            f"for K = {num_classes}, got {rate!r}"
        )
    return r


def pair_map(kind: str, num_classes: int) -> dict[int, int]:
    """The source → target map of a ``pair:*`` kind for K classes.

    Raises ``ValueError`` when a fixed map (mnist, cifar10, cifar100) is asked for the wrong K.
    """
    if kind == "pair:next":
        return {c: (c + 1) % num_classes for c in range(num_classes)}
    if kind not in _PAIR_FIXED_K:
        raise ValueError(
            f"unknown pair kind {kind!r}; known: pair:mnist, pair:cifar10, pair:cifar100, pair:next"
        )
    mapping, k = _PAIR_FIXED_K[kind]
    if num_classes != k:
        raise ValueError(f"{kind} noise needs num_classes = {k}, got {num_classes}")
    return dict(mapping)


def validate_transition(matrix: object, num_classes: int, atol: float = 1e-6) -> np.ndarray:
    """Check that ``matrix`` is a (K, K) row-stochastic matrix and return it as float64.

    Raises ``ValueError`` for a wrong shape, non-finite or negative entries, or rows whose
    sum differs from 1 by more than ``atol`` (naming the first bad row and its sum).
    """
    if matrix is None:
        raise ValueError("kind 'matrix' needs a transition matrix (matrix=...)")
    t = np.asarray(matrix, dtype=np.float64)
    if t.shape != (num_classes, num_classes):
        raise ValueError(
            f"transition matrix must have shape ({num_classes}, {num_classes}), got {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError("transition matrix has non-finite entries")
    if np.any(t < 0):
        i, j = np.argwhere(t < 0)[0]
        raise ValueError(f"transition matrix has a negative entry T[{i}, {j}] = {t[i, j]:.6g}")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"transition matrix rows must sum to 1; row {i} sums to {sums[i]:.6g}")
    return t


def transition_matrix(
    kind: str, num_classes: int, rate: float, matrix: np.ndarray | None = None
) -> np.ndarray:
    """The label transition matrix T of a noise kind, T[i, j] = P(ỹ = j | y = i).

    Parameters
    ----------
    kind : str
        One of :data:`NOISE_KINDS` except ``instance`` (whose T depends on the input).
    num_classes : int
        K ≥ 2.
    rate : float
        η ∈ [0, 1); for ``symmetric`` η < (K − 1)/K. Ignored for ``matrix`` and ``none``.
    matrix : array (K, K), optional
        The user's T for ``kind="matrix"``; validated (shape, non-negative, rows sum to 1).

    Returns
    -------
    np.ndarray (K, K), float64, rows summing to 1.

    Notes
    -----
    symmetric: T = (1 − η) I + η/(K − 1)(11ᵀ − I); uniform: T = (1 − η) I + (η/K) 11ᵀ;
    pair: T[s, s] = 1 − η, T[s, map(s)] = η for each source s, identity rows elsewhere
    (Patrini et al. 2017, "Making deep neural networks robust to label noise", §5).

    Examples
    --------
    >>> transition_matrix("symmetric", 3, 0.3).round(2).tolist()
    [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]]
    """
    kind = check_registered("noise kind", kind, NOISE_KINDS)
    k = check_int("num_classes", num_classes, minimum=2)
    if kind == "instance":
        raise ValueError(
            "instance-dependent noise has no single transition matrix; use corrupt_labels"
        )
    if kind == "matrix":
        return validate_transition(matrix, k)
    if kind == "none":
        return np.eye(k)
    r = check_rate(kind, k, rate)
    if kind == "symmetric":
        t = np.full((k, k), r / (k - 1))
        np.fill_diagonal(t, 1.0 - r)
        return t
    if kind == "uniform":
        return (1.0 - r) * np.eye(k) + r / k * np.ones((k, k))
    t = np.eye(k)
    for s, d in pair_map(kind, k).items():
        t[s, s] = 1.0 - r
        t[s, d] += r
    return t
