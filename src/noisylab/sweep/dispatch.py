"""``execute``: run a study's units through an executor, cached in and recorded by the store.

The driver (this module) is the only writer of the store. A unit's life in the ``runs``
table is ``pending`` → ``running`` → ``done`` | ``failed``; anything not ``done`` is run
again by the next ``execute`` over the same units, which is how a killed sweep resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import executors
from .store import ResultsStore, open_store
from .study import content_id, study_name, study_version


class SweepError(RuntimeError):
    """Some units of a sweep failed; the others finished and are stored.

    Attributes
    ----------
    failures : dict
        run id → error message (``"ExceptionType: message"``).
    total : int
        Number of distinct units in the sweep.
    """

    def __init__(self, study: str, failures: dict[str, str], total: int) -> None:
        self.study = study
        self.failures = dict(failures)
        self.total = total
        first_id, first = next(iter(self.failures.items()))
        super().__init__(
            f"{len(self.failures)} of {total} runs of study {study!r} failed; "
            f"first: run {first_id}: {first}"
        )


def execute(
    study: Any,
    units: Sequence[dict[str, Any]],
    *,
    store: ResultsStore | str | Path | None = None,
    executor: str = "local",
    jobs: int | None = 1,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the units of ``study`` (or read them from the store) and return results in order.

    Parameters
    ----------
    study : module or object
        The study itself (see :class:`noisylab.sweep.study.Study`): its ``NAME`` labels the
        stored runs, its ``run_unit`` runs each unit (by reference in worker processes and
        Ray tasks) and its version (:func:`noisylab.sweep.study.study_version`) is part of
        every run id, so results of other code are never reused.
    units : sequence of dict
        JSON-serialisable unit configs; identical units run once.
    store : ResultsStore or path, optional
        Where finished units are read from and new results written. ``None`` runs
        everything and stores nothing.
    executor : {"local", "ray"}
        ``local`` runs in this process when ``jobs == 1`` and on a spawned process pool
        otherwise; ``ray`` runs Ray tasks (a fresh local Ray with ``num_cpus=jobs or 2``
        when ``address`` is None).
    jobs : int, optional
        Parallel workers.
    address : str, optional
        A Ray cluster address (``ray`` executor only).
    progress : bool
        Show a progress bar (only on a terminal).

    Returns
    -------
    list of dict
        ``results[i]`` is the result of ``units[i]``, exactly as stored (JSON types).

    Raises
    ------
    SweepError
        After all other units finished, if any unit raised; each failure is stored with
        status ``failed`` and its message.
    ValueError
        For an unknown executor, a bad ``jobs`` value or units that are not dicts.
    TypeError
        If ``study`` is a name or lacks ``NAME``/``run_unit``.
    """
    outcome = execute_many(
        [(study, units)],
        store=store,
        executor=executor,
        jobs=jobs,
        address=address,
        progress=progress,
    )[0]
    if isinstance(outcome, SweepError):
        raise outcome
    return outcome


Outcome = list[dict[str, Any]] | SweepError


def execute_many(
    plan: Sequence[tuple[Any, Sequence[dict[str, Any]]]],
    *,
    store: ResultsStore | str | Path | None = None,
    executor: str = "local",
    jobs: int | None = 1,
    address: str | None = None,
    progress: bool = True,
    on_done: Callable[[int, Outcome], None] | None = None,
    few_units_first: bool = False,
) -> list[Outcome]:
    """Run the units of several studies through one executor, in the order given (or, with
    ``few_units_first``, studies with fewer units to run first).

    Every study's units are checked and looked up in the store first; the units left to run
    then share one pool, so a worker freed while one study's last units finish starts the
    next study's units instead of idling (studies run back to back, not one after the other
    with a drained pool in between).

    Parameters
    ----------
    plan : sequence of (study, units)
        As :func:`execute` takes them, one pair per study.
    store, executor, jobs, address, progress
        As in :func:`execute`.
    on_done : callable, optional
        ``on_done(i, outcome)`` as soon as study ``plan[i]`` has all its units, in completion
        order (a study whose units are all stored completes first).
    few_units_first : bool
        Start the units of the studies with the fewest units left to run first (ties in
        ``plan`` order; within a study, unit order). A preset sizes a study's compute, so a
        study cut into few units has long ones; started first, they run alongside the many
        short units of the others instead of alone at the end (longest-first list scheduling
        without a cost model). Only the order changes, not any result. On 2 workers at
        ``quick`` (units of 141 s for feedback down to about 1 s for alignment), scheduling the
        measured unit times gives 495 s instead of 533 s in ``plan`` order.

    Returns
    -------
    list
        Per study, in ``plan`` order: its results in unit order, or the :class:`SweepError`
        listing its failed units (other studies' results are unaffected).
    """
    if isinstance(store, str | Path):
        store = open_store(store)
    studies: list[_Batch] = [_Batch.of(study, units, store) for study, units in plan]
    todo: list[executors.Task] = []
    owner: dict[str, int] = {}
    for i, b in enumerate(studies):
        for rid, u in b.unique.items():
            if rid not in b.results and rid not in owner:
                todo.append((rid, b.run_unit, u))
                owner[rid] = i
    left = [sum(1 for rid in owner if owner[rid] == i) for i in range(len(studies))]
    if few_units_first:
        todo.sort(key=lambda task: left[owner[task[0]]])  # stable: plan, then unit order
    outcomes: list[Outcome | None] = [None] * len(studies)

    def finish(i: int) -> None:
        outcomes[i] = studies[i].outcome()
        if on_done is not None:
            on_done(i, outcomes[i])  # type: ignore[arg-type]

    for i in range(len(studies)):
        if not left[i]:
            finish(i)
    if todo:

        def on_start(batch: list[executors.Task]) -> None:
            if store is not None:
                store.mark([(rid, studies[owner[rid]].name, u) for rid, _, u in batch], "running")

        # validates executor/jobs/address now; units start only when the stream is read
        stream = executors.run(todo, on_start, executor=executor, jobs=jobs, address=address)
        if store is not None:
            store.mark([(rid, studies[owner[rid]].name, u) for rid, _, u in todo], "pending")
        label = ", ".join(dict.fromkeys(b.name for b in studies))
        total = sum(len(b.unique) for b in studies)
        stored = sum(len(b.results) for b in studies)
        with _progress(label, total, stored, progress) as advance:
            for rid, env in stream:
                i = owner[rid]
                b = studies[i]
                _record(store, b.name, rid, b.unique[rid], env, b.results, b.failures)
                advance()
                left[i] -= 1
                if not left[i]:
                    finish(i)
    return [o for o in outcomes if o is not None]


class _Batch:
    """One study's units in :func:`execute_many`: ids, distinct units, results so far."""

    def __init__(self, name: str, run_unit: Any, ids: list[str], unique: dict[str, Any]) -> None:
        self.name, self.run_unit, self.ids, self.unique = name, run_unit, ids, unique
        self.results: dict[str, Any] = {}
        self.failures: dict[str, str] = {}

    @classmethod
    def of(cls, study: Any, units: Sequence[dict[str, Any]], store: ResultsStore | None) -> _Batch:
        name = study_name(study)
        version = study_version(study)
        units = list(units)
        for i, u in enumerate(units):
            if not isinstance(u, Mapping):
                raise ValueError(
                    f"unit {i} of study {name!r} must be a dict, got {type(u).__name__}"
                )
        ids = [content_id(name, version, dict(u)) for u in units]
        unique: dict[str, dict[str, Any]] = {}
        for rid, u in zip(ids, units, strict=True):
            unique.setdefault(rid, dict(u))
        batch = cls(name, study.run_unit, ids, unique)
        if store is not None:
            batch.results = store.done_results(list(unique))
        return batch

    def outcome(self) -> Outcome:
        if self.failures:
            return SweepError(self.name, self.failures, len(self.unique))
        return [self.results[rid] for rid in self.ids]


def _record(
    store: ResultsStore | None,
    study: str,
    rid: str,
    unit: dict[str, Any],
    env: dict[str, Any],
    results: dict[str, Any],
    failures: dict[str, str],
) -> None:
    """Write one finished unit's envelope to the store and to ``results``/``failures``."""
    meta = {k: env.get(k) for k in ("started", "finished", "duration_s", "versions", "host")}
    if env.get("ok"):
        try:
            if store is not None:
                store.put_done(rid, study, unit, env["result"], **meta)
            results[rid] = env["result"]
            return
        except ValueError as exc:  # malformed metric rows: the unit failed
            env = {"ok": False, "error": f"ValueError: {exc}", "traceback": None}
    failures[rid] = str(env.get("error"))
    if store is not None:
        store.put_failed(rid, study, unit, failures[rid], traceback=env.get("traceback"), **meta)


class _progress:
    """A rich progress bar naming the study and counting done/total (silent off a TTY)."""

    def __init__(
        self, study: str, total: int, done: int, enabled: bool, console: Any = None
    ) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.enabled = bool(enabled) and self.console.is_terminal
        self.study, self.total, self.done = study, total, done
        self._bar: Any = None

    def __enter__(self) -> Any:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.__enter__()
            task = self._bar.add_task(self.study, total=self.total, completed=self.done)
            return lambda: self._bar.advance(task)
        return lambda: None

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
