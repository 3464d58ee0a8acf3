"""A one-function study for the sweep tests: its worker process dies on a ``crash`` unit."""

from __future__ import annotations

import os
from typing import Any

NAME = "crashy"


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    if unit.get("crash"):
        os._exit(3)  # no exception, no cleanup: like a segfault or the OOM killer
    return {"i": unit["i"]}
