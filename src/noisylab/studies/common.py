"""Analysis helpers the studies share: records, numbers, data loading and models, tables,
seeded streams and the figure style. The study contract and output writers are in
:mod:`noisylab.studies.base`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


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
    rows = []
    for name in names:
        if name not in hist.metrics:
            continue
        a = hist.metrics[name]  # (M, E)
        for m in range(hist.members):
            for j, ep in enumerate(hist.epochs):
                if not math.isnan(a[m, j]):
                    rows.append([offset + m, int(ep), name, float(a[m, j])])
    return rows


def load_for_model(
    dataset: str,
    model: str,
    *,
    seed: int,
    n_train: Any,
    n_test: Any,
    data_dir: str | None = None,
    human_labels: bool = False,
) -> Any:
    """Load ``dataset`` shaped for ``model`` (a channel axis for ``cnn1d``).

    ``data_dir`` is passed as ``path=`` (file datasets: npz, csv, cifar10/100, mnist from
    files); ``human_labels`` loads CIFAR-N's labels for the human noise kinds.
    """
    from noisylab import data

    kwargs: dict[str, Any] = {"channels": True} if model == "cnn1d" else {}
    kwargs.update(path_kwargs(dataset, data_dir))
    if human_labels:
        kwargs["human_labels"] = True
    return data.load(dataset, seed=seed, n_train=n_train, n_test=n_test, **kwargs)


def path_kwargs(dataset: str, data_dir: str | None) -> dict[str, Any]:
    """``{"path": data_dir}`` for a loader that reads files (takes ``path=``), else ``{}``:
    one ``data_dir`` serves a study's file datasets and is inert for generated ones."""
    import inspect

    from noisylab.data import DATASETS

    if data_dir is None or "path" not in inspect.signature(DATASETS.get(dataset)).parameters:
        return {}
    return {"path": data_dir}


def build_classifier(model: str, ds: Any, seeds: Sequence[int], *, width: int, depth: int) -> Any:
    """An ensemble of registered model ``model`` for ``ds``, one member per seed.

    The constructor arguments come from :func:`noisylab.train.recipe.model_kwargs`; a model
    that cannot take the data's feature shape raises ``ValueError`` naming both.
    """
    from noisylab import nn as nnl
    from noisylab.train.recipe import model_kwargs

    if ds.num_classes is None:
        raise ValueError(f"a classifier needs a classification dataset; {ds.name} is regression")
    kwargs = model_kwargs(model, tuple(ds.feature_shape), int(ds.num_classes), width, depth)
    return nnl.build(model, members=len(seeds), seed=list(seeds), **kwargs)


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


def noise_axis(ax: Any, title: str) -> None:
    """The studies' accuracy-vs-noise panel style: title, axis labels, light grid."""
    ax.set_title(title)
    ax.set_xlabel("symmetric noise rate η")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)


def save_png(fig: Any, path: Path, dpi: int = 120) -> None:
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
    return format(v, spec) if v is not None and math.isfinite(v) else empty


def expand_shorthands(data: Any, default: Sequence[str] = ("mnist",)) -> Any:
    """A config's raw input with ``dataset``/``model`` spelled out: ``dataset`` → ``datasets =
    [dataset]``, ``model`` → ``models = {d: model for d in datasets}`` (``mode="before"``)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if data.get("dataset") is not None:
        data["datasets"] = [data["dataset"]]
    if data.get("model") is not None:
        datasets = data.get("datasets") or list(default)
        data["models"] = {d: data["model"] for d in datasets}
    return data


def check_models(models: Mapping[str, str]) -> None:
    """Raise ``ValueError`` if a model name of ``{dataset: model}`` is not registered."""
    from noisylab.nn import MODELS

    for ds, name in models.items():
        if name not in MODELS.names():
            raise ValueError(
                f"model {name!r} (for dataset {ds!r}) is not a registered model; "
                f"known: {', '.join(sorted(MODELS.names()))}"
            )


#: datasets read from files the loader finds under ``data_dir``.
CIFAR = ("cifar10", "cifar100")


def check_data_files(datasets: Sequence[str], data_dir: str | None, human: bool) -> None:
    """Raise ``FileNotFoundError`` in one line naming the files a CIFAR run lacks in
    ``data_dir`` (``human``: the CIFAR-N file too), before any work starts."""
    from noisylab.data.cifar import missing_files

    for name in datasets:
        if name not in CIFAR:
            continue
        gone = missing_files(name, data_dir, human_labels=human)
        if gone:
            where = "no data_dir set" if data_dir is None else f"data_dir={data_dir!r}"
            raise FileNotFoundError(
                f"{name} needs {', '.join(gone)} in data_dir ({where}); pass "
                f"--set data_dir=DIR with the python-version batches"
                + (" and CIFAR-N's label file" if human else "")
            )


#: forward GFLOPs per 32×32×3 image (2 FLOPs per multiply-add), measured on one member with
#: ``torch.utils.flop_counter.FlopCounterMode``; the 10-/100-class heads differ by < 0.1 %.
FORWARD_GFLOPS: dict[str, float] = {"cnn8": 0.267, "preact-resnet18": 1.111, "resnet34": 2.319}
#: the sustained training throughput the estimates assume (TFLOP/s): about what a
#: data-centre GPU (A100/H100 class) sustains on these small CIFAR networks in fp32/TF32.
ASSUMED_TFLOPS = 20.0
#: CIFAR-10/100 training images.
CIFAR_TRAIN = 50_000


def gpu_hours(model: str, images: int, epochs: int, runs: int, passes: float = 1.0) -> float:
    """Estimated GPU hours to train ``runs`` networks ``model`` for ``epochs`` on ``images``.

    Training costs ≈ 3 × the forward FLOPs (forward, then backward at twice the forward; Kaplan
    et al. 2020, *Scaling laws*, §2.1); ``passes`` counts forward-backward passes per step (2
    for SAM-family optimisers). An estimate at :data:`ASSUMED_TFLOPS`, not a measurement.

    >>> round(gpu_hours("cnn8", 50_000, 120, 1), 3)
    0.067
    """
    if model not in FORWARD_GFLOPS:
        raise ValueError(f"no FLOP count for model {model!r}; known: {sorted(FORWARD_GFLOPS)}")
    flops = 3 * FORWARD_GFLOPS[model] * 1e9 * images * epochs * runs * passes
    return flops / (ASSUMED_TFLOPS * 1e12) / 3600


def gpu_note(hours: float) -> str:
    """The line a GPU preset prints: the estimate and what it assumes."""
    return (
        f"expected GPU time ≈ {hours:.0f} h (an estimate, not measured: 3 × forward FLOPs × "
        f"images × epochs × runs at an assumed {ASSUMED_TFLOPS:.0f} TFLOP/s sustained)"
    )


def check_pairs(
    pairs: Iterable[tuple[str, str]],
    *,
    data_dir: str | None,
    width: int,
    depth: int,
    seed: int = 0,
) -> None:
    """Raise ``ValueError`` in one line for a (dataset, model) pair that cannot train: a
    regression dataset, or a model that does not take the data's feature shape. Loads each
    dataset once (before any work starts)."""
    from noisylab.train.recipe import model_kwargs

    for name, model in pairs:
        ds = load_for_model(name, model, seed=seed, n_train=None, n_test=None, data_dir=data_dir)
        if ds.num_classes is None:
            raise ValueError(f"dataset {name!r} is regression; this study needs classification")
        try:
            model_kwargs(model, tuple(ds.feature_shape), int(ds.num_classes), width, depth)
        except ValueError as exc:
            raise ValueError(f"model {model!r} does not suit dataset {name!r}: {exc}") from None
