"""``noisylab noise apply``: corrupt a label file and report the realised noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

console = Console()

_TEXT_SUFFIXES = (".csv", ".txt")


def read_labels(path: Path) -> np.ndarray:
    """Labels from ``.npy`` (no pickle) or ``.csv``/``.txt`` (one integer per line)."""
    if not path.is_file():
        raise FileNotFoundError(f"label file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"cannot read {path} as a numeric .npy array: {exc}") from None
    if suffix in _TEXT_SUFFIXES:
        values = []
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            s = line.strip().rstrip(",")
            if not s:
                continue
            try:
                values.append(int(s))
            except ValueError:
                if i == 1 and not s.lstrip("-").isdigit():
                    continue  # a header line
                raise ValueError(f"{path}, line {i}: expected one integer, got {s!r}") from None
        return np.asarray(values, dtype=np.int64)
    raise ValueError(f"label file {str(path)!r}: expected .npy, .csv or .txt, got {suffix!r}")


def write_labels(path: Path, labels: np.ndarray) -> Path:
    """Write labels as ``.npy`` or as text (one integer per line); returns the mask path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in _TEXT_SUFFIXES:
        path.write_text("".join(f"{int(v)}\n" for v in labels))
    elif path.suffix.lower() == ".npy":
        np.save(path, labels)
    else:
        raise ValueError(f"--out {str(path)!r}: expected .npy, .csv or .txt")
    return path.with_name(f"{path.stem}.mask.npy")


def apply(
    labels: Path = typer.Option(..., "--labels", help="Clean labels: .npy, or .csv/.txt."),
    num_classes: int = typer.Option(..., "--num-classes", "-k", help="Number of classes K."),
    kind: str = typer.Option(
        "symmetric", help="Noise kind (see `noisylab list noise`), or KIND:RATE."
    ),
    rate: float | None = typer.Option(None, help="Noise rate in [0, 1) (or give it in --kind)."),
    seed: int = typer.Option(0, help="Random seed."),
    exact: bool = typer.Option(
        True, "--exact/--no-exact", help="Exactly ⌊rate·n_c⌋ flips per class, or sample T."
    ),
    matrix: Path | None = typer.Option(
        None, help="Transition matrix T (.npy, K×K) for --kind matrix."
    ),
    features: Path | None = typer.Option(
        None, help="Inputs (.npy, one row per label) for --kind instance."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Noisy labels (.npy, .csv or .txt)."),
) -> None:
    """Corrupt labels; write the noisy labels and a bool mask NAME.mask.npy beside them."""
    from noisylab.noise import NOISE_KINDS, corrupt_labels, empirical_transition, parse_spec

    if kind not in NOISE_KINDS and ":" in kind:
        kind, spec_rate = parse_spec(kind)
        if rate is not None and rate != spec_rate:
            raise ValueError(f"--rate {rate} disagrees with the rate in --kind ({spec_rate})")
        rate = spec_rate
    if rate is None:
        if kind not in ("none", "matrix"):
            raise ValueError(f"--rate is required for --kind {kind}")
        rate = 0.0
    t = None
    if matrix is not None:
        if not matrix.is_file():
            raise FileNotFoundError(f"matrix file {str(matrix)!r} does not exist")
        t = np.load(matrix, allow_pickle=False)
    x = None
    if features is not None:
        if not features.is_file():
            raise FileNotFoundError(f"features file {str(features)!r} does not exist")
        x = np.load(features, allow_pickle=False)
    y = read_labels(labels)
    result = corrupt_labels(
        y, num_classes, kind, rate, seed=seed, exact=exact, matrix=t, features=x
    )
    mask_path = write_labels(out, result.labels)
    np.save(mask_path, result.is_noisy)

    emp = empirical_transition(y, result.labels, num_classes)
    console.print(
        f"{kind} noise, nominal rate {rate:g}, seed {seed}, {'exact' if exact else 'sampled'}: "
        f"realised rate {result.realized_rate:.4f} ({int(result.is_noisy.sum())} of {y.size})"
    )
    show = num_classes <= 20
    table = Table(title="empirical transition matrix P(noisy = j | clean = i)" if show else None)
    if show:
        table.add_column("clean \\ noisy", justify="right")
        for j in range(num_classes):
            table.add_column(str(j), justify="right")
        for i in range(num_classes):
            table.add_row(str(i), *(f"{v:.3f}" if v else "·" for v in emp[i]))
        console.print(table)
    else:
        console.print(
            f"(transition table omitted for K = {num_classes} > 20; mean diagonal "
            f"{np.diag(emp).mean():.4f})"
        )
    console.print(f"noisy labels → {out}\nnoisy mask   → {mask_path}")


def register(app: typer.Typer) -> None:
    """Add the ``noise`` command group (``noise apply``) to ``app``."""
    noise_app = typer.Typer(help="Simulate label noise on a label file.", no_args_is_help=True)
    noise_app.command("apply")(apply)
    app.add_typer(noise_app, name="noise")
