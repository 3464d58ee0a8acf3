"""The confident-learning baseline of the ``losses`` study (``cleanlab+ce``).

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021): out-of-sample ``pred_probs`` from
K-fold cross-validation with CE models trained by our engine, ``cleanlab.filter.
find_label_issues`` flags likely label errors, and CE trains on the samples it keeps. Every
seed has its own noise realisation, folds' models and filtered set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from noisylab.studies.common import metric_rows

from .config import CLEANLAB, STORED_METRICS
from .records import Member, Unit
from .run import build, fit_kwargs, logit_scale, summaries


def run_cleanlab(
    unit: Unit,
    ds: Any,
    tr: np.ndarray,
    va: np.ndarray,
    noisy: np.ndarray,
    is_noisy: np.ndarray,
    offset: int,
) -> tuple[list[Member], list[list[Any]], dict[str, list[float | None]]]:
    """K-fold out-of-sample pred_probs → find_label_issues → CE on the rest, per seed.

    ``tr``/``va`` index the training set's train and validation parts; ``noisy`` and
    ``is_noisy`` are the (S, n) noisy labels and their mask. Returns the members (numbered
    from ``offset`` in the metric rows), their metric rows and the filter's per-seed
    removed fraction, precision (flagged samples truly noisy) and recall.
    """
    import torch

    from noisylab._optional import require
    from noisylab.train import fit

    require("cleanlab", "cleanlab")
    from cleanlab.filter import find_label_issues

    seeds = list(range(unit.seeds))
    n_tr = len(tr)
    k = int(ds.num_classes)
    x_tr, y_tr = ds.x_train[tr], ds.y_train[tr]
    folds = np.array_split(np.random.default_rng([unit.seed, 7]).permutation(n_tr), unit.cv_folds)
    pred = np.zeros((len(seeds), n_tr, k))  # (S, n_tr, K)
    cv_seeds = [unit.seed * 1000 + 500 + s for s in seeds]
    for f, hold in enumerate(folds):
        keep = np.setdiff1d(np.arange(n_tr), hold)
        fold_ds = ds.replace(x_train=x_tr[keep], y_train=y_tr[keep])
        model = build(unit, ds, [c + 50 * f for c in cv_seeds])
        fit(
            model,
            fold_ds,
            torch.as_tensor(noisy[:, tr][:, keep]),
            loss="ce",
            epochs=unit.cv_epochs,
            seed=[c + 50 * f for c in cv_seeds],
            eval_every=unit.cv_epochs,
            **fit_kwargs(unit),
        )
        with torch.no_grad():
            pred[:, hold] = torch.softmax(model(x_tr[hold]).double(), -1).cpu().numpy()
    members: list[Member] = []
    metrics: list[list[Any]] = []
    filt: dict[str, list[float | None]] = {"removed": [], "precision": [], "recall": []}
    for s in seeds:
        labels_s = noisy[s, tr]
        flagged = np.asarray(
            find_label_issues(labels=labels_s, pred_probs=pred[s], n_jobs=1), dtype=bool
        )  # n_jobs=1: cleanlab's own process pool fails inside sweep workers
        truth = is_noisy[s, tr]
        kept = np.flatnonzero(~flagged)
        filt["removed"].append(float(flagged.mean()))
        filt["precision"].append(float(truth[flagged].mean()) if flagged.any() else float("nan"))
        filt["recall"].append(float(flagged[truth].mean()) if truth.any() else float("nan"))
        sub = ds.replace(x_train=x_tr[kept], y_train=y_tr[kept])
        member_seed = [unit.seed * 1000 + s]
        model = build(unit, ds, member_seed)
        hist = fit(
            model,
            sub,
            torch.as_tensor(labels_s[kept]),
            loss="ce",
            epochs=unit.epochs,
            seed=member_seed,
            eval_every=unit.eval_every,
            noisy_mask=torch.as_tensor(truth[kept]),
            eval_sets={"val": (ds.x_train[va], torch.as_tensor(noisy[s, va]))},
            **fit_kwargs(unit),
        )
        rows = metric_rows(hist, STORED_METRICS, offset + len(members))
        members.append(
            Member(
                family=CLEANLAB,
                variant=CLEANLAB,
                loss="ce",
                params={},
                seed=s,
                realized_rate=float(truth.mean()),
                logit_scale=logit_scale(model, ds.x_test)[0],
                removed_frac=float(flagged.mean()),
                **summaries(hist)[0],
            )
        )
        metrics += rows
    return members, metrics, filt
