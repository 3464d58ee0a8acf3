"""What a sweep worker runs: one unit of a study, its result returned in an envelope.

Workers (in-process, a spawned process pool, or Ray tasks) never touch the results store;
they return an envelope and the driver writes it. Exceptions from the study are caught
and returned as data, so a failing unit never breaks the pool.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from noisylab.runtime import tune_allocator

#: set by :func:`init_worker`: this process is a sweep worker, not the driver.
_IN_WORKER = False


@functools.cache
def versions() -> dict[str, str]:
    """Versions of python, noisylab, torch and numpy (read from metadata, nothing imported)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for dist in ("noisylab", "torch", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def init_worker(sys_path: list[str] | None = None) -> None:
    """Prepare a worker process: one torch thread, the driver's import paths, the tuned
    allocator (:func:`noisylab.runtime.tune_allocator`).

    Torch is not imported here (studies that need it import it; ``OMP_NUM_THREADS=1`` makes
    it start with one thread); if it is loaded already, ``torch.set_num_threads(1)``.

    Parameters
    ----------
    sys_path : list of str, optional
        Directories to append to ``sys.path`` (where the driver found the study's module).
    """
    global _IN_WORKER
    _IN_WORKER = True
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    _add_paths(sys_path)
    _one_torch_thread()
    tune_allocator()


def _add_paths(sys_path: list[str] | None) -> None:
    for p in sys_path or []:
        if p not in sys.path:
            sys.path.append(p)


def _one_torch_thread() -> None:
    """``torch.set_num_threads(1)`` if torch is loaded (before it loads, the env vars do it)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def run_unit(
    fn: Callable[[dict[str, Any]], dict[str, Any]], unit: dict[str, Any]
) -> dict[str, Any]:
    """Run ``fn(unit)`` (a study's ``run_unit``) and return an envelope.

    Parameters
    ----------
    fn : callable
        The study's ``run_unit``.
    unit : dict
        The unit config passed to it.

    Returns
    -------
    dict
        ``{"ok": True, "result": ...}`` or ``{"ok": False, "error": "Type: message",
        "traceback": ...}``, plus ``started``, ``finished`` (ISO-8601 UTC), ``duration_s``,
        ``host``, ``pid`` and ``versions``.
    """
    started = datetime.now(UTC).isoformat(timespec="microseconds")
    t0 = time.perf_counter()
    env: dict[str, Any] = {}
    try:
        from noisylab.sweep.store import dumps

        if _IN_WORKER:
            _one_torch_thread()
        result = fn(dict(unit))
        try:
            text = dumps(result)
        except TypeError as exc:
            raise TypeError(f"run_unit must return JSON-serialisable data: {exc}") from None
        env["result"] = json.loads(text)  # what the store will hold, exactly
        env["ok"] = True
    except Exception as exc:
        env["ok"] = False
        env["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        env["traceback"] = traceback.format_exc()
    env["duration_s"] = time.perf_counter() - t0
    env["started"] = started
    env["finished"] = datetime.now(UTC).isoformat(timespec="microseconds")
    env["host"] = platform.node()
    env["pid"] = os.getpid()
    env["versions"] = versions()
    return env


def run_ref(ref: tuple[str, str], unit: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_unit` of the function named by ``ref`` = ``(module, qualname)``.

    An import failure is returned as a failed envelope, like any error of the unit.
    """
    from .study import resolve_ref

    try:
        fn = resolve_ref(ref)
    except Exception as exc:
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: cannot import run_unit {ref[0]}.{ref[1]}: {exc}",
            "traceback": traceback.format_exc(),
        }
    return run_unit(fn, unit)


def run_remote(ref: tuple[str, str], unit: dict[str, Any], sys_path: list[str]) -> dict[str, Any]:
    """:func:`init_worker` then :func:`run_ref`: the body of a Ray task."""
    init_worker(sys_path)
    return run_ref(ref, unit)
