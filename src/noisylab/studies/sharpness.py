"""Study ``sharpness``: SGD vs SAM, ASAM and VaSSO under symmetric label noise.

One unit = one (dataset, method). Inside it every (noise rate, seed) pair is one member of a
single stacked ensemble: member (η, s) trains on its own noise realisation (seed s, rate η),
starts from the initialisation of seed s and draws its own minibatches, so every method sees
exactly the same noisy labels and initialisations (paired comparisons). The perturbation
norm of the sharpness-aware methods is per member (``"ensemble": True`` param group), so
stacking is exact. All methods share the base optimiser (SGD with momentum, as in the VaSSO
paper), the learning rate, the weight decay and the cosine schedule.

Measured per member: best- and last-epoch clean test accuracy; memorisation of the noisy
labels (``noisy/acc_noisy``: accuracy of the noisy training samples against their *noisy*
label); the stability of the adversary (mean cosine between consecutive perturbation
directions and the variance ``1 − ‖ū‖²`` of the unit direction, per evaluation window); and
the sharpness at the end of training: the top Hessian eigenvalue of the training loss on a
fixed batch (power iteration) and the m-sharpness (Foret et al. 2021).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from noisylab.studies.base import Claim, StudyConfig, jsonable, markdown_table, write_csv

NAME = "sharpness"
TITLE = "Sharpness-aware optimisers under label noise (SGD, SAM, ASAM, VaSSO)"
PAPER = (
    "Li & Giannakis: Enhancing Sharpness-Aware Optimization Through Variance Suppression "
    "(NeurIPS 2023; arXiv 2509.02433)"
)

#: per-epoch metrics kept in the store (``[member, epoch, name, value]`` rows).
STORED_METRICS = (
    "test/acc",
    "clean/acc",
    "noisy/acc_noisy",
    "train/loss",
    "dir/cos_consecutive",
    "dir/variance",
)
#: optimisers a method spec may name (``name`` or ``name:theta``).
METHODS = ("sgd", "sam", "asam", "vasso", "fsam")


def parse_method(spec: str) -> tuple[str, float | None]:
    """``"vasso:0.4"`` → ``("vasso", 0.4)``; ``"sam"`` → ``("sam", None)``."""
    name, _, theta = spec.partition(":")
    if name not in METHODS:
        raise ValueError(f"unknown method {spec!r}; use one of {', '.join(METHODS)} (vasso:θ)")
    if not theta:
        return name, None
    if name not in ("vasso", "fsam"):
        raise ValueError(f"only vasso and fsam take a θ (name:θ), got {spec!r}")
    try:
        t = float(theta)
    except ValueError:
        raise ValueError(f"θ in {spec!r} must be a number in (0, 1]") from None
    if not 0.0 < t <= 1.0:
        raise ValueError(f"θ in {spec!r} must lie in (0, 1], got {t}")
    return name, t


def _sizes(**sizes: int | None) -> dict[str, int | None]:
    return dict(sizes)


class Config(StudyConfig):
    """Settings of the ``sharpness`` study (see ``PRESETS`` for tiny / quick / paper)."""

    datasets: list[str] = Field(default_factory=lambda: ["mnist", "mnist1d"])
    n_train: dict[str, int | None] = Field(default_factory=lambda: _sizes(mnist=4000))
    n_test: dict[str, int | None] = Field(default_factory=lambda: _sizes(mnist=2000))
    models: dict[str, str] = Field(default_factory=lambda: {"mnist": "mlp", "mnist1d": "mlp"})
    epochs: dict[str, int] = Field(default_factory=lambda: {"mnist": 20, "mnist1d": 30})
    noise_rates: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])
    methods: list[str] = Field(
        default_factory=lambda: ["sgd", "sam", "asam", "vasso:0.9", "vasso:0.4"]
    )
    seeds: int = 3
    base: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    schedule: str = "cosine"
    rho: float = 0.1
    asam_rho: float = 1.0
    width: int = 128
    depth: int = 2
    eval_every: int = 2
    probe_batch: int = 512
    hessian_iters: int = 20
    m: int = 128
    m_batches: int = 8

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "datasets": ["mnist"],
            "n_train": {"mnist": 1000},
            "n_test": {"mnist": 500},
            "epochs": {"mnist": 8},
            "noise_rates": [0.0, 0.5],
            "methods": ["sgd", "sam", "vasso:0.4"],
            "seeds": 2,
            "width": 64,
            "eval_every": 2,
            "probe_batch": 256,
            "hessian_iters": 10,
            "m_batches": 2,
        },
        "quick": {},
        "paper": {
            "datasets": ["mnist", "mnist1d"],
            "n_train": {"mnist": None},
            "n_test": {"mnist": None},
            "models": {"mnist": "mlp", "mnist1d": "cnn1d"},
            "epochs": {"mnist": 50, "mnist1d": 60},
            "methods": ["sgd", "sam", "asam", "vasso:0.9", "vasso:0.4", "fsam"],
            "seeds": 5,
            "eval_every": 1,
            "probe_batch": 1024,
            "hessian_iters": 50,
            "m_batches": 32,
        },
    }

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v: list[str]) -> list[str]:
        from noisylab.data import DATASETS

        if not v:
            raise ValueError("datasets must name at least one dataset")
        for name in v:
            DATASETS.get(name)
        return v

    @field_validator("models")
    @classmethod
    def _models(cls, v: dict[str, str]) -> dict[str, str]:
        for ds, model in v.items():
            if model not in ("mlp", "cnn1d"):
                raise ValueError(f"models[{ds!r}] must be 'mlp' or 'cnn1d', got {model!r}")
        return v

    @field_validator("noise_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("noise_rates must hold at least one rate")
        for r in v:
            if not 0.0 <= r < 0.9:
                raise ValueError(
                    f"symmetric noise rate must lie in [0, 0.9) for 10 classes, got {r}"
                )
        return v

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("methods must name at least one method")
        for spec in v:
            parse_method(spec)
        if len(set(v)) != len(v):
            raise ValueError(f"methods has duplicates: {v}")
        return v

    @field_validator("base")
    @classmethod
    def _base(cls, v: str) -> str:
        from noisylab.optim import OPTIMIZERS

        OPTIMIZERS.get(v)
        if OPTIMIZERS.meta(v).get("two_pass"):
            raise ValueError(f"base must be a one-pass optimiser (sgd, adam, adamw), got {v!r}")
        return v

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"lr must be a positive number, got {v}")
        return v

    @field_validator("rho", "asam_rho", "weight_decay")
    @classmethod
    def _nonneg(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be a finite number >= 0, got {v}")
        return v

    @field_validator(
        "seeds",
        "batch_size",
        "width",
        "depth",
        "eval_every",
        "probe_batch",
        "hessian_iters",
        "m",
        "m_batches",
    )
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be an integer >= 1, got {v}")
        return v


# ----------------------------------------------------------------------------- units


def _optimizer(config: Config, spec: str) -> tuple[str, dict[str, Any]]:
    """Registry name and parameters of method ``spec``; the base settings are shared."""
    name, theta = parse_method(spec)
    momentum = {"momentum": config.momentum} if config.base == "sgd" else {}
    if name == "sgd":
        return config.base, momentum
    params: dict[str, Any] = {"base": config.base, "momentum": config.momentum}
    params["rho"] = config.asam_rho if name == "asam" else config.rho
    if theta is not None:
        params["theta"] = theta
    return name, params


def units(config: Config) -> list[dict[str, Any]]:
    """One unit per (dataset, method); all noise rates × seeds are its members."""
    out = []
    for ds in config.datasets:
        for spec in config.methods:
            opt, params = _optimizer(config, spec)
            out.append(
                {
                    "dataset": ds,
                    "method": spec,
                    "optimizer": opt,
                    "optimizer_params": params,
                    "model": config.models.get(ds, "mlp"),
                    "n_train": config.n_train.get(ds),
                    "n_test": config.n_test.get(ds),
                    "epochs": config.epochs.get(ds, 20),
                    "rates": list(config.noise_rates),
                    "seeds": config.seeds,
                    "seed": config.seed,
                    "device": config.device,
                    "lr": config.lr,
                    "weight_decay": config.weight_decay,
                    "batch_size": config.batch_size,
                    "schedule": config.schedule,
                    "eval_every": config.eval_every,
                    "width": config.width,
                    "depth": config.depth,
                    "rho_probe": config.rho,
                    "probe_batch": config.probe_batch,
                    "hessian_iters": config.hessian_iters,
                    "m": config.m,
                    "m_batches": config.m_batches,
                }
            )
    return out


# ----------------------------------------------------------------------------- one unit


def _load(unit: dict[str, Any]):
    from noisylab import data

    kwargs: dict[str, Any] = {"channels": True} if unit["model"] == "cnn1d" else {}
    return data.load(
        unit["dataset"], seed=unit["seed"], n_train=unit["n_train"], n_test=unit["n_test"], **kwargs
    )


def _build(unit: dict[str, Any], ds, seeds: list[int]):
    from noisylab import nn as nnl

    k = int(ds.num_classes)
    if unit["model"] == "cnn1d":
        return nnl.build(
            "cnn1d",
            seed=seeds,
            length=int(ds.feature_shape[-1]),
            in_channels=int(ds.feature_shape[0]),
            out_features=k,
        )
    return nnl.build(
        "mlp",
        seed=seeds,
        in_features=int(np.prod(ds.feature_shape)),
        out_features=k,
        width=unit["width"],
        depth=unit["depth"],
    )


def _probes(unit: dict[str, Any], model, ds, labels) -> tuple[np.ndarray, np.ndarray]:
    """Top Hessian eigenvalue and m-sharpness per member on fixed noisy-label training batches."""
    import torch

    from noisylab.losses import cross_entropy
    from noisylab.optim import m_sharpness, top_hessian_eigenvalue

    model.eval()
    params = list(model.parameters())
    dev = params[0].device
    n = ds.n_train
    g = torch.Generator().manual_seed(unit["seed"] + 7)
    perm = torch.randperm(n, generator=g)
    idx = perm[: min(unit["probe_batch"], n)]
    x = ds.x_train[idx].to(dev)  # (B, *f)
    y = labels[:, idx].to(dev)  # (M, B)

    def batch_loss() -> torch.Tensor:
        return cross_entropy(model(x), y, reduction="none").mean(1)  # (M,)

    lam = top_hessian_eigenvalue(
        batch_loss, params, ensemble=True, iters=unit["hessian_iters"], seed=unit["seed"]
    )
    m = min(unit["m"], n)
    n_b = max(1, min(unit["m_batches"], n // m))
    batches = [perm[i * m : (i + 1) * m] for i in range(n_b)]

    def loss_i(i: int) -> torch.Tensor:
        b = batches[i]
        return cross_entropy(
            model(ds.x_train[b].to(dev)), labels[:, b].to(dev), reduction="none"
        ).mean(1)

    sharp = m_sharpness(loss_i, params, n_b, unit["rho_probe"], ensemble=True)
    return lam.double().numpy(), sharp.double().numpy()


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one method on every (noise rate, seed) of one dataset as one ensemble."""
    import torch

    from noisylab.noise import corrupt_labels
    from noisylab.optim import DirectionTracker
    from noisylab.train import fit

    torch.set_num_threads(1)  # small models: one thread is fastest and is what we size for
    ds = _load(unit)
    k = int(ds.num_classes)
    y = ds.y_train.numpy()
    rates, seeds = unit["rates"], list(range(unit["seeds"]))
    pairs = [(r, s) for r in rates for s in seeds]  # member i ↔ (rate, seed)
    noise = [
        corrupt_labels(y, k, "symmetric", r, seed=1000 * unit["seed"] + 17 * s + round(100 * r))
        for r, s in pairs
    ]
    labels = torch.as_tensor(np.stack([nz.labels for nz in noise]))  # (M, n)
    mask = torch.as_tensor(np.stack([nz.is_noisy for nz in noise]))  # (M, n)
    init_seeds = [1000 * unit["seed"] + s for _, s in pairs]  # same init for a seed
    model = _build(unit, ds, init_seeds)

    params = dict(unit["optimizer_params"])
    tracker = None
    if unit["optimizer"] in ("sam", "asam", "vasso", "fsam"):
        tracker = DirectionTracker()
        params["track"] = tracker

    def log_directions(epoch: int, _model, hist) -> None:
        if tracker is None:
            return
        st = tracker.stats(reset=True).get("ensemble")
        if st:
            hist.log("dir/cos_consecutive", st["cos_consecutive"].double().numpy())
            hist.log("dir/variance", st["variance"].double().numpy())

    hist = fit(
        model,
        ds,
        labels,
        optimizer=unit["optimizer"],
        optimizer_params=params,
        lr=unit["lr"],
        weight_decay=unit["weight_decay"],
        schedule=unit["schedule"],
        epochs=unit["epochs"],
        batch_size=unit["batch_size"],
        seed=init_seeds,
        eval_every=unit["eval_every"],
        noisy_mask=mask,
        callbacks=[log_directions],
        device=unit["device"],
        progress=False,
    )
    lam, sharp = _probes(unit, model, ds, labels)

    def mean_of(name: str) -> np.ndarray:
        if name not in hist.metrics:
            return np.full(len(pairs), np.nan)
        a = hist.metrics[name]
        return np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in a])

    best, last = hist.best("test/acc"), hist.last("test/acc")
    mem = hist.last("noisy/acc_noisy") if "noisy/acc_noisy" in hist.metrics else None
    cos, var = mean_of("dir/cos_consecutive"), mean_of("dir/variance")
    test = hist["test/acc"]
    members = []
    for i, (r, s) in enumerate(pairs):
        ok = ~np.isnan(test[i])
        members.append(
            {
                "noise": r,
                "seed": s,
                "realized_rate": noise[i].realized_rate,
                "best_test_acc": best[i],
                "last_test_acc": last[i],
                "best_epoch": hist.epochs[int(np.nanargmax(np.where(ok, test[i], -np.inf)))]
                if ok.any()
                else None,
                "memorised_last": mem[i] if mem is not None and r > 0 else float("nan"),
                "clean_train_acc_last": hist.last("clean/acc")[i],
                "hessian_top": lam[i],
                "m_sharpness": sharp[i],
                "dir_cos": cos[i],
                "dir_variance": var[i],
                "diverged_epoch": hist.diverged[i][0] if i in hist.diverged else None,
            }
        )
    metrics = []
    for name in STORED_METRICS:
        if name not in hist.metrics:
            continue
        a = hist.metrics[name]
        for i in range(len(pairs)):
            for j, ep in enumerate(hist.epochs):
                if not math.isnan(a[i, j]):
                    metrics.append([i, int(ep), name, float(a[i, j])])
    return jsonable(
        {
            "dataset": unit["dataset"],
            "method": unit["method"],
            "optimizer": unit["optimizer"],
            "optimizer_params": unit["optimizer_params"],
            "n_train": ds.n_train,
            "n_test": ds.n_test,
            "epochs": unit["epochs"],
            "members": members,
            "metrics": metrics,
        }
    )


# ----------------------------------------------------------------------------- analysis


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _mean(vals: list[Any]) -> float:
    a = np.array([_f(v) for v in vals])
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else float("nan")


def _cell(rows: list[dict[str, Any]], field: str, pct: bool = True, digits: int = 1) -> str:
    a = np.array([_f(r[field]) for r in rows])
    ok = a[~np.isnan(a)]
    if ok.size == 0:
        return "—"
    s = 100.0 if pct else 1.0
    return f"{s * ok.mean():.{digits}f} ± {s * ok.std():.{digits}f}"


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    """Write results.csv, table.md, figures/ and evaluate the claims (no training)."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], dict[str, Any]] = {}
    for res in results:
        if not isinstance(res, dict) or "members" not in res:
            raise ValueError(f"a unit result of study {NAME!r} lacks 'members': {str(res)[:200]}")
        for m in res["members"]:
            rows.append({"dataset": res["dataset"], "optimizer": res["method"], **m})
        curves[(res["dataset"], res["method"])] = res
    fields = [
        "dataset",
        "noise",
        "optimizer",
        "seed",
        "best_test_acc",
        "last_test_acc",
        "best_epoch",
        "memorised_last",
        "clean_train_acc_last",
        "hessian_top",
        "m_sharpness",
        "dir_cos",
        "dir_variance",
        "realized_rate",
        "diverged_epoch",
    ]
    rows.sort(
        key=lambda r: (
            r["dataset"],
            r["noise"],
            config.methods.index(r["optimizer"]) if r["optimizer"] in config.methods else 99,
            r["seed"],
        )
    )
    write_csv(out / "results.csv", [jsonable({k: r.get(k) for k in fields}) for r in rows])

    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], float(r["noise"]), r["optimizer"]), []).append(r)
    claims = _claims(config, groups)
    _table(config, groups, claims, out / "table.md")
    _figure_accuracy(config, groups, out / "figures" / "accuracy_vs_noise.png")
    _figure_directions(config, curves, out / "figures" / "direction_stability.png")
    return claims


def _methods_present(config: Config, groups) -> list[str]:
    seen = {k[2] for k in groups}
    return [m for m in config.methods if m in seen]


def _table(config: Config, groups, claims: list[Claim], path: Path) -> None:
    methods = _methods_present(config, groups)
    rates = sorted({k[1] for k in groups})
    lines = [f"# {TITLE}\n", f"Paper: {PAPER}\n"]
    lines.append(
        f"Base optimiser {config.base} (lr {config.lr:g}, momentum {config.momentum:g}, "
        f"weight decay {config.weight_decay:g}, {config.schedule} schedule, batch "
        f"{config.batch_size}); SAM/VaSSO ρ = {config.rho:g}, ASAM ρ = {config.asam_rho:g}; "
        f"{config.seeds} seeds, each its own noise realisation.\n"
    )
    for ds in config.datasets:
        lines.append(f"\n## {ds}\n")
        lines.append(
            "\nClean test accuracy (%), mean ± std over seeds, **best epoch / last epoch**:\n\n"
        )
        body = []
        for m in methods:
            cells = []
            for r in rates:
                g = groups.get((ds, r, m))
                cells.append(
                    "—" if not g else f"{_cell(g, 'best_test_acc')} / {_cell(g, 'last_test_acc')}"
                )
            body.append([m, *cells])
        lines.append(markdown_table(["method", *[f"η={r:g}" for r in rates]], body))
        lines.append(
            "\nMemorised noisy labels (% of noisy training samples fitted to their noisy label, "
            "last epoch):\n\n"
        )
        body = []
        for m in methods:
            body.append(
                [m, *[_cell(groups.get((ds, r, m), []), "memorised_last") for r in rates if r > 0]]
            )
        lines.append(markdown_table(["method", *[f"η={r:g}" for r in rates if r > 0]], body))
        lines.append(
            "\nSharpness at the end of training: top Hessian eigenvalue λ_max / m-sharpness "
            f"(m = {config.m}, ρ = {config.rho:g}), on noisy-label training batches:\n\n"
        )
        body = []
        for m in methods:
            cells = []
            for r in rates:
                g = groups.get((ds, r, m), [])
                cells.append(
                    f"{_cell(g, 'hessian_top', pct=False)} / "
                    f"{_cell(g, 'm_sharpness', pct=False, digits=3)}"
                )
            body.append([m, *cells])
        lines.append(markdown_table(["method", *[f"η={r:g}" for r in rates]], body))
        lines.append(
            "\nPerturbation direction: mean cosine between consecutive directions / variance "
            "1 − ‖ū‖² of the unit direction (per evaluation window, mean over training):\n\n"
        )
        body = []
        for m in methods:
            if parse_method(m)[0] == "sgd":
                continue
            cells = []
            for r in rates:
                g = groups.get((ds, r, m), [])
                cells.append(
                    f"{_cell(g, 'dir_cos', pct=False, digits=3)} / "
                    f"{_cell(g, 'dir_variance', pct=False, digits=3)}"
                )
            body.append([m, *cells])
        lines.append(markdown_table(["method", *[f"η={r:g}" for r in rates]], body))
    lines.append("\n## Claims\n")
    for c in claims:
        mark = "reproduced" if c.reproduced else "**not reproduced**"
        lines.append(f"- {mark} — `{c.id}`: {c.statement}\n")
    path.write_text("".join(x if x.endswith("\n") else x + "\n" for x in lines))


def _figure_accuracy(config: Config, groups, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = _methods_present(config, groups)
    n = len(config.datasets)
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 4.3), squeeze=False)
    for ax, ds in zip(axes[0], config.datasets):
        for i, m in enumerate(methods):
            rates = sorted(r for (d, r, mm) in groups if d == ds and mm == m)
            last = [100 * _mean([x["last_test_acc"] for x in groups[(ds, r, m)]]) for r in rates]
            best = [100 * _mean([x["best_test_acc"] for x in groups[(ds, r, m)]]) for r in rates]
            color = f"C{i}"
            ax.plot(rates, last, "-o", color=color, lw=2, label=f"{m} (last)")
            ax.plot(rates, best, ":", color=color, lw=1.2)
        ax.set_title(f"{ds}: clean test accuracy (solid last epoch, dotted best)")
        ax.set_xlabel("symmetric noise rate η")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _figure_directions(config: Config, curves, path: Path) -> None:
    """Per-window mean consecutive cosine vs epoch at the highest noise rate, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(config.datasets)
    fig, axes = plt.subplots(2, n, figsize=(6 * n, 7), squeeze=False)
    for col, ds in enumerate(config.datasets):
        for i, m in enumerate(config.methods):
            res = curves.get((ds, m))
            if res is None or parse_method(m)[0] == "sgd":
                continue
            top = max(x["noise"] for x in res["members"])
            idx = {j for j, x in enumerate(res["members"]) if x["noise"] == top}
            for row, name in enumerate(("dir/cos_consecutive", "dir/variance")):
                by_epoch: dict[int, list[float]] = {}
                for mem, ep, nm, v in res["metrics"]:
                    if nm == name and mem in idx:
                        by_epoch.setdefault(int(ep), []).append(float(v))
                if by_epoch:
                    eps = sorted(by_epoch)
                    axes[row][col].plot(
                        eps, [np.mean(by_epoch[e]) for e in eps], "-o", color=f"C{i}", label=m
                    )
        axes[0][col].set_title(f"{ds}, η = {max(config.noise_rates):g}: cos(u_t, u_t−1)")
        axes[1][col].set_title(f"{ds}, η = {max(config.noise_rates):g}: variance 1 − ‖ū‖²")
        for row in range(2):
            axes[row][col].set_xlabel("epoch")
            axes[row][col].grid(alpha=0.3)
    if axes[0][-1].get_legend_handles_labels()[0]:
        axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- claims


def _paired(groups, ds: str, r: float, a: str, b: str, field: str) -> list[float]:
    """Per-seed differences a − b of ``field`` (points when an accuracy), seeds present in both."""
    ga = {x["seed"]: _f(x[field]) for x in groups.get((ds, r, a), [])}
    gb = {x["seed"]: _f(x[field]) for x in groups.get((ds, r, b), [])}
    return [ga[s] - gb[s] for s in sorted(ga) if s in gb and not math.isnan(ga[s] - gb[s])]


def _claims(config: Config, groups) -> list[Claim]:
    methods = _methods_present(config, groups)
    vassos = [m for m in methods if parse_method(m)[0] == "vasso"]
    noisy = sorted(r for r in {k[1] for k in groups} if r > 0)
    high = [r for r in noisy if r >= 0.5]
    claims = []

    def acc(ds: str, r: float, m: str, field: str) -> float:
        return 100 * _mean([x[field] for x in groups.get((ds, r, m), [])])

    # 1. SAM beats SGD under label noise (last epoch; best epoch in the evidence)
    if "sam" in methods and "sgd" in methods and noisy:
        ev: dict[str, Any] = {"metric": "clean test accuracy (%), mean over seeds; diff paired"}
        ok = True
        for ds in config.datasets:
            for r in noisy:
                d_last = _paired(groups, ds, r, "sam", "sgd", "last_test_acc")
                d_best = _paired(groups, ds, r, "sam", "sgd", "best_test_acc")
                ev[f"{ds} η={r:g}"] = {
                    "sgd_last": acc(ds, r, "sgd", "last_test_acc"),
                    "sam_last": acc(ds, r, "sam", "last_test_acc"),
                    "diff_last_points": 100 * float(np.mean(d_last)) if d_last else None,
                    "seeds_sam_wins_last": f"{sum(d > 0 for d in d_last)}/{len(d_last)}",
                    "sgd_best": acc(ds, r, "sgd", "best_test_acc"),
                    "sam_best": acc(ds, r, "sam", "best_test_acc"),
                    "diff_best_points": 100 * float(np.mean(d_best)) if d_best else None,
                    "memorised_sgd": acc(ds, r, "sgd", "memorised_last"),
                    "memorised_sam": acc(ds, r, "sam", "memorised_last"),
                }
                ok = ok and bool(d_last) and float(np.mean(d_last)) > 0
        claims.append(
            Claim(
                id="sam-beats-sgd-under-noise",
                statement=(
                    "SAM beats SGD in last-epoch clean test accuracy (mean over seeds) at every "
                    f"noise rate > 0 on every dataset ({', '.join(config.datasets)})."
                ),
                reproduced=ok,
                evidence=ev,
            )
        )

    # 2. VaSSO matches or beats SAM at high noise (within 1 point, each θ)
    if "sam" in methods and vassos and high:
        ev = {
            "metric": "last-epoch clean test accuracy (%), mean over seeds",
            "tolerance_points": 1.0,
        }
        ok = True
        for ds in config.datasets:
            for r in high:
                entry: dict[str, Any] = {"sam": acc(ds, r, "sam", "last_test_acc")}
                for v in vassos:
                    d = _paired(groups, ds, r, v, "sam", "last_test_acc")
                    diff = 100 * float(np.mean(d)) if d else float("nan")
                    entry[v] = acc(ds, r, v, "last_test_acc")
                    entry[f"{v} − sam (points)"] = diff
                    entry[f"{v} best − sam best (points)"] = acc(ds, r, v, "best_test_acc") - acc(
                        ds, r, "sam", "best_test_acc"
                    )
                    ok = ok and not math.isnan(diff) and diff >= -1.0
                ev[f"{ds} η={r:g}"] = entry
        claims.append(
            Claim(
                id="vasso-matches-sam-high-noise",
                statement=(
                    "At high noise (η ≥ 0.5) VaSSO ("
                    + ", ".join(vassos)
                    + ") matches SAM (within 1 point) or beats it in last-epoch clean test "
                    "accuracy, on every dataset."
                ),
                reproduced=ok,
                evidence=ev,
            )
        )
        # the paper's stronger form: VaSSO strictly better at high noise
        better = all(
            acc(ds, r, v, "last_test_acc") > acc(ds, r, "sam", "last_test_acc")
            for ds in config.datasets
            for r in high
            for v in vassos
        )
        claims.append(
            Claim(
                id="vasso-beats-sam-high-noise",
                statement=(
                    "At high noise (η ≥ 0.5) every VaSSO variant beats SAM in last-epoch clean "
                    "test accuracy (the paper's ordering VaSSO > SAM), on every dataset."
                ),
                reproduced=better,
                evidence={"see": "vasso-matches-sam-high-noise", **ev},
            )
        )

    # 3. VaSSO's perturbation direction varies less than SAM's
    if "sam" in methods and vassos:
        ev = {
            "metric": "variance 1 − ‖ū‖² of the unit perturbation direction per evaluation "
            "window, and mean cosine between consecutive directions; mean over seeds",
        }
        ok = True
        for ds in config.datasets:
            for r in sorted({k[1] for k in groups}):
                entry = {
                    "sam_variance": _mean(
                        [x["dir_variance"] for x in groups.get((ds, r, "sam"), [])]
                    ),
                    "sam_cos": _mean([x["dir_cos"] for x in groups.get((ds, r, "sam"), [])]),
                }
                for v in vassos:
                    var_v = _mean([x["dir_variance"] for x in groups.get((ds, r, v), [])])
                    entry[f"{v}_variance"] = var_v
                    entry[f"{v}_cos"] = _mean([x["dir_cos"] for x in groups.get((ds, r, v), [])])
                    ok = ok and var_v < entry["sam_variance"]
                ev[f"{ds} η={r:g}"] = entry
        claims.append(
            Claim(
                id="vasso-lower-direction-variance",
                statement=(
                    "VaSSO's perturbation direction has lower variance across steps than SAM's "
                    "(each θ < 1), at every noise rate on every dataset."
                ),
                reproduced=ok,
                evidence=ev,
            )
        )

    # 4. SAM memorises fewer noisy labels and ends in flatter minima than SGD
    if "sam" in methods and "sgd" in methods and noisy:
        ev = {"metric": "last-epoch memorisation (%) and top Hessian eigenvalue, mean over seeds"}
        ok_mem, ok_flat = True, True
        for ds in config.datasets:
            for r in noisy:
                m_sgd, m_sam = (
                    acc(ds, r, "sgd", "memorised_last"),
                    acc(ds, r, "sam", "memorised_last"),
                )
                h_sgd = _mean([x["hessian_top"] for x in groups.get((ds, r, "sgd"), [])])
                h_sam = _mean([x["hessian_top"] for x in groups.get((ds, r, "sam"), [])])
                ev[f"{ds} η={r:g}"] = {
                    "memorised_sgd": m_sgd,
                    "memorised_sam": m_sam,
                    "hessian_top_sgd": h_sgd,
                    "hessian_top_sam": h_sam,
                }
                ok_mem = ok_mem and m_sam < m_sgd
                ok_flat = ok_flat and h_sam < h_sgd
        claims.append(
            Claim(
                id="sam-memorises-less",
                statement="SAM fits fewer noisy training labels than SGD at every noise rate > 0.",
                reproduced=ok_mem,
                evidence=ev,
            )
        )
        claims.append(
            Claim(
                id="sam-flatter-minima",
                statement=(
                    "SAM ends training at a smaller top Hessian eigenvalue than SGD at every "
                    "noise rate > 0."
                ),
                reproduced=ok_flat,
                evidence={"see": "sam-memorises-less", **ev},
            )
        )
    return claims
