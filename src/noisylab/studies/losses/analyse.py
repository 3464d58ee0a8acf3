"""Stored results of the ``losses`` study → hyper-parameter selection on the noisy validation
split, ``results.csv``, ``candidates.csv``, ``table.md``, the figure and the claims."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.studies.base import (
    Claim,
    claims_markdown,
    jsonable,
    markdown_table,
    write_csv,
    write_lines,
)
from noisylab.studies.common import check_unit_results, mean_std_cell, nan_mean

from . import claims as claims_mod
from .config import CLEANLAB, NAME, PAPER, RAW_UNHINGED, TITLE, Config
from .figures import accuracy_figure
from .records import (
    Candidate,
    Chosen,
    Curves,
    FamilyStats,
    Key,
    Member,
    Selection,
    StatsTable,
    UnitResult,
)


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    """Select hyper-parameters on the noisy validation split, write tables, figure and claims."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    check_unit_results(NAME, results)
    parsed = [UnitResult.from_dict(r) for r in results]
    rows = [Candidate(res.dataset, res.noise, res.lr, m) for res in parsed for m in res.members]
    filters = {(res.dataset, res.noise, res.lr): res.filter for res in parsed if res.filter}
    chosen = select(rows)
    families = [*config.losses, *([CLEANLAB] if config.cleanlab else [])]
    families += [RAW_UNHINGED] if config.raw_unhinged else []

    # results.csv: selected hyper-parameters only; candidates.csv: everything trained
    selected_rows = []
    for (ds, noise, fam), sel in sorted(chosen.items(), key=lambda kv: kv[0]):
        for m in sorted(sel.members, key=lambda m: m.seed):
            selected_rows.append(
                {
                    "dataset": ds,
                    "noise": noise,
                    "loss": fam,
                    "seed": m.seed,
                    "best_test_acc": m.best_test_acc,
                    "last_test_acc": m.last_test_acc,
                    "es_test_acc": m.es_test_acc,
                    "best_epoch": m.best_epoch,
                    "selected_lr": sel.lr,
                    "selected_params": json.dumps(sel.params, sort_keys=True),
                    "val_last_acc": m.val_last_acc,
                    "memorised_last": m.memorised_last,
                    "realized_rate": m.realized_rate,
                    "diverged_epoch": m.diverged_epoch,
                    "logit_scale": m.logit_scale,
                }
            )
    write_csv(out / "results.csv", [jsonable(r) for r in selected_rows])
    write_csv(
        out / "candidates.csv",
        [
            jsonable({**r.to_row(), "params": json.dumps(r.member.params, sort_keys=True)})
            for r in rows
        ],
    )

    stats = family_stats(chosen)
    claims = claims_mod.evaluate(config, chosen, stats, selected_curves(parsed, chosen))
    write_table(config, chosen, families, filters, claims, out / "table.md")
    accuracy_figure(config, stats, families, out / "figures" / "accuracy_vs_noise.png")
    return claims


def select(rows: list[Candidate]) -> Chosen:
    """Pick (lr, params) per (dataset, noise, family) by mean last-epoch *noisy* val accuracy.

    A candidate with a diverged seed (val accuracy ``None``) counts that seed as 0 accuracy.
    Ties go to the first candidate in (lr, params) order. Test accuracy is never looked at.
    """
    groups: dict[tuple[str, str, str], dict[str, list[Member]]] = {}
    for r in rows:
        key = (r.dataset, r.noise, r.member.family)
        cand = json.dumps({"lr": r.lr, "params": r.member.params}, sort_keys=True)
        groups.setdefault(key, {}).setdefault(cand, []).append(r.member)
    out: Chosen = {}
    for key, cands in groups.items():
        best: Selection | None = None
        for cand in sorted(cands, key=lambda c: (json.loads(c)["lr"], c)):
            members = cands[cand]
            vals = [0.0 if m.val_last_acc is None else float(m.val_last_acc) for m in members]
            score = float(np.mean(vals))
            if best is None or score > best.val:
                c = json.loads(cand)
                best = Selection(lr=c["lr"], params=c["params"], val=score, members=members)
        assert best is not None
        out[key] = best
    return out


def family_stats(chosen: Chosen) -> StatsTable:
    """Mean over seeds of best/last/early-stopped test accuracy of the selected variants."""
    out: StatsTable = {}
    for key, sel in chosen.items():
        ms = sel.members
        out[key] = FamilyStats(
            best=nan_mean([m.best_test_acc for m in ms]),
            last=nan_mean([m.last_test_acc for m in ms]),
            es=nan_mean([m.es_test_acc for m in ms]),
            memorised=nan_mean([m.memorised_last for m in ms]),
            diverged=sum(m.diverged_epoch is not None for m in ms),
            logit_scale=nan_mean([m.logit_scale for m in ms]),
            seeds=len(ms),
            clean_train=nan_mean([m.clean_train_acc_last for m in ms]),
        )
    return out


def selected_curves(results: list[UnitResult], chosen: Chosen) -> Curves:
    """Mean clean test accuracy per evaluated epoch of each selected (dataset, noise, family):
    the members of the selected lr and parameters, from the stored per-epoch metrics."""
    sums: dict[Key, dict[int, list[float]]] = {}
    for res in results:
        picked: dict[int, Key] = {}
        for i, m in enumerate(res.members):
            key = (res.dataset, res.noise, m.family)
            sel = chosen.get(key)
            if sel is not None and sel.lr == res.lr and sel.params == m.params:
                picked[i] = key
        for member, epoch, name, value in res.metrics:
            if name == "test/acc" and member in picked and value is not None:
                sums.setdefault(picked[member], {}).setdefault(int(epoch), []).append(value)
    return {k: {ep: float(np.mean(v)) for ep, v in sorted(c.items())} for k, c in sums.items()}


def _pct(v: float) -> str:
    return "—" if math.isnan(v) else f"{100 * v:.1f}"


def _cell(members: list[Member], field: str) -> str:
    values = [getattr(m, field) for m in members]
    return mean_std_cell(values, empty="diverged", missing="diverged")


def write_table(
    config: Config,
    chosen: Chosen,
    families: list[str],
    filters: dict[tuple[str, str, float], dict[str, list[float | None]]],
    claims: list[Claim],
    path: Path,
) -> None:
    """``table.md``: best / last accuracy and the selected hyper-parameters per dataset, the
    cleanlab filter's quality, then the claims."""
    lines = [f"# {TITLE}\n", f"Paper: {PAPER}\n"]
    lines.append(
        "Clean test accuracy (%), mean ± std over seeds, **best epoch / last epoch**, for the "
        "hyper-parameters selected on the noisy validation split.\n"
    )
    header = ["loss", *config.noise]
    for ds in config.datasets:
        lines.append(f"\n## {ds}\n")
        body, hp = [], []
        for fam in families:
            cells, hp_cells = [], []
            for noise in config.noise:
                sel = chosen.get((ds, noise, fam))
                if sel is None:
                    cells.append("—")
                    hp_cells.append("—")
                    continue
                ms = sel.members
                cells.append(f"{_cell(ms, 'best_test_acc')} / {_cell(ms, 'last_test_acc')}")
                p = ", ".join(f"{k}={v}" for k, v in sel.params.items() if k != "logit_norm")
                hp_cells.append(f"{sel.lr:g}" + (f"; {p}" if p else ""))
            body.append([fam, *cells])
            hp.append([fam, *hp_cells])
        lines.append(markdown_table(header, body))
        lines.append("\nSelected hyper-parameters (lr; loss parameters):\n")
        lines.append(markdown_table(header, hp))
        if filters:
            lines.append("\nConfident-learning filter (mean over seeds, at the selected lr):\n")
            fr = []
            for noise in config.noise:
                cl = chosen.get((ds, noise, CLEANLAB))
                f = filters.get((ds, noise, cl.lr)) if cl else None
                if f:
                    fr.append(
                        [
                            noise,
                            _pct(nan_mean(f["removed"])),
                            _pct(nan_mean(f["precision"])),
                            _pct(nan_mean(f["recall"])),
                        ]
                    )
            lines.append(markdown_table(["noise", "removed %", "precision %", "recall %"], fr))
    lines += claims_markdown(claims)
    write_lines(path, lines)
