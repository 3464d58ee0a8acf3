"""A minimal study used by the report tests (registered through NOISYLAB_EXTRA_STUDIES)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from noisylab.studies.base import Claim, StudyConfig, markdown_table, write_csv

NAME = "fixture"
TITLE = "A fixture study"
PAPER = "Nobody et al., a test paper"


class Config(StudyConfig):
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"n": 2}, "quick": {"n": 3}}
    n: int = 2


def units(config: Config) -> list[dict[str, Any]]:
    return [{"i": i, "seed": config.seed} for i in range(config.n)]


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    if os.environ.get("FIXTURE_NO_RUNS"):  # set by the tests when nothing may train
        raise RuntimeError("run_unit called although the results are in the store")
    if os.environ.get("FIXTURE_FAIL") == str(unit["i"]):  # one unit that fails on demand
        raise ValueError(f"unit {unit['i']} was told to fail")
    return {"i": unit["i"], "square": unit["i"] ** 2}


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    import matplotlib.pyplot as plt

    if os.environ.get("FIXTURE_BROKEN_ANALYSIS"):  # stands for results of an older version
        raise KeyError("curves")
    write_csv(out / "results.csv", results)
    (out / "table.md").write_text(
        markdown_table(["i", "square"], [[r["i"], r["square"]] for r in results])
    )
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([r["i"] for r in results], [r["square"] for r in results])
    fig.savefig(out / "figures" / "squares.png", dpi=60)
    plt.close(fig)
    total = sum(r["square"] for r in results)
    return [
        Claim(
            id="sum",
            statement="squares sum to a positive number",
            reproduced=total > 0,
            evidence={"sum": total},
        ),
        Claim(
            id="never",
            statement="a claim that does not hold",
            reproduced=False,
            evidence={"sum": total},
        ),
    ]
