"""The ``sharpness`` study's units and how one unit trains (no I/O).

One unit = one (dataset, method). Member ``i`` of the stacked ensemble is the pair
``(η, s) = pairs[i]``: it trains on noise realisation (η, s) from the initialisation of seed
``s``; every method sees the same pairs, labels and initialisations (paired comparisons).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from noisylab.studies.base import jsonable
from noisylab.studies.common import (
    build_classifier,
    check_data_files,
    check_pairs,
    load_for_model,
    metric_rows,
    nan_argmax,
)

from .config import STORED_METRICS, Config, parse_method
from .records import Member, Unit, UnitResult

#: the optimisers that perturb the weights (their direction statistics are tracked).
PERTURBING = ("sam", "asam", "vasso", "fsam")


def optimizer_for(
    config: Config, spec: str, rho: float | None = None
) -> tuple[str, dict[str, Any]]:
    """Registry name and parameters of method ``spec``; the base settings are shared.

    ``rho`` (default ``config.rho``) is the radius of SAM, VaSSO and FSAM; ASAM always uses
    ``config.asam_rho``.

    >>> optimizer_for(Config(), "vasso:0.4")
    ('vasso', {'base': 'sgd', 'momentum': 0.9, 'rho': 0.1, 'theta': 0.4})
    >>> optimizer_for(Config(), "sgd")
    ('sgd', {'momentum': 0.9})
    """
    name, theta = parse_method(spec)
    momentum = {"momentum": config.momentum} if config.base == "sgd" else {}
    if name == "sgd":
        return config.base, momentum
    params: dict[str, Any] = {"base": config.base, "momentum": config.momentum}
    params["rho"] = config.asam_rho if name == "asam" else (config.rho if rho is None else rho)
    if theta is not None:
        params["theta"] = theta
    return name, params


def method_rhos(config: Config, spec: str) -> list[float | None]:
    """The ρ values method ``spec`` runs at: the grid for SAM/VaSSO/FSAM, else ``[None]``."""
    name, _ = parse_method(spec)
    return [None] if name in ("sgd", "asam") else list(config.rho_grid())


def make_units(config: Config) -> list[Unit]:
    """One :class:`Unit` per (dataset, epoch budget, method, ρ); all noise rates × seeds are
    its members. Without ``rhos`` and ``epoch_budgets``: one unit per (dataset, method)."""
    check_data_files(config.datasets, config.data_dir, human=False)
    pairs = [(ds, config.models.get(ds, "mlp")) for ds in config.datasets]
    check_pairs(pairs, data_dir=config.data_dir, width=config.width, depth=config.depth)
    out = []
    grid = [
        (ds, epochs, spec, rho)
        for ds in config.datasets
        for epochs in config.budgets(ds)
        for spec in config.methods
        for rho in method_rhos(config, spec)
    ]
    for ds, epochs, spec, rho in grid:
        opt, params = optimizer_for(config, spec, rho)
        out.append(
            Unit(
                dataset=ds,
                method=spec,
                optimizer=opt,
                optimizer_params=params,
                model=config.models.get(ds, "mlp"),
                n_train=config.n_train.get(ds),
                n_test=config.n_test.get(ds),
                epochs=epochs,
                rates=list(config.noise_rates),
                seeds=config.seeds,
                seed=config.seed,
                device=config.device,
                lr=config.lr,
                weight_decay=config.weight_decay,
                batch_size=config.batch_size,
                schedule=config.schedule,
                eval_every=config.eval_every,
                width=config.width,
                depth=config.depth,
                rho_probe=config.rho,
                probe_batch=config.probe_batch,
                hessian_iters=config.hessian_iters,
                m=config.m,
                m_batches=config.m_batches,
                data_dir=config.data_dir,
                augment=config.augment,
                val_frac=config.val_frac,
            )
        )
    return out


def units(config: Config) -> list[dict[str, Any]]:
    """The units of :func:`make_units` as the store's JSON dicts."""
    return [u.to_dict() for u in make_units(config)]


def val_split(n: int, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices of the training set; validation: ⌊val_frac·n⌉.

    >>> tr, va = val_split(10, 0.2, seed=0)
    >>> len(tr), len(va), sorted([*tr, *va]) == list(range(10))
    (8, 2, True)
    """
    perm = np.random.default_rng([seed, 2023]).permutation(n)
    n_val = max(1, round(val_frac * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def probes(unit: Unit, model: Any, ds: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Top Hessian eigenvalue and m-sharpness per member on fixed noisy-label training batches.

    λ_max by power iteration on Hessian-vector products of the loss of one fixed batch of
    ``probe_batch`` samples; m-sharpness (Foret et al. 2021) over
    ``m_batches`` disjoint batches of ``m`` samples at radius ``rho_probe``. Both (M,).
    """
    import torch

    from noisylab.losses import cross_entropy
    from noisylab.optim import m_sharpness, top_hessian_eigenvalue

    model.eval()
    params = list(model.parameters())
    dev = params[0].device
    n = ds.n_train
    g = torch.Generator().manual_seed(unit.seed + 7)
    perm = torch.randperm(n, generator=g)
    idx = perm[: min(unit.probe_batch, n)]
    x = ds.x_train[idx].to(dev)  # (B, *f)
    y = labels[:, idx].to(dev)  # (M, B)

    def batch_loss() -> torch.Tensor:
        return cross_entropy(model(x), y, reduction="none").mean(1)  # (M,)

    lam = top_hessian_eigenvalue(
        batch_loss, params, ensemble=True, iters=unit.hessian_iters, seed=unit.seed
    )
    m = min(unit.m, n)
    n_b = max(1, min(unit.m_batches, n // m))
    batches = [perm[i * m : (i + 1) * m] for i in range(n_b)]

    def loss_i(i: int) -> torch.Tensor:
        b = batches[i]
        return cross_entropy(
            model(ds.x_train[b].to(dev)), labels[:, b].to(dev), reduction="none"
        ).mean(1)  # (M,)

    sharp = m_sharpness(loss_i, params, n_b, unit.rho_probe, ensemble=True)
    return lam.double().numpy(), sharp.double().numpy()


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one method on every (noise rate, seed) of one dataset as one ensemble."""
    import torch

    from noisylab.optim import DirectionTracker
    from noisylab.train import fit
    from noisylab.train.noisy_labels import member_noise

    u = Unit.from_dict(unit)
    torch.set_num_threads(1)  # small models: one thread is fastest and is what we size for
    ds = load_for_model(
        u.dataset, u.model, seed=u.seed, n_train=u.n_train, n_test=u.n_test, data_dir=u.data_dir
    )
    seeds = list(range(u.seeds))
    pairs = [(r, s) for r in u.rates for s in seeds]  # member i ↔ (rate, seed)
    per_rate = [
        member_noise(ds, f"symmetric:{r}", [1000 * u.seed + 17 * s + round(100 * r) for s in seeds])
        for r in u.rates
    ]
    labels_all = np.concatenate([nz.labels for nz in per_rate])  # (M, n)
    mask_all = np.concatenate([nz.is_noisy for nz in per_rate])  # (M, n)
    eval_sets = None
    if u.val_frac > 0:  # hold out noisy-labelled training samples to choose ρ
        tr, va = val_split(ds.n_train, u.val_frac, u.seed)
        eval_sets = {"val": (ds.x_train[va], torch.as_tensor(labels_all[:, va]))}
        ds = ds.replace(x_train=ds.x_train[tr], y_train=ds.y_train[tr])
        labels_all, mask_all = labels_all[:, tr], mask_all[:, tr]
    labels = torch.as_tensor(labels_all)  # (M, n_train)
    mask = torch.as_tensor(mask_all)  # (M, n_train)
    realized = (  # (M,) realised rate on the samples trained on
        mask_all.mean(1)
        if u.val_frac > 0
        else np.concatenate([nz.realized_rate for nz in per_rate])
    )
    init_seeds = [1000 * u.seed + s for _, s in pairs]  # same init for a seed
    model = build_classifier(u.model, ds, init_seeds, width=u.width, depth=u.depth)

    params = dict(u.optimizer_params)
    tracker = None
    if u.optimizer in PERTURBING:
        tracker = DirectionTracker()
        params["track"] = tracker

    def log_directions(epoch: int, _model: Any, hist: Any) -> None:
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
        optimizer=u.optimizer,
        optimizer_params=params,
        lr=u.lr,
        weight_decay=u.weight_decay,
        schedule=u.schedule,
        epochs=u.epochs,
        batch_size=u.batch_size,
        seed=init_seeds,
        eval_every=u.eval_every,
        noisy_mask=mask,
        eval_sets=eval_sets,
        callbacks=[log_directions],
        augment=u.augment,
        device=u.device,
        progress=False,
    )
    lam, sharp = probes(u, model, ds, labels)

    def mean_of(name: str) -> np.ndarray:
        """Per-member mean over evaluation windows of metric ``name``: (M,)."""
        if name not in hist.metrics:
            return np.full(len(pairs), np.nan)
        a = hist.metrics[name]
        return np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in a])

    best, last = hist.best("test/acc"), hist.last("test/acc")
    mem = hist.last("noisy/acc_noisy") if "noisy/acc_noisy" in hist.metrics else None
    cos, var = mean_of("dir/cos_consecutive"), mean_of("dir/variance")
    val_last = hist.last("val/acc") if eval_sets else np.full(len(pairs), np.nan)
    test = hist["test/acc"]  # (M, E)
    members = []
    for i, (r, s) in enumerate(pairs):
        j = nan_argmax(test[i])
        members.append(
            Member(
                noise=r,
                seed=s,
                realized_rate=realized[i],
                best_test_acc=best[i],
                last_test_acc=last[i],
                best_epoch=None if j is None else hist.epochs[j],
                memorised_last=mem[i] if mem is not None and r > 0 else float("nan"),
                clean_train_acc_last=hist.last("clean/acc")[i],
                hessian_top=lam[i],
                m_sharpness=sharp[i],
                dir_cos=cos[i],
                dir_variance=var[i],
                diverged_epoch=hist.diverged[i][0] if i in hist.diverged else None,
                val_last_acc=float(val_last[i]) if eval_sets else None,
            )
        )
    result = UnitResult(
        dataset=u.dataset,
        method=u.method,
        optimizer=u.optimizer,
        optimizer_params=u.optimizer_params,
        n_train=ds.n_train,
        n_test=ds.n_test,
        epochs=u.epochs,
        members=members,
        metrics=metric_rows(hist, STORED_METRICS),
    )
    return jsonable(result.to_dict())
