"""What every study shares: a config with presets, claims, and the output files.

A study is a module exposing

``NAME``, ``TITLE``, ``PAPER``
    identifiers and the seed paper's title;
``Config``
    a :class:`StudyConfig` subclass whose ``PRESETS`` maps ``tiny``/``quick``/``paper``
    to field overrides;
``units(config) -> list[dict]``
    the independent runs (JSON-serialisable dicts) the study needs; each becomes one row of
    the results store, is cached by a content hash, and can run on any executor;
``run_unit(unit: dict) -> dict``
    runs one unit and returns a JSON-serialisable result; pure of I/O;
``analyse(config, results: list[dict], out: Path) -> list[Claim]``
    turns stored results into ``results.csv``, ``table.md``, ``figures/`` and the claims;
    it never trains anything.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator


class Claim(BaseModel):
    """One claim of a paper, as evaluated on our data: never tuned to pass."""

    id: str
    statement: str
    reproduced: bool
    evidence: dict[str, Any]

    @field_validator("evidence")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _jsonable(v)


class StudyConfig(BaseModel):
    """Base of study configs: validated fields, named presets, no unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    seed: int = 0
    device: str = "cpu"

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", v):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {v!r}")
        return v

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> StudyConfig:
        """Build the config of preset ``name`` with optional field overrides."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(cls.PRESETS)}")
        values = {**cls.PRESETS[name], **overrides}
        return cls(**values)


def check_local_device(device: str) -> None:
    """Raise ``ValueError`` if this machine cannot run ``device``: for the local executor,
    before any work starts (Ray workers may have accelerators the driver lacks)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available on this machine")


def apply_sets(config: StudyConfig, sets: Sequence[str]) -> StudyConfig:
    """Apply ``key=value`` overrides (values parsed as YAML) to a config, validated."""
    import yaml

    data = config.model_dump()
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key not in data:
            raise ValueError(
                f"unknown config key {key!r} for {type(config).__name__}; "
                f"known: {', '.join(sorted(data))}"
            )
        data[key] = yaml.safe_load(raw)
    return type(config)(**data)


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to JSON types; non-finite floats become None."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


jsonable = _jsonable


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write dict rows to CSV; the header is the union of keys in first-seen order."""
    rows = list(rows)
    fields: list[str] = []
    for r in rows:
        for k in r:
            if k not in fields:
                fields.append(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def write_claims(path: Path, claims: Sequence[Claim]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([c.model_dump() for c in claims], indent=2) + "\n")


def read_claims(path: Path) -> list[Claim]:
    return [Claim(**c) for c in json.loads(Path(path).read_text())]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(map(str, r)) + " |")
    return "\n".join(lines) + "\n"


def mean_std(values: Sequence[float]) -> str:
    """Format ``mean ± std`` (population std over seeds), in percent if values are in [0, 1]."""
    import numpy as np

    a = np.asarray([v for v in values if v is not None], dtype=float)
    if a.size == 0:
        return "—"
    return f"{a.mean():.2f} ± {a.std():.2f}"


# ----------------------------------------------------------------------------- shared by the
# studies' analyses (first used by feedback): rank correlation, table cells, figures


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of ``a`` and ``b``; NaN where it is undefined (a constant
    input, fewer than two points), never a warning-laden NaN from scipy passed on silently.

    Examples
    --------
    >>> spearman_rho([1, 2, 3], [10, 30, 20])
    0.5
    >>> spearman_rho([1, 1, 1], [1, 2, 3])
    nan
    """
    import warnings

    import numpy as np
    from scipy.stats import spearmanr

    if len(a) != len(b):
        raise ValueError(f"spearman_rho needs sequences of equal length, got {len(a)}, {len(b)}")
    if len(a) < 2 or np.ptp(np.asarray(a, float)) == 0 or np.ptp(np.asarray(b, float)) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = spearmanr(a, b).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def number_cell(v: float | None, spec: str, empty: str = "—") -> str:
    """``v`` formatted with ``spec`` for a table cell, or ``empty`` when it is ``None`` or
    not finite (a fit with too few points, a store's non-finite value).

    >>> number_cell(0.12345, ".3f"), number_cell(float("inf"), ".3f"), number_cell(None, ".1f")
    ('0.123', '—', '—')
    """
    return format(v, spec) if v is not None and math.isfinite(v) else empty


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend (studies write PNGs only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int) -> None:
    """Lay out ``fig``, write it to ``path`` as a PNG at ``dpi`` (parents made) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
