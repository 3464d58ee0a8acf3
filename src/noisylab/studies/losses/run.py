"""The ``losses`` study's units and how one unit trains (no I/O).

One unit = one (dataset, noise, lr). Member ``i`` of the stacked ensemble is variant
``i // S`` with seed ``i % S`` (S seeds); seed s has its own noise realisation, shared by
every loss (paired comparisons), and the same initialisation for every loss.
"""

from __future__ import annotations

import itertools
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

from .config import PER_DATASET, RAW_UNHINGED, STORED_METRICS, Config
from .records import Member, Unit, UnitResult, Variant


def variants(config: Config) -> list[Variant]:
    """The loss variants trained in every unit: one per point of each loss's ``loss_grid``.

    >>> [v.label for v in variants(Config(losses=["ce", "sgce"], raw_unhinged=False))]
    ['ce', 'sgce(q=0.2)', 'sgce(q=0.5)']
    """
    out = []
    for name in config.losses:
        grid = config.loss_grid.get(name, {})
        keys = sorted(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, combo))
            label = name + (
                "(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")" if params else ""
            )
            out.append(Variant(family=name, loss=name, params=params, label=label))
    if config.raw_unhinged:
        out.append(
            Variant(
                family=RAW_UNHINGED,
                loss="unhinged",
                params={"logit_norm": None},
                label=RAW_UNHINGED,
            )
        )
    return out


def make_units(config: Config) -> list[Unit]:
    """One :class:`Unit` per (dataset, noise, lr); all loss variants × seeds are its members."""
    vs = variants(config)
    for ds in config.datasets:
        human = any(map(is_human, config.for_dataset(ds, "noise")))
        check_data_files([ds], config.data_dir, human=human)
    pairs = [(ds, config.models.get(ds, "mlp")) for ds in config.datasets]
    check_pairs(pairs, data_dir=config.data_dir, width=config.width, depth=config.depth)
    out = []
    for ds in config.datasets:
        model = config.models.get(ds, "mlp")
        per = {key: config.for_dataset(ds, key) for key in PER_DATASET}
        for spec in per["noise"]:
            for lr in per["lrs"]:
                out.append(
                    Unit(
                        dataset=ds,
                        model=model,
                        noise=spec,
                        lr=lr,
                        seed=config.seed,
                        device=config.device,
                        n_train=config.n_train,
                        n_test=config.n_test,
                        val_frac=config.val_frac,
                        variants=vs,
                        seeds=config.seeds,
                        epochs=per["epochs"],
                        batch_size=config.batch_size,
                        eval_every=config.eval_every,
                        optimizer=config.optimizer,
                        width=config.width,
                        depth=config.depth,
                        cleanlab=config.cleanlab,
                        cv_folds=config.cv_folds,
                        cv_epochs=config.cv_epochs,
                        data_dir=config.data_dir,
                        weight_decay=per["weight_decay"],
                        momentum=per["momentum"],
                        clip_grad=per["clip_grad"],
                        augment=per["augment"],
                    )
                )
    return out


def units(config: Config) -> list[dict[str, Any]]:
    """The units of :func:`make_units` as the store's JSON dicts."""
    return [u.to_dict() for u in make_units(config)]


def split(n: int, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, val) indices of the training set; val is ⌊val_frac·n⌉ samples.

    >>> tr, va = split(10, 0.2, seed=0)
    >>> len(tr), len(va), sorted([*tr, *va]) == list(range(10))
    (8, 2, True)
    """
    perm = np.random.default_rng([seed, 2024]).permutation(n)
    n_val = max(1, round(val_frac * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fit_kwargs(unit: Unit) -> dict[str, Any]:
    """The engine settings every model of a unit trains with (cosine schedule)."""
    out: dict[str, Any] = {
        "optimizer": unit.optimizer,
        "lr": unit.lr,
        "schedule": "cosine",
        "batch_size": unit.batch_size,
        "progress": False,
        "device": unit.device,
    }
    if unit.weight_decay:
        out["weight_decay"] = unit.weight_decay
    if unit.momentum is not None:
        out["optimizer_params"] = {"momentum": unit.momentum}
    if unit.clip_grad is not None:
        out["clip_grad"] = unit.clip_grad
    if unit.augment is not None:
        out["augment"] = unit.augment
    return out


def is_human(spec: str) -> bool:
    """Whether noise ``spec`` is a CIFAR-N human kind (it needs the human labels loaded).

    >>> is_human("cifar10n:worse"), is_human("symmetric:0.4")
    (True, False)
    """
    from noisylab.noise import HUMAN_KINDS, parse_spec

    return parse_spec(spec)[0] in HUMAN_KINDS


def build(unit: Unit, ds: Any, seeds: list[int]) -> Any:
    """The unit's classifier, one member per seed."""
    return build_classifier(unit.model, ds, seeds, width=unit.width, depth=unit.depth)


def logit_scale(model: Any, x: Any) -> np.ndarray:
    """Mean Euclidean norm of the centred logits per member on ``x``: (M,)."""
    import torch

    with torch.no_grad():
        z = model(x)  # (M, n, K)
        c = z - z.mean(-1, keepdim=True)
        return c.norm(dim=-1).mean(-1).double().cpu().numpy()


def summaries(hist: Any) -> list[dict[str, Any]]:
    """Per member: best/last test accuracy, early-stopped (best noisy val) accuracy, and more."""
    best = hist.best("test/acc")
    last = hist.last("test/acc")
    val = hist["val/acc"]  # (M, E)
    test = hist["test/acc"]  # (M, E)
    out = []
    for m in range(hist.members):
        j_val, j_test = nan_argmax(val[m]), nan_argmax(test[m])
        out.append(
            {
                "best_test_acc": best[m],
                "last_test_acc": last[m],
                "best_epoch": None if j_test is None else hist.epochs[j_test],
                "es_test_acc": float("nan") if j_val is None else float(test[m, j_val]),
                "es_epoch": None if j_val is None else hist.epochs[j_val],
                "val_last_acc": hist.last("val/acc")[m],
                "val_best_acc": hist.best("val/acc")[m],
                "memorised_last": hist.last("noisy/acc_noisy")[m]
                if "noisy/acc_noisy" in hist.metrics
                else float("nan"),
                "clean_train_acc_last": hist.last("clean/acc")[m],
                "diverged_epoch": hist.diverged[m][0] if m in hist.diverged else None,
            }
        )
    return out


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train every loss variant × seed of one (dataset, noise, lr) as one ensemble."""
    import torch

    from noisylab.losses import PerMember, get
    from noisylab.train import fit
    from noisylab.train.noisy_labels import member_noise

    from .confident import run_cleanlab

    u = Unit.from_dict(unit)
    ds = load_for_model(
        u.dataset,
        u.model,
        seed=u.seed,
        n_train=u.n_train,
        n_test=u.n_test,
        data_dir=u.data_dir,
        human_labels=is_human(u.noise),
    )
    seeds = list(range(u.seeds))
    realisations = member_noise(ds, u.noise, [10_000 * u.seed + s for s in seeds])
    tr, va = split(ds.n_train, u.val_frac, u.seed)
    noisy = realisations.labels  # (S, n)
    is_noisy = realisations.is_noisy  # (S, n)
    train_ds = ds.replace(x_train=ds.x_train[tr], y_train=ds.y_train[tr])
    x_val = ds.x_train[va]
    realised = is_noisy[:, tr].mean(1)  # (S,)

    vs = u.variants
    n_s = len(seeds)
    member_seed = [u.seed * 1000 + s for _ in vs for s in seeds]  # same init per seed
    model = build(u, ds, member_seed)
    loss = PerMember(
        [get(v.loss, **v.params) for v in vs],
        [n_s] * len(vs),
        params=list(model.parameters()),
    )
    labels = np.concatenate([noisy[:, tr]] * len(vs))  # (V·S, n_tr)
    mask = np.concatenate([is_noisy[:, tr]] * len(vs))  # (V·S, n_tr)
    val_labels = np.concatenate([noisy[:, va]] * len(vs))  # (V·S, n_val)
    hist = fit(
        model,
        train_ds,
        torch.as_tensor(labels),
        loss=loss,
        epochs=u.epochs,
        seed=member_seed,
        eval_every=u.eval_every,
        noisy_mask=torch.as_tensor(mask),
        eval_sets={"val": (x_val, torch.as_tensor(val_labels))},
        **fit_kwargs(u),
    )
    scale = logit_scale(model, ds.x_test)
    members = []
    for i, row in enumerate(summaries(hist)):
        v, s = vs[i // n_s], seeds[i % n_s]
        members.append(
            Member(
                family=v.family,
                variant=v.label,
                loss=v.loss,
                params=v.params,
                seed=s,
                realized_rate=realised[s],
                logit_scale=scale[i],
                **row,
            )
        )
    metrics = metric_rows(hist, STORED_METRICS)
    filt: dict[str, list[float | None]] = {}
    if u.cleanlab:
        cl_members, cl_metrics, filt = run_cleanlab(u, ds, tr, va, noisy, is_noisy, len(members))
        members += cl_members
        metrics += cl_metrics
    result = UnitResult(
        dataset=u.dataset,
        noise=u.noise,
        lr=u.lr,
        n_train=len(tr),
        n_val=len(va),
        n_test=ds.n_test,
        members=members,
        filter=filt,
        metrics=metrics,
    )
    return jsonable(result.to_dict())
