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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from noisylab._json import jsonable
from noisylab.checks import check_device


class Claim(BaseModel):
    """One claim of a paper, as evaluated on our data: never tuned to pass."""

    id: str
    statement: str
    reproduced: bool
    evidence: dict[str, Any]

    @field_validator("evidence")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return jsonable(v)


class StudyConfig(BaseModel):
    """Base of study configs: validated fields, named presets, no unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    seed: int = 0
    device: str = "cpu"

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        return check_device(v)

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
# studies: records, numbers, data, tables, seeded streams and figures


def check_keys(
    kind: str, data: Mapping[str, Any], required: Iterable[str], optional: Iterable[str] = ()
) -> None:
    """Raise ``ValueError`` unless ``data`` holds every ``required`` key and no unknown one.

    ``kind`` names the record in the message (e.g. ``"losses unit"``).

    Examples
    --------
    >>> check_keys("demo unit", {"a": 1}, required=["a"], optional=["b"])
    >>> check_keys("demo unit", {"b": 1}, required=["a"])
    Traceback (most recent call last):
    ...
    ValueError: demo unit lacks key(s) ['a']; got ['b']
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{kind} must be a dict, got {type(data).__name__}: {str(data)[:200]}")
    required = list(required)
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{kind} lacks key(s) {missing}; got {sorted(data)}")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{kind} has unknown key(s) {unknown}; expected {required}")


def check_unit_results(study: str, results: Sequence[Any]) -> None:
    """Raise ``ValueError`` if a stored unit result is not a dict with ``members``."""
    for res in results:
        if not isinstance(res, dict) or "members" not in res:
            raise ValueError(f"a unit result of study {study!r} lacks 'members': {str(res)[:200]}")


def as_float(v: Any) -> float:
    """``None`` (a non-finite value in the store) → NaN, anything else → ``float``.

    >>> as_float(None), as_float(3)
    (nan, 3.0)
    """
    return float("nan") if v is None else float(v)


def nan_mean(values: Iterable[Any]) -> float:
    """Mean of the finite values (``None`` and NaN skipped); NaN when there are none.

    >>> nan_mean([1.0, None, float("nan"), 3.0])
    2.0
    >>> nan_mean([None])
    nan
    """
    import numpy as np

    a = np.array([as_float(v) for v in values])
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else float("nan")


def mean_std_cell(
    values: Iterable[Any],
    *,
    scale: float = 100.0,
    digits: int = 1,
    empty: str = "—",
    missing: str | None = None,
) -> str:
    """``mean ± std`` (population std) of the finite values times ``scale``, for a table cell.

    ``empty`` is returned when no value is finite; with ``missing`` set, a cell that lost some
    values says how many: ``"(1/3 diverged)"``.

    >>> mean_std_cell([0.5, 0.7])
    '60.0 ± 10.0'
    >>> mean_std_cell([0.5, None], missing="diverged")
    '50.0 ± 0.0 (1/2 diverged)'
    >>> mean_std_cell([2.0, 4.0], scale=1.0, digits=3), mean_std_cell([None])
    ('3.000 ± 1.000', '—')
    """
    import numpy as np

    a = np.array([as_float(v) for v in values])
    ok = a[~np.isnan(a)]
    if ok.size == 0:
        return empty
    text = f"{scale * ok.mean():.{digits}f} ± {scale * ok.std():.{digits}f}"
    if missing is not None and ok.size < a.size:
        text += f" ({a.size - ok.size}/{a.size} {missing})"
    return text


def nan_argmax(values: Any) -> int | None:
    """Index of the largest non-NaN value of a 1-D array; ``None`` if all are NaN.

    >>> nan_argmax([float("nan"), 0.2, 0.9, 0.9]), nan_argmax([float("nan")])
    (2, None)
    """
    import numpy as np

    a = np.asarray(values, dtype=float)
    ok = ~np.isnan(a)
    if not ok.any():
        return None
    return int(np.nanargmax(np.where(ok, a, -np.inf)))


def metric_rows(hist: Any, names: Sequence[str], offset: int = 0) -> list[list[Any]]:
    """A training history's per-epoch metrics as store rows ``[member, epoch, name, value]``.

    Members are numbered from ``offset``; metrics of ``names`` that were not logged and NaN
    values are left out.
    """
    import math as _math

    rows = []
    for name in names:
        if name not in hist.metrics:
            continue
        a = hist.metrics[name]  # (M, E)
        for m in range(hist.members):
            for j, ep in enumerate(hist.epochs):
                if not _math.isnan(a[m, j]):
                    rows.append([offset + m, int(ep), name, float(a[m, j])])
    return rows


def load_for_model(dataset: str, model: str, *, seed: int, n_train: Any, n_test: Any) -> Any:
    """Load ``dataset`` shaped for ``model`` (a channel axis for ``cnn1d``)."""
    from noisylab import data

    kwargs: dict[str, Any] = {"channels": True} if model == "cnn1d" else {}
    return data.load(dataset, seed=seed, n_train=n_train, n_test=n_test, **kwargs)


def build_classifier(model: str, ds: Any, seeds: Sequence[int], *, width: int, depth: int) -> Any:
    """An ensemble classifier for ``ds``, one member per seed: ``mlp`` or ``cnn1d``."""
    import numpy as np

    from noisylab import nn as nnl

    k = int(ds.num_classes)
    if model == "mlp":
        in_features = int(np.prod(ds.feature_shape))
        return nnl.build(
            "mlp",
            members=len(seeds),
            seed=list(seeds),
            in_features=in_features,
            out_features=k,
            width=width,
            depth=depth,
        )
    if model == "cnn1d":
        return nnl.build(
            "cnn1d",
            members=len(seeds),
            seed=list(seeds),
            length=int(ds.feature_shape[-1]),
            in_channels=int(ds.feature_shape[0]),
            out_features=k,
        )
    raise ValueError(f"model must be 'mlp' or 'cnn1d', got {model!r}")


def claims_markdown(claims: Sequence[Claim]) -> list[str]:
    """The ``## Claims`` section of a study's ``table.md``: one verdict line per claim."""
    lines = ["\n## Claims\n"]
    for c in claims:
        mark = "reproduced" if c.reproduced else "**not reproduced**"
        lines.append(f"- {mark} — `{c.id}`: {c.statement}\n")
    return lines


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write text pieces to ``path``, each ending with exactly one added newline if it lacks one."""
    Path(path).write_text("".join(x if x.endswith("\n") else x + "\n" for x in lines))


def mean_se(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and standard error over seeds of the finite values (``None``, NaN, ±inf dropped).

    The standard error is the sample standard deviation (ddof = 1) over √count; it is 0 for a
    single value and the mean is NaN when no value is finite.

    Examples
    --------
    >>> mean_se([1.0, 3.0, None, float("inf")])
    (2.0, 1.0)
    >>> mean_se([0.5])
    (0.5, 0.0)
    """

    import numpy as np

    a = np.array([v for v in values if v is not None], dtype=float)
    a = a[np.isfinite(a)]
    mean = float(a.mean()) if a.size else math.nan
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return mean, se


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of ``a`` and ``b``; NaN where it is undefined (fewer than
    two points, a constant input) instead of scipy's warning.

    Examples
    --------
    >>> spearman_rho([1, 2, 3], [10, 30, 20])
    0.5
    >>> spearman_rho([1, 2, 3], [4, 4, 4])
    nan
    """
    import warnings

    import numpy as np
    from scipy.stats import spearmanr

    if len(a) != len(b):
        raise ValueError(f"spearman_rho needs sequences of equal length, got {len(a)}, {len(b)}")
    if len(a) < 2 or np.ptp(np.asarray(a, float)) == 0 or np.ptp(np.asarray(b, float)) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr(a, b).statistic)
    return rho if math.isfinite(rho) else math.nan


def member_rng(seed: int, member: int, tag: int) -> Any:
    """The numpy generator of one ensemble member's draws of one kind (``tag``) in a unit.

    Seeded by the entropy triple ``[seed, member, tag]``, so members and draw kinds get
    independent streams that do not depend on the ensemble's size.

    Examples
    --------
    >>> a, b = member_rng(0, 1, 2).random(), member_rng(0, 1, 2).random()
    >>> a == b and a != member_rng(0, 2, 2).random()
    True
    """
    import numpy as np

    return np.random.default_rng([seed, member, tag])


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend (studies write PNGs only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(rows: int, cols: int, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A headless matplotlib figure and its ``(rows, cols)`` array of axes."""
    return pyplot().subplots(rows, cols, figsize=figsize, squeeze=False)


def noise_axis(ax: Any, title: str) -> None:
    """The studies' accuracy-vs-noise panel style: title, axis labels, light grid."""
    ax.set_title(title)
    ax.set_xlabel("symmetric noise rate η")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)


def save_figure(fig: Any, path: Path) -> None:
    """Lay out, save (120 dpi PNG) and close a figure."""
    save_png(fig, path, dpi=120)


def save_png(fig: Any, path: Path, dpi: int) -> None:
    """Lay out ``fig``, write it to ``path`` as a PNG at ``dpi`` (parents made) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)


def label_decades_only(ax: Any) -> None:
    """On a log x axis, label the decades only (the minor tick labels overlap)."""
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())


def number_cell(v: float | None, spec: str, empty: str = "—") -> str:
    """``v`` formatted with ``spec`` for a table cell, or ``empty`` when it is ``None`` or
    not finite (a fit with too few points, a store's non-finite value).

    >>> number_cell(0.12345, ".3f"), number_cell(float("inf"), ".3f"), number_cell(None, ".1f")
    ('0.123', '—', '—')
    """
    import math

    return format(v, spec) if v is not None and math.isfinite(v) else empty
