"""Parse noise specifications such as ``symmetric:0.4``, ``pair:mnist:0.2`` or ``none``."""

from __future__ import annotations

from noisylab.noise.human import HUMAN_KINDS
from noisylab.noise.transition import NOISE_KINDS


def parse_spec(spec: str) -> tuple[str, float]:
    """Split ``"KIND:RATE"`` into ``(kind, rate)``.

    ``"none"`` (or ``"none:0"``) gives ``("none", 0.0)`` and ``"matrix"`` gives
    ``("matrix", 0.0)`` (its T comes separately), and a human kind such as
    ``"cifar10n:worse"`` gives ``("cifar10n:worse", 0.0)`` (its labels come with the
    dataset; :data:`~noisylab.noise.human.HUMAN_KINDS`); every other kind needs a rate. The
    rate range itself is checked later, where K is known.

    Examples
    --------
    >>> parse_spec("symmetric:0.4")
    ('symmetric', 0.4)
    >>> parse_spec("pair:mnist:0.2")
    ('pair:mnist', 0.2)
    >>> parse_spec("none")
    ('none', 0.0)
    >>> parse_spec("cifar10n:worst")
    ('cifar10n:worse', 0.0)
    """
    if not isinstance(spec, str):
        raise TypeError(f"noise spec must be a string like 'symmetric:0.4', got {spec!r}")
    s = spec.strip()
    if s.replace(":worst", ":worse") in HUMAN_KINDS:
        return s.replace(":worst", ":worse"), 0.0
    if s.split(":")[0] in ("cifar10n", "cifar100n"):
        raise ValueError(
            f"unknown human noise kind {spec!r}; known: {', '.join(HUMAN_KINDS)} (no rate)"
        )
    if s in NOISE_KINDS:
        if s in ("none", "matrix"):
            return s, 0.0
        raise ValueError(f"noise spec {spec!r} needs a rate, e.g. '{s}:0.4'")
    kind, sep, raw = s.rpartition(":")
    if not sep or kind not in NOISE_KINDS:
        raise ValueError(
            f"cannot parse noise spec {spec!r}; expected KIND:RATE with KIND one of: "
            f"{', '.join(NOISE_KINDS)}"
        )
    try:
        rate = float(raw)
    except ValueError:
        raise ValueError(f"noise spec {spec!r}: rate {raw!r} is not a number") from None
    if kind == "none" and rate != 0.0:
        raise ValueError(f"noise spec {spec!r}: kind 'none' takes rate 0, got {rate}")
    return kind, rate
