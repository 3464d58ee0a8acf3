"""JSON-safe conversion shared by every layer (the results store, claims, run metadata)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to JSON types; non-finite floats become None.

    Mapping keys become strings; anything else is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({1: (np.float32(0.5), float("nan")), "a": np.arange(2)})
    {'1': [0.5, None], 'a': [0, 1]}
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
