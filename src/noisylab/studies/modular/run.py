"""What the ``modular`` study runs: one ensemble per hidden width, then each member's analysis.

A unit trains ``modular2`` networks full-batch with AdamW, one member per (noise rate,
seed), all on one train/test split. Each trained member is then taken apart: its raw
accuracies; the frequency-extracted network G and its residual R; the partition
subnetworks by IPR and by strength; inference-time activation swaps; the epochs at which
the noisy subset is memorised and the clean subset fitted; its spectra, IPR histogram and
pruning curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import IPR_BINS, SUBSETS, TRACKED, Config
from .records import MemberResult, Unit, UnitResult

#: the epochs of reaching half accuracy are reported beside those of reaching the threshold.
HALF = 0.5


def units(config: Config) -> list[dict[str, Any]]:
    """One unit per width; members are noise rate × seed (rate-major)."""
    return [Unit.from_config(config, w).to_dict() for w in config.widths]


def crossing_epoch(epochs: list[int] | np.ndarray, values: np.ndarray, thr: float) -> float | None:
    """First epoch at which ``values`` reaches ``thr``, linearly interpolated between evaluations.

    Before the first evaluation the curve is taken to start at (0, 0). ``None`` if never.

    Examples
    --------
    >>> crossing_epoch([10, 20, 30], np.array([0.2, 0.6, 1.0]), 0.9)
    27.5
    >>> crossing_epoch([10, 20], np.array([0.1, 0.5]), 0.9) is None
    True
    """
    e = np.concatenate([[0.0], np.asarray(epochs, dtype=float)])
    v = np.concatenate([[0.0], np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)])
    above = np.nonzero(v >= thr)[0]
    if not above.size:
        return None
    j = int(above[0])
    if j == 0:
        return 0.0
    return float(e[j - 1] + (thr - v[j - 1]) / (v[j] - v[j - 1]) * (e[j] - e[j - 1]))


def _scores(net: Any, task: Any, labels: Any, masks: Any) -> dict[str, list[float]]:
    """Accuracies of every member on clean-train, noisy-train (vs noisy / true) and test."""
    from noisylab.modular import predict, score_predictions

    d = task.data
    pred = predict(net, d.x_train)  # (M, n)
    test = score_predictions(predict(net, d.x_test), d.y_test)
    out = {
        "clean": score_predictions(pred, d.y_train, ~masks),
        "noisy": score_predictions(pred, labels, masks),
        "noisy_true": score_predictions(pred, d.y_train, masks),
        "test": test,
    }
    return {k: v.tolist() for k, v in out.items()}


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Train one width's ensemble (members = rates × seeds) and analyse every member."""
    from noisylab.modular import ModularMLP, make_task, member_labels, neuron_scores
    from noisylab.train import fit

    u = Unit.from_dict(unit)
    task = make_task(
        p=u.p, op=u.op, train_fraction=u.train_fraction, noise=u.noise, seed=u.split_seed
    )
    combos = u.combos
    base = 1000 * u.split_seed
    model_seeds = [base + 10 * i + s for i, (_, s) in enumerate(combos)]
    noise_seeds = [base + 500 + 10 * i + s for i, (_, s) in enumerate(combos)]
    labels, masks = member_labels(task, [r for r, _ in combos], noise_seeds)  # (M, n) each
    model = ModularMLP(model_seeds, p=u.p, width=u.width, activation=u.activation)
    snapshots: list[dict[str, Any]] = []

    def snapshot(epoch: int, net: Any, _hist: Any) -> None:
        if epoch in u.checkpoints:
            snapshots.extend(_snapshot(u, net, task, labels, masks, epoch))

    hist = fit(
        model,
        task.data,
        labels,
        noisy_mask=masks,
        loss=u.loss,
        optimizer="adamw",
        lr=u.lr,
        weight_decay=u.weight_decay,
        optimizer_params={"betas": tuple(u.betas)},
        schedule="constant",
        epochs=u.epochs,
        batch_size=None,
        eval_every=u.eval_every,
        seed=model_seeds,
        device=u.device,
        progress=False,
        callbacks=[snapshot] if u.checkpoints else [],
    )
    model = model.cpu()
    epochs = [int(e) for e in hist.epochs]
    metrics = []
    for name in TRACKED:
        if name not in hist.metrics:
            continue
        values = hist.metrics[name]  # (M, E)
        for i in range(len(combos)):
            for j, e in enumerate(epochs):
                metrics.append([i, e, name, float(values[i, j])])

    scores, parts = _subnetworks(u, model, task, labels, masks)
    pruning = _pruning(u, model, task, labels, masks)
    ipr = neuron_scores(model, "ipr", u.op)  # (M, N)
    members = [
        _member(u, model, hist, epochs, i, rate, s, masks, scores, parts, pruning, ipr[i])
        for i, (rate, s) in enumerate(combos)
    ]
    return UnitResult(
        width=u.width,
        p=u.p,
        activation=u.activation,
        epochs=epochs,
        partition_grid=list(u.partition_grid),
        members=members,
        diverged={str(k): list(v) for k, v in hist.diverged.items()},
        metrics=metrics,
        snapshots=snapshots,
    ).to_dict()


def _snapshot(
    u: Unit, model: Any, task: Any, labels: Any, masks: Any, epoch: int
) -> list[dict[str, Any]]:
    """The claims' numbers for every member at ``epoch`` (one dict per member).

    Raw, frequency-extracted (G) and top-``partition_k`` partition test accuracies, the raw
    network's noisy-subset accuracy (vs noisy labels) and the mean neuron IPR; computed on a
    CPU copy, so training is untouched.
    """
    import copy

    from noisylab.modular import frequency_extract, neuron_scores, partition

    net = copy.deepcopy(model).cpu().eval()
    nets = {"raw": net, "G": frequency_extract(net, u.op, keep_mu=u.keep_mu)[0]}
    for score in ("strength", "ipr"):
        nets[f"part_{score}"] = partition(net, score=score, k=u.partition_k, op=u.op).general
    acc = {name: _scores(n, task, labels, masks) for name, n in nets.items()}
    ipr = neuron_scores(net, "ipr", u.op).mean(-1)  # (M,)
    out = []
    for i in range(len(u.combos)):
        out.append(
            {
                "member": i,
                "epoch": int(epoch),
                "raw_test": acc["raw"]["test"][i],
                "raw_noisy": acc["raw"]["noisy"][i],
                "G_test": acc["G"]["test"][i],
                "part_strength_test": acc["part_strength"]["test"][i],
                "part_ipr_test": acc["part_ipr"]["test"][i],
                "ipr_mean": float(ipr[i]),
            }
        )
    return out


def _subnetworks(
    u: Unit, model: Any, task: Any, labels: Any, masks: Any
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, Any]]]:
    """Every derived network's accuracies (raw, G, R, G_mu, partitions, activation swaps),
    and the partitions' test accuracy over the grid of kept fractions."""
    from noisylab.modular import frequency_extract, partition, swap_activation

    op = u.op
    nets = {"raw": model}
    nets["G"], nets["R"] = frequency_extract(model, op, keep_mu=u.keep_mu)
    nets["G_mu"], _ = frequency_extract(model, op, keep_mu=not u.keep_mu)
    parts = {}
    for score in ("ipr", "strength"):
        part = partition(model, score=score, k=u.partition_k, op=op)
        nets[f"part_{score}"] = part.general
        nets[f"mem_{score}"] = part.memory
        grid = []
        for k in u.partition_grid:
            sub = partition(model, score=score, k=float(k), op=op).general
            grid.append(_scores(sub, task, labels, masks)["test"])
        parts[score] = {"k": list(u.partition_grid), "test": np.array(grid).T.tolist()}
    for act in u.swap_activations:
        if act != u.activation:
            nets[f"swap_{act}"] = swap_activation(model, act)
    scores = {name: _scores(net, task, labels, masks) for name, net in nets.items()}
    return scores, parts


def _pruning(
    u: Unit, model: Any, task: Any, labels: Any, masks: Any
) -> dict[str, dict[str, dict[str, Any]]]:
    """Accuracy curves while neurons are removed by IPR / strength, ascending and descending."""
    from noisylab.modular import pruning_curve

    d = task.data
    sets = {
        "clean": (d.x_train, d.y_train, ~masks),
        "noisy": (d.x_train, labels, masks),
        "test": (d.x_test, d.y_test),
    }
    pruning: dict[str, dict[str, dict[str, Any]]] = {}
    for score in ("ipr", "strength"):
        pruning[score] = {}
        for order, rev in (("ascending", False), ("descending", True)):
            c = pruning_curve(model, sets, score, u.op, u.pruning_steps, reverse=rev)
            pruning[score][order] = {k: np.asarray(v).tolist() for k, v in c.items()}
    return pruning


def _member(
    u: Unit,
    model: Any,
    hist: Any,
    epochs: list[int],
    i: int,
    rate: float,
    s: int,
    masks: Any,
    scores: dict[str, dict[str, list[float]]],
    parts: dict[str, dict[str, Any]],
    pruning: dict[str, dict[str, dict[str, Any]]],
    ipr: np.ndarray,  # (N,) this member's neuron IPRs
) -> MemberResult:
    """Member ``i``'s slice of the ensemble's analyses, plus its own Fourier statistics."""
    from noisylab.modular.fourier import (
        dominant_frequency,
        neuron_spectra,
        phase_residual,
        strength,
    )

    thr = u.threshold
    a, b, w = model.neuron_vectors(i, u.op)  # (N, L) each
    freq = dominant_frequency(a, b, w)  # (N,)
    st = strength(a, b, w, u.activation)  # (N,)
    spec = neuron_spectra(a, b, w)  # (N, F)
    spec = spec / np.maximum(spec.sum(-1, keepdims=True), 1e-30)
    residual = np.abs(phase_residual(a, b, w, freq, u.op))
    top = np.argsort(-st)[: max(1, len(st) // 10)]  # strongest 10% of neurons
    fh = np.bincount(freq, weights=st, minlength=spec.shape[-1])
    noisy_curve = hist.metrics.get("noisy/acc_noisy")
    clean_curve = hist.metrics["clean/acc"][i]
    e_noisy: dict[float, float | None] = {t: None for t in (HALF, thr)}
    if noisy_curve is not None and rate > 0:
        e_noisy = {t: crossing_epoch(epochs, noisy_curve[i], t) for t in (HALF, thr)}
    e_clean = {t: crossing_epoch(epochs, clean_curve, t) for t in (HALF, thr)}
    lead = None
    if noisy_curve is not None and rate > 0:
        lead = float(np.nanmax(noisy_curve[i] - clean_curve))
    return MemberResult(
        member=i,
        rate=rate,
        seed=s,
        realized_rate=float(masks[i].double().mean()),
        acc={name: {k: sc[k][i] for k in SUBSETS} for name, sc in scores.items()},
        partition_grid={k: parts[k]["test"][i] for k in parts},
        memorised_epoch=e_noisy[thr],
        fit_epoch=e_clean[thr],
        memorised_epoch_50=e_noisy[HALF],
        fit_epoch_50=e_clean[HALF],
        max_lead=lead,
        ipr_hist=np.histogram(ipr, bins=IPR_BINS, range=(0.0, 1.0))[0].tolist(),
        ipr_mean=float(ipr.mean()),
        spectrum=spec.mean(0).tolist(),
        freq_strength=(fh / max(fh.sum(), 1e-30)).tolist(),
        top_frequencies=np.argsort(-fh)[:5].tolist(),
        phase_residual_top=float(np.median(residual[top])),
        pruning={
            sc: {o: {k: (c[k] if k == "removed" else c[k][i]) for k in c} for o, c in d2.items()}
            for sc, d2 in pruning.items()
        },
    )
