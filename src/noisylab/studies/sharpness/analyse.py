"""Stored results of the ``sharpness`` study → ``results.csv``, ``table.md``, figures, claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noisylab.studies.base import (
    Claim,
    claims_markdown,
    jsonable,
    markdown_table,
    write_csv,
    write_lines,
)
from noisylab.studies.common import check_unit_results, mean_std_cell

from . import claims as claims_mod
from .config import NAME, PAPER, TITLE, Config, parse_method
from .figures import accuracy_figure, direction_figure
from .records import Groups, Member, UnitResult
from .tuning import main_groups, sweep_groups, tuned_groups, unit_rho

#: columns of ``results.csv``, one row per (dataset, η, method, seed).
RESULT_FIELDS = (
    "dataset",
    "noise",
    "optimizer",
    "rho",
    "epochs",
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
    "val_last_acc",
)


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    """Write results.csv, table.md, figures/ and evaluate the claims (no training)."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    check_unit_results(NAME, results)
    parsed = [UnitResult.from_dict(r) for r in results]
    epochs_of = {ds: config.epochs.get(ds, 20) for ds in config.datasets}
    rows: list[tuple[UnitResult, Member]] = [(res, m) for res in parsed for m in res.members]
    rows.sort(
        key=lambda t: (
            t[0].dataset,
            t[1].noise,
            -(t[0].epochs or epochs_of.get(t[0].dataset, 20)),
            config.methods.index(t[0].method) if t[0].method in config.methods else 99,
            unit_rho(t[0]) or 0.0,
            t[1].seed,
        )
    )
    csv_rows = []
    for res, m in rows:
        row = {
            "dataset": res.dataset,
            "optimizer": res.method,
            "rho": unit_rho(res),
            "epochs": res.epochs or epochs_of.get(res.dataset, 20),
            **m.to_dict(),
        }
        csv_rows.append(jsonable({k: row.get(k) for k in RESULT_FIELDS}))
    write_csv(out / "results.csv", csv_rows)

    sweep = sweep_groups(parsed, epochs_of)
    by_budget, selection = tuned_groups(sweep, default_rho=config.rho)
    groups = main_groups(by_budget, epochs_of)
    context = claims_mod.Context(sweep=sweep, by_budget=by_budget, selection=selection)
    claims = claims_mod.evaluate(config, groups, context)
    write_table(config, groups, claims, out / "table.md")
    accuracy_figure(config, groups, out / "figures" / "accuracy_vs_noise.png")
    # direction curves: one result per (dataset, method), preferring the main budget and
    # the configured ρ (a ρ grid and epoch budgets give several)
    curves: dict[tuple[str, str], UnitResult] = {}
    for res in sorted(
        parsed,
        key=lambda r: (
            (r.epochs or epochs_of.get(r.dataset, 20)) == epochs_of.get(r.dataset, 20),
            unit_rho(r) in (None, config.rho, config.asam_rho),
        ),
    ):
        curves[(res.dataset, res.method)] = res  # the preferred result comes last
    direction_figure(config, curves, out / "figures" / "direction_stability.png")
    return claims


def _cell(members: list[Member], field: str, pct: bool = True, digits: int = 1) -> str:
    return mean_std_cell(
        [getattr(m, field) for m in members], scale=100.0 if pct else 1.0, digits=digits
    )


def write_table(config: Config, groups: Groups, claims: list[Claim], path: Path) -> None:
    """``table.md``: accuracy, memorisation, sharpness and direction tables, then the claims."""
    methods = claims_mod.methods_present(config, groups)
    rates = claims_mod.noise_rates(groups)
    header = ["method", *[f"η={r:g}" for r in rates]]
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
        lines.append(markdown_table(header, body))
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
        lines.append(markdown_table(header, body))
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
        lines.append(markdown_table(header, body))
    lines += claims_markdown(claims)
    write_lines(path, lines)
