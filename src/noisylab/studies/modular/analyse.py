"""From stored results to the ``modular`` study's outputs: the member table, table.md, claims.

``analyse`` never trains: it parses the stored results into records, flattens them into one
row per member (``results.csv``), averages cells over seeds for ``table.md`` (accuracies of
the raw, extracted, residual and partitioned networks; the activation swaps), draws the
figures and evaluates the four claims.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noisylab.studies.base import Claim, markdown_table, write_csv

from . import claims as C
from .config import TITLE, Config
from .figures import draw_figures
from .records import MemberTable, UnitResult

#: table.md's main columns: header → member-table column (accuracies in %).
ACCURACY_COLUMNS = (
    ("raw clean-train", "raw_clean"),
    ("raw noisy (vs noisy)", "raw_noisy"),
    ("raw test", "raw_test"),
    ("G test", "G_test"),
    ("G noisy (vs noisy)", "G_noisy"),
    ("R test", "R_test"),
    ("R noisy (vs noisy)", "R_noisy"),
    ("part-IPR test", "part_ipr_test"),
    ("part-strength test", "part_strength_test"),
)


def fmt(v: float | None, pct: bool = True) -> str:
    """A table cell: an accuracy in % (one decimal) or an epoch (no decimal).

    >>> fmt(0.1234), fmt(None), fmt(231.6, pct=False), fmt(None, pct=False)
    ('12.3', '—', '232', 'not reached')
    """
    if v is None:
        return "not reached" if not pct else "—"
    return f"{100 * v:.1f}" if pct else f"{v:.0f}"


def table_markdown(config: Config, table: MemberTable, swaps: list[str]) -> str:
    """``table.md``: accuracies and epochs per (width, noise rate), then the activation swaps."""
    header = ["width", "noise", *(h for h, _ in ACCURACY_COLUMNS)]
    header += ["noisy 90% epoch", "clean 90% epoch"]
    lines = []
    for w in table.widths:
        for a in table.rates:
            line: list[Any] = [w, a]
            line += [fmt(table.cell(w, a, key)) for _, key in ACCURACY_COLUMNS]
            line.append("—" if a == 0 else fmt(table.cell(w, a, "memorised_epoch"), pct=False))
            line.append(fmt(table.cell(w, a, "fit_epoch"), pct=False))
            lines.append(line)
    text = (
        f"# {TITLE}\n\nP = {config.p}, op = {config.op}, φ = {config.activation}, "
        f"{config.epochs} epochs, noise '{config.noise}'. Accuracies in %, mean over seeds. "
        "G: each neuron's dominant frequency only"
        f"{' (μ kept)' if config.keep_mu else ' (μ = 0)'}; R: the residual; part-*: the top "
        f"{config.partition_k:.0%} neurons by score.\n\n" + markdown_table(header, lines)
    )
    if swaps:
        sw_header = ["width", "noise", "raw test", "raw noisy"]
        for s in swaps:
            sw_header += [f"{s} test", f"{s} noisy"]
        sw_rows = []
        for w in table.widths:
            for a in table.rates:
                line = [w, a, fmt(table.cell(w, a, "raw_test")), fmt(table.cell(w, a, "raw_noisy"))]
                for s in swaps:
                    line += [
                        fmt(table.cell(w, a, f"swap_{s}_test")),
                        fmt(table.cell(w, a, f"swap_{s}_noisy")),
                    ]
                sw_rows.append(line)
        text += "\n## Activation swap at inference\n\n" + markdown_table(sw_header, sw_rows)
    return text


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    """Write results.csv, table.md, figures/ and evaluate the four claims."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    records = [UnitResult.from_dict(r) for r in results]
    table = MemberTable.from_results(records)
    write_csv(out / "results.csv", table.rows)
    nets = {n for res in records for m in res.members for n in m.acc}
    swaps = sorted(n[len("swap_") :] for n in nets if n.startswith("swap_"))
    (out / "table.md").write_text(table_markdown(config, table, swaps))
    draw_figures(records, table, out / "figures")
    return [
        C.extraction_80(table),
        C.memorise_first(table, config.threshold),
        C.width_helps(table),
        C.partition_between(table, config.partition_k),
    ]
