"""Process-wide settings for training loops: the C allocator's thresholds (Linux, glibc).

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
