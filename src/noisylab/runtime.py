"""Process-wide settings for training loops: the C allocator's thresholds (Linux, glibc); and
:func:`machine`, the description of this machine that run records and benchmarks carry.

A training step frees and re-allocates the same activation and gradient buffers every
step. With glibc's default, adaptive thresholds, buffers of a few MB are served by fresh
``mmap`` pages or carved from heap memory that ``free`` has just returned to the system,
so every step pays thousands of page faults (zeroing and mapping each 4 KiB page). At
M = 32 members, width 128, batch 128 that was about 1 700 faults a step and 9 % of the step's time
on one thread, and 25 % on two threads, where the faults also contend for the address
space's lock (``benchmarks/ensemble.py``, December 2026). :func:`tune_allocator` fixes both
thresholds, so that freed buffers stay in the process and are reused.

The CLI and the sweep workers call it at start; a script that trains with
:func:`noisylab.train.fit` can call it once itself. It is a no-op when the user has set
glibc's own ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_``, when
``NOISYLAB_TUNE_ALLOCATOR=0``, and on any C library other than glibc.
"""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path
from typing import Any

#: allocations up to this many bytes come from the heap, never from fresh ``mmap`` pages
MMAP_THRESHOLD = 64 << 20
#: free memory at the top of the heap kept for reuse, up to this many bytes, before ``free``
#: returns it to the system
TRIM_THRESHOLD = 256 << 20

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_GLIBC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_tuned: bool | None = None


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return False


def tune_allocator() -> bool:
    """Fix glibc's ``mmap`` and trim thresholds for this process (once; later calls return
    the first answer).

    Returns
    -------
    bool
        Whether the thresholds are now :data:`MMAP_THRESHOLD` and :data:`TRIM_THRESHOLD`.
    """
    global _tuned
    if _tuned is None:
        _tuned = _apply()
    return _tuned


def allocator_tuned() -> bool:
    """Whether :func:`tune_allocator` has tuned this process's allocator (never tunes it)."""
    return _tuned is True


def _apply() -> bool:
    if os.environ.get("NOISYLAB_TUNE_ALLOCATOR", "1").strip() == "0":
        return False
    if any(name in os.environ for name in _GLIBC_ENV) or not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


#: ``/proc/cpuinfo`` keys that name the CPU: x86 ("model name"), some ARM kernels
#: ("Hardware", "Processor"), MIPS ("cpu model")
_CPUINFO_KEYS = ("model name", "Hardware", "Processor", "cpu model")


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name, e.g. ``"AMD EPYC"`` or ``"Intel(R) Xeon(R) Platinum 8375C"``.

    Read from ``cpuinfo`` (Linux); elsewhere, or when that file names no model,
    ``platform.processor()``, and ``"unknown"`` when that is empty too.
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _CPUINFO_KEYS and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """This machine, for run records, reports and benchmark output: host name, platform,
    architecture (``processor``), CPU model (:func:`cpu_model`), logical CPUs (``cpus``)
    and the CPUs this process may run on (``usable_cpus``; fewer under a CPU affinity
    mask or a container's CPU set).

    Timings differ by CPU model (the same commit's quick reproduce took 417 s on one
    2-core machine and 483 s on another), so every timing should say where it ran.
    """
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        usable = os.cpu_count()
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
    }
