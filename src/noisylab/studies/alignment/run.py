"""What the ``alignment`` study runs: its units, and one M-member ensemble per unit.

Every member of a unit shares the training inputs and the initialisation and trains on its
own noise realisation; alignment is measured between the members' representations of a
fixed probe set (linear CKA, mutual k-NN, CCA), next to their test error.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from noisylab.studies.common import member_rng, path_kwargs

from .config import Config, mlp_parameters
from .records import LinearResult, LinearUnit, MLPResult, MLPUnit, Unit, unit_from_dict

#: the tags of the members' seeded streams (:func:`noisylab.studies.base.member_rng`).
LINEAR_TARGET_NOISE, LABEL_FLIPS, MLP_TARGET_NOISE = 1, 2, 3


def units(config: Config) -> list[dict]:
    """One unit per (setting, noise level, n, seed); duplicates across sweeps run once."""
    c = config
    out: list[Unit] = []
    seen: set[Unit] = set()

    def add(u: Unit) -> None:
        if u not in seen:
            seen.add(u)
            out.append(u)

    for s in range(c.seeds):
        seed = c.seed * 1000 + s
        for snr in c.linear_snrs:
            for a in c.linear_alphas:
                add(
                    LinearUnit(
                        setting="linear",
                        level=float(snr),
                        n=c.linear_n(a),
                        seed=seed,
                        d=c.linear_d,
                        width=c.linear_width,
                        members=c.members,
                        probe=c.linear_probe,
                        max_steps=c.linear_max_steps,
                        weight_decay=c.linear_weight_decay,
                        k=c.knn_k,
                        device=c.device,
                    )
                )
        if not c.mlp:
            continue
        if s == 0:
            check_mlp_data(c)

        def mlp(setting: str, level: float, n: int, seed: int = seed) -> MLPUnit:
            return MLPUnit(
                setting=setting,
                level=float(level),
                n=n,
                seed=seed,
                width=c.mlp_width,
                members=c.members,
                steps=c.mlp_steps,
                lr=c.mlp_lr,
                k=c.knn_k,
                device=c.device,
                dataset=c.dataset,
                data_dir=c.data_dir,
            )

        for n in c.mlp_ns:
            add(mlp("mlp_classification", c.mlp_eta_n, n))
            add(mlp("mlp_regression", c.mlp_snr_n, n))
        for eta in c.mlp_etas:
            add(mlp("mlp_classification", eta, c.mlp_eta_sweep_n))
        for snr in c.mlp_snrs:
            add(mlp("mlp_regression", snr, c.mlp_snr_sweep_n))
    return [u.to_dict() for u in out]


def load_mlp_data(dataset: str, seed: int, n: int | None, data_dir: str | None) -> Any:
    """The MLP settings' data: ``dataset`` with ``n`` training samples, inputs flattened."""
    from noisylab import data

    ds = data.load(dataset, seed=seed, n_train=n, **path_kwargs(dataset, data_dir))
    if ds.num_classes is None:
        raise ValueError(f"the alignment study needs a classification dataset, {dataset!r} is not")
    if len(ds.feature_shape) > 1:
        d = int(np.prod(ds.feature_shape))
        ds = ds.replace(
            x_train=ds.x_train.reshape(len(ds.x_train), d),
            x_test=ds.x_test.reshape(len(ds.x_test), d),
            feature_shape=(d,),
        )
    return ds


def check_mlp_data(config: Config) -> None:
    """Raise ``ValueError`` unless ``config.dataset`` is a classification dataset whose
    training set holds the largest n of the MLP sweeps (checked before any work)."""
    ds = load_mlp_data(config.dataset, config.seed * 1000, None, config.data_dir)
    largest = config.mlp_max_n()
    if largest > ds.n_train:
        raise ValueError(
            f"the MLP n sweep reaches n = {largest} but {config.dataset} has {ds.n_train} "
            f"training samples; set mlp_ns, mlp_eta_sweep_n and mlp_snr_sweep_n to at most "
            f"{ds.n_train}"
        )


def run_unit(unit: dict) -> dict:
    """Train one M-member ensemble and measure its members' alignment and test error."""
    import torch

    torch.set_num_threads(1)
    t0 = time.process_time()
    u = unit_from_dict(unit)
    res = _run_linear(u, t0) if isinstance(u, LinearUnit) else _run_mlp(u, t0)
    return res.to_dict()


def _run_linear(u: LinearUnit, t0: float) -> LinearResult:
    from noisylab import data, noise, similarity
    from noisylab.similarity import theory

    n, d, M, snr = u.n, u.d, u.members, u.level
    ds = data.load("teacher", seed=u.seed, n_train=n, n_test=u.probe, d=d, task="regression")
    X = ds.x_train.double().numpy()  # (n, d)
    beta = np.asarray(ds.info["beta"])[:, 0]  # (d,)
    y = ds.y_train.double().numpy()  # (n,)
    # corrupt_targets defines SNR against the sample variance of y; rescale it so that the
    # noise has σ² = ‖β‖²/SNR exactly, the theory's population convention.
    snr_emp = snr * float(y.var()) / float(beta @ beta)
    draws = [
        noise.corrupt_targets(y, snr_emp, seed=member_rng(u.seed, m, LINEAR_TARGET_NOISE))
        for m in range(M)
    ]
    Y = np.stack([r.targets for r in draws])  # (M, n)
    sigma = float(draws[0].sigma)
    fit = theory.train_linear2(
        X,
        Y,
        ds.x_test.double().numpy(),
        width=u.width,
        weight_decay=u.weight_decay,
        max_steps=u.max_steps,
        seed=u.seed,
        device=u.device,
    )
    reps = fit.reps  # (M, P, width)
    cka = similarity.pairwise(reps, "linear_cka")
    iu = np.triu_indices(M, 1)
    knn = similarity.pairwise(reps, "mutual_knn", k=u.k, distance="euclidean")
    w = fit.weights.cpu().numpy()  # (M, d)
    return LinearResult(
        setting=u.setting,
        level=u.level,
        n=u.n,
        seed=u.seed,
        alpha=n / d,
        cka=cka.mean,
        cka_sd=float(cka.matrix[iu].std()),
        knn=knn.mean,
        test_err=float(np.mean(np.sum((w - beta) ** 2, axis=1)) / float(beta @ beta)),
        train_err=float(np.mean((w @ X.T - Y) ** 2)),
        theory=float(theory.cka_theory(snr, n / d)),
        theory_finite=theory.cka_finite_size(X, beta, sigma),
        threshold=float(d),
        steps=fit.steps,
        converged=fit.converged,
        cpu_s=time.process_time() - t0,
    )


def flip_labels(y: np.ndarray, k: int, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Symmetric label flips with an exact total: round(η·n) samples, each to another class.

    The samples are chosen uniformly without replacement and each gets a class drawn
    uniformly from the K − 1 others, so the realised rate is round(η·n)/n at every n. Chosen
    over ``noise.corrupt_labels(..., exact=True)``, which relabels ⌊η·n_c⌋ samples per class:
    at the small-n end of this study's n sweep (n = 25, 10 classes, η = 0.2, n_c ≈ 2–3) that
    floor is 0 and the members would train on identical, clean labels.

    Examples
    --------
    >>> y = np.arange(10)
    >>> int((flip_labels(y, 10, 0.3, np.random.default_rng(0)) != y).sum())
    3
    """
    y = np.asarray(y, dtype=np.int64)
    out = y.copy()
    idx = rng.permutation(len(y))[: round(eta * len(y))]
    out[idx] = (y[idx] + rng.integers(1, k, size=len(idx))) % k
    return out


def _run_mlp(u: MLPUnit, t0: float) -> MLPResult:
    import torch

    from noisylab import nn, noise, similarity, train

    M, n, seed = u.members, u.n, u.seed
    ds = load_mlp_data(u.dataset, seed, n, u.data_dir)
    k = int(ds.num_classes or 10)
    d_in = int(ds.feature_shape[0])
    classification = u.setting == "mlp_classification"
    if classification:
        y = ds.y_train.numpy()
        if u.level > 0:
            labels = np.stack(
                [flip_labels(y, k, u.level, member_rng(seed, m, LABEL_FLIPS)) for m in range(M)]
            )  # (M, n)
        else:
            labels = np.broadcast_to(y, (M, n)).copy()
        fit_ds, loss = ds, "ce"
    else:
        onehot = torch.nn.functional.one_hot(ds.y_train, k).float()  # (n, K)
        onehot_te = torch.nn.functional.one_hot(ds.y_test, k).float()
        fit_ds = ds.replace(y_train=onehot, y_test=onehot_te, task="regression", num_classes=None)
        draws = [
            noise.corrupt_targets(
                onehot.numpy(), u.level, seed=member_rng(seed, m, MLP_TARGET_NOISE)
            )
            for m in range(M)
        ]
        labels = np.stack([r.targets for r in draws]).astype(np.float32)  # (M, n, K)
        loss = "mse"
    model = nn.build(
        "mlp", members=M, seed=[seed] * M, in_features=d_in, out_features=k, width=u.width, depth=1
    )
    hist = train.fit(
        model,
        fit_ds,
        labels=labels,
        loss=loss,
        optimizer="adam",
        lr=u.lr,
        schedule="constant",
        epochs=u.steps,
        batch_size=None,
        eval_every=u.steps,
        seed=seed,
        device=u.device,
        progress=False,
    )
    assert isinstance(model, nn.EnsembleModule)
    with torch.no_grad():
        reps = model.representations(ds.x_test.to(u.device), ["hidden1"])["hidden1"]
    reps = reps.detach()  # (M, P, width): post-ReLU hidden layer on the 1000 test inputs
    cka = similarity.pairwise(reps, "linear_cka")
    iu = np.triu_indices(M, 1)
    last = {name: v[:, -1] for name, v in hist.metrics.items()}  # (M,) each
    if classification:
        test_err = float(1.0 - np.nanmean(last["test/acc"]))
        train_err = float(1.0 - np.nanmean(last["train/acc"]))
        mem = (
            float(np.nanmean(last["noisy/acc_noisy"]))
            if u.level > 0 and "noisy/acc_noisy" in last
            else float("nan")
        )
    else:
        test_err = float(np.nanmean(last["test/mse"]))
        train_err = float(np.nanmean(last["train/mse"]))
        mem = _noise_fitted(model, fit_ds, labels)
    params = mlp_parameters(u.width, d_in, k)
    return MLPResult(
        setting=u.setting,
        level=u.level,
        n=u.n,
        seed=u.seed,
        alpha=n / (params / k),
        cka=cka.mean,
        cka_sd=float(cka.matrix[iu].std()),
        knn=similarity.pairwise(reps, "mutual_knn", k=u.k, distance="euclidean").mean,
        cca=similarity.pairwise(reps, "cca").mean,
        test_err=test_err,
        train_err=train_err,
        memorisation=mem,
        threshold=params / k,
        diverged=len(hist.diverged),
        cpu_s=time.process_time() - t0,
    )


def _noise_fitted(model: Any, ds: Any, targets: np.ndarray) -> float:
    """Fraction of the target noise the members fit: ⟨f − y, ε⟩ / ‖ε‖², mean over members.

    With noisy targets y + ε, 1 means the fit interpolates the noise, 0 that it ignores it
    (the component of f − y along ε); unlike the training MSE it does not mix in the part
    of the clean signal the network cannot fit.
    """
    import torch

    with torch.no_grad():
        out = model(ds.x_train).double().cpu().numpy()  # (M, n, K)
    clean = ds.y_train.double().cpu().numpy()  # (n, K)
    eps = targets - clean  # (M, n, K)
    num = np.sum((out - clean) * eps, axis=(1, 2))
    den = np.sum(eps**2, axis=(1, 2))
    return float(np.mean(num / np.maximum(den, 1e-300)))
