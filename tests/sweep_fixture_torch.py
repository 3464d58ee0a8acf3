"""A one-function study for the sweep tests: reports the torch thread count of its worker."""

from __future__ import annotations

import os
from typing import Any

NAME = "torchy"


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    import torch

    x = torch.arange(unit["n"], dtype=torch.float64)
    return {"threads": torch.get_num_threads(), "sum": float(x.sum()), "pid": os.getpid()}
