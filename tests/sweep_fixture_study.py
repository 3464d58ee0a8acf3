"""A tiny study for the sweep tests: sleeps, logs each run to a file, can fail on demand.

``run_unit`` appends ``"<key>\\n"`` to the file named by ``NOISYLAB_SWEEP_LOG`` (when set),
so tests can count how often each unit really ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

from noisylab.studies.base import Claim, StudyConfig, markdown_table, write_csv

NAME = "sweep_fixture"
TITLE = "Sweep fixture"
PAPER = "none"


class Config(StudyConfig):
    n: int = 4
    scale: float = 1.0
    sleep: float = 0.0
    fail: tuple[int, ...] = ()

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n": 3},
        "quick": {"n": 4},
        "paper": {"n": 8},
    }


def units(config: Config) -> list[dict[str, Any]]:
    return [
        {"key": k, "scale": config.scale, "sleep": config.sleep, "fail": k in config.fail}
        for k in range(config.n)
    ]


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    time.sleep(unit["sleep"])
    if unit["fail"]:
        raise ValueError(f"unit {unit['key']} was told to fail")
    log = os.environ.get("NOISYLAB_SWEEP_LOG")
    if log:
        with Path(log).open("a") as f:
            f.write(f"{unit['key']}\n")
    k, s = unit["key"], unit["scale"]
    return {
        "key": k,
        "value": s * k / 3.0,  # not exactly representable in binary: tests exact round-trip
        "nan": float("nan"),
        "metrics": [[m, e, "acc", s * (k + m) / (e + 7.0)] for m in range(2) for e in range(3)]
        + [{"member": 0, "epoch": None, "name": "final", "value": s * k}],
    }


def analyse(config: Config, results: list[dict[str, Any]], out: Path) -> list[Claim]:
    rows = [{"key": r["key"], "value": r["value"]} for r in results]
    write_csv(out / "results.csv", rows)
    (out / "table.md").write_text(
        markdown_table(["key", "value"], [[r["key"], r["value"]] for r in rows])
    )
    total = sum(r["value"] for r in results)
    return [
        Claim(
            id="sum",
            statement="values sum to scale*n(n-1)/6",
            reproduced=abs(total - config.scale * config.n * (config.n - 1) / 6) < 1e-9,
            evidence={"sum": total},
        )
    ]
