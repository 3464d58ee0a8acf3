"""Executors: where units run. In this process, a spawned process pool, or Ray tasks.

Each executor takes ``(key, run_unit, unit)`` tasks and yields ``(key, envelope)`` pairs
as units finish (in completion order), where the envelope is what
:func:`noisylab.sweep.worker.run_unit` returns. At most ``2 * jobs`` units are in flight at
once, so a unit's status in the store says ``running`` only shortly before it runs.
Process-pool and Ray workers receive ``run_unit`` by reference (module and qualified name,
see :func:`noisylab.sweep.study.function_ref`) with the driver's ``sys.path`` additions,
so any importable study, plugin or test module, runs in them without a registry.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from noisylab.checks import check_int

from . import worker
from .study import function_ref

Task = tuple[str, Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]]  # key, fn, unit
OnStart = Callable[[list[Task]], None]

EXECUTORS = ("local", "ray")


def extra_paths() -> list[str]:
    """Entries of the driver's ``sys.path`` that an installed worker would not have.

    These are directories outside the interpreter's installation (the working directory,
    a test directory, ``PYTHONPATH`` entries), passed to workers so plugin modules import.
    """
    installed = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values())
        if p
    }
    out = []
    for p in sys.path:
        if not p or not os.path.isdir(p):
            continue
        real = os.path.realpath(p)
        if any(real == i or real.startswith(i + os.sep) for i in installed):
            continue
        out.append(os.path.abspath(p))
    return list(dict.fromkeys(out))


def _failure(exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        "traceback": None,
    }


def run_inline(tasks: Iterable[Task], on_start: OnStart) -> Iterator[tuple[str, dict]]:
    """Run tasks one by one in this process."""
    for task in tasks:
        on_start([task])
        key, fn, unit = task
        yield key, worker.run_unit(fn, unit)


def run_pool(tasks: Iterable[Task], on_start: OnStart, jobs: int) -> Iterator[tuple[str, dict]]:
    """Run tasks on ``jobs`` spawned processes (one torch thread each)."""
    paths = extra_paths()
    ctx = multiprocessing.get_context("spawn")
    pending = iter(tasks)
    running: dict[Future, str] = {}
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=worker.init_worker, initargs=(paths,)
    ) as pool:
        try:
            while True:
                batch: list[Task] = []
                while len(running) + len(batch) < 2 * jobs:
                    task = next(pending, None)
                    if task is None:
                        break
                    batch.append(task)
                if batch:
                    on_start(batch)
                    for key, fn, unit in batch:
                        try:
                            running[pool.submit(worker.run_ref, function_ref(fn), unit)] = key
                        except BrokenProcessPool as exc:  # an earlier worker died
                            yield key, _failure(exc)
                if not running:
                    return
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    key = running.pop(fut)
                    try:
                        env = fut.result()
                    except Exception as exc:  # a worker died (e.g. killed, out of memory)
                        env = _failure(exc)
                    yield key, env
        finally:
            for fut in running:
                fut.cancel()


def run_ray(
    tasks: Iterable[Task], on_start: OnStart, jobs: int | None, address: str | None
) -> Iterator[tuple[str, dict]]:
    """Run tasks as Ray tasks, on a fresh local Ray (``address=None``) or a cluster.

    A local Ray gets ``num_cpus=jobs or 2``; each task asks for one CPU. The Ray runtime
    is shut down at the end only if this call started it.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("the ray executor needs Ray: pip install 'noisylab[ray]'") from None

    paths = extra_paths()
    started_here = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            ray.init(num_cpus=jobs or 2, **kwargs)
        else:
            ray.init(address=address, **kwargs)
        started_here = True
    remote = ray.remote(num_cpus=1, max_retries=0)(worker.run_remote)
    limit = 2 * (jobs or max(1, int(ray.cluster_resources().get("CPU", 2))))
    pending = iter(tasks)
    running: dict[Any, str] = {}
    try:
        while True:
            batch: list[Task] = []
            while len(running) + len(batch) < limit:
                task = next(pending, None)
                if task is None:
                    break
                batch.append(task)
            if batch:
                on_start(batch)
                for key, fn, unit in batch:
                    running[remote.remote(function_ref(fn), unit, paths)] = key
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                key = running.pop(ref)
                try:
                    env = ray.get(ref)
                except Exception as exc:  # worker crash or unpicklable result
                    env = _failure(exc)
                yield key, env
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def run(
    tasks: list[Task],
    on_start: OnStart,
    *,
    executor: str = "local",
    jobs: int | None = 1,
    address: str | None = None,
) -> Iterator[tuple[str, dict]]:
    """Dispatch ``tasks`` to the named executor; yields ``(key, envelope)`` as units finish.

    Raises
    ------
    ValueError
        If ``executor`` is unknown or ``jobs`` is not a positive integer.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    if jobs is not None:
        check_int("jobs", jobs, 1)
    if executor == "ray":
        for _, fn, _ in tasks[:1]:
            function_ref(fn)
        return run_ray(tasks, on_start, jobs, address)
    if address is not None:
        raise ValueError(f"--address {address!r} is only used by the ray executor")
    if (jobs or 1) == 1 or len(tasks) <= 1:
        return run_inline(tasks, on_start)
    for _, fn, _ in tasks[:1]:
        function_ref(fn)  # a lambda or unimportable function fails here, not in each worker
    return run_pool(tasks, on_start, min(jobs or 1, len(tasks)))
