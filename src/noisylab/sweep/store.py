"""The results store: one embedded SQLite file (WAL) holding runs and their per-epoch metrics.

Two tables:

``runs``
    one row per unit: ``id`` (the content hash of study + unit), ``study``, ``config``
    (JSON of the unit), ``status`` (``pending``/``running``/``done``/``failed``), ``result``
    (JSON), ``error``, ``started``/``finished`` (ISO-8601 UTC), ``duration_s``, ``versions``
    (JSON), ``host``;
``metrics``
    ``run, member, epoch, name, value`` rows copied from a result's optional ``"metrics"``
    key, so curves can be queried without parsing JSON.

Only the sweep driver writes. Every write of a finished unit (its run row and its metric
rows) is one transaction, so a process killed mid-write leaves either the whole unit or
none of it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from noisylab._json import jsonable

#: default location of the store, relative to the working directory.
DEFAULT_PATH = Path("results/noisylab.sqlite")

STATUSES = ("pending", "running", "done", "failed")
TABLES = ("runs", "metrics")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id         TEXT PRIMARY KEY,
    study      TEXT NOT NULL,
    config     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    result     TEXT,
    error      TEXT,
    traceback  TEXT,
    created    TEXT NOT NULL,
    started    TEXT,
    finished   TEXT,
    duration_s REAL,
    versions   TEXT,
    host       TEXT
);
CREATE INDEX IF NOT EXISTS runs_study_status ON runs (study, status);
CREATE TABLE IF NOT EXISTS metrics (
    run    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    member INTEGER,
    epoch  REAL,
    name   TEXT NOT NULL,
    value  REAL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run, name);
"""

_RUN_COLUMNS = (
    "id",
    "study",
    "config",
    "status",
    "result",
    "error",
    "traceback",
    "created",
    "started",
    "finished",
    "duration_s",
    "versions",
    "host",
)
_JSON_COLUMNS = ("config", "result", "versions")


def now() -> str:
    """The current UTC time as an ISO-8601 string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def dumps(obj: Any) -> str:
    """JSON text of ``obj`` with sorted keys; non-finite floats become ``null``.

    Floats are written with ``repr`` precision, so ``json.loads(dumps(x)) == x`` for any
    finite float.
    """
    return json.dumps(jsonable(obj), sort_keys=True, allow_nan=False, separators=(",", ":"))


def metric_rows(result: Any) -> list[tuple[int | None, float | None, str, float | None]]:
    """Extract ``(member, epoch, name, value)`` rows from a result's ``"metrics"`` key.

    Parameters
    ----------
    result : dict or any
        A unit's result. Its optional ``"metrics"`` entry is a list whose items are
        ``[member, epoch, name, value]`` sequences or dicts with those keys (``member``
        and ``epoch`` may be missing or ``None``).

    Returns
    -------
    list of tuple
        One tuple per row; non-finite values become ``None``.

    Raises
    ------
    ValueError
        If an item is neither a 4-sequence nor a dict with ``name`` and ``value``.
    """
    if not isinstance(result, Mapping) or result.get("metrics") is None:
        return []
    raw = result["metrics"]
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ValueError(
            f"result['metrics'] must be a list of [member, epoch, name, value] rows, "
            f"got {type(raw).__name__}"
        )
    rows = []
    for item in raw:
        if isinstance(item, Mapping):
            if "name" not in item or "value" not in item:
                raise ValueError(
                    f"metric row {dict(item)!r} needs keys 'name' and 'value' "
                    "(and optionally 'member', 'epoch')"
                )
            member, epoch, name, value = (
                item.get("member"),
                item.get("epoch"),
                item["name"],
                item["value"],
            )
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 4:
            member, epoch, name, value = item
        else:
            raise ValueError(f"metric row {item!r} is not [member, epoch, name, value]")
        rows.append((_opt_int(member), _opt_float(epoch), str(name), _opt_float(value)))
    return rows


def _opt_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not float(v).is_integer():
        raise ValueError(f"metric member must be an integer or null, got {v!r}")
    return int(v)


def _opt_float(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"metric epoch/value must be a number or null, got {v!r}") from None
    return f if math.isfinite(f) else None


class ResultsStore:
    """A SQLite results store in WAL mode.

    Parameters
    ----------
    path : str or Path
        The database file; parent directories are created. ``":memory:"`` gives a
        throw-away store (no WAL).

    Examples
    --------
    >>> store = ResultsStore(":memory:")
    >>> store.put_done("abc", "demo", {"x": 1}, {"y": 0.5, "metrics": [[0, 1, "acc", 0.5]]})
    >>> store.get("abc")["result"]["y"]
    0.5
    >>> store.metrics("abc")[0]["value"]
    0.5
    """

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        memory = str(path) == ":memory:"
        self.path = Path(path)
        if not memory:
            if self.path.is_dir():
                raise ValueError(
                    f"results store {str(path)!r} is a directory; expected a file such as "
                    f"{str(self.path / DEFAULT_PATH.name)!r}"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            str(path), timeout=60.0, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        try:
            self._setup(memory)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ValueError(
                f"results store {str(path)!r} is not a noisylab SQLite store ({exc})"
            ) from None

    def _setup(self, memory: bool) -> None:
        """Pragmas (WAL, busy timeout, foreign keys) and the schema."""
        self._conn.execute("PRAGMA busy_timeout = 60000")
        if not memory:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ValueError(f"could not put results store {self.path} in WAL mode ({mode!r})")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        cols = {r["name"] for r in self._conn.execute("PRAGMA table_info(runs)")}
        if cols and not set(_RUN_COLUMNS) <= cols:
            raise sqlite3.DatabaseError(
                f"its runs table lacks {', '.join(sorted(set(_RUN_COLUMNS) - cols))}"
            )
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                self._conn.execute(stmt)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on error)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for this file (``wal`` for on-disk stores)."""
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    # -- writes (driver only) ---------------------------------------------------------------

    def mark(self, ids_units: Sequence[tuple[str, str, Mapping[str, Any]]], status: str) -> None:
        """Set ``status`` (``pending`` or ``running``) for runs that are not ``done``.

        Parameters
        ----------
        ids_units : sequence of (run_id, study, unit)
            Rows are created if missing; finished (``done``) rows are never touched.
        status : {"pending", "running"}
        """
        if status not in ("pending", "running"):
            raise ValueError(f"mark() sets 'pending' or 'running', got {status!r}")
        stamp = now()
        with self.transaction() as c:
            for rid, study, unit in ids_units:
                c.execute(
                    "INSERT INTO runs (id, study, config, status, created) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = NULL, "
                    "traceback = NULL WHERE runs.status != 'done'",
                    (rid, study, dumps(unit), status, stamp),
                )

    def put_done(
        self,
        run_id: str,
        study: str,
        unit: Mapping[str, Any],
        result: Any,
        *,
        started: str | None = None,
        finished: str | None = None,
        duration_s: float | None = None,
        versions: Mapping[str, Any] | None = None,
        host: str | None = None,
    ) -> None:
        """Record a finished run and its metric rows in one transaction.

        Any earlier metric rows of the run are replaced, so rerunning never duplicates.

        Raises
        ------
        ValueError
            If the result's ``"metrics"`` rows are malformed (nothing is written).
        """
        rows = metric_rows(result)
        text = dumps(result)
        stamp = now()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO runs (id, study, config, status, result, error, traceback, created, "
                "started, finished, duration_s, versions, host) "
                "VALUES (?, ?, ?, 'done', ?, NULL, NULL, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = 'done', result = excluded.result, "
                "error = NULL, traceback = NULL, started = excluded.started, "
                "finished = excluded.finished, duration_s = excluded.duration_s, "
                "versions = excluded.versions, host = excluded.host",
                (
                    run_id,
                    study,
                    dumps(unit),
                    text,
                    stamp,
                    started,
                    finished or stamp,
                    duration_s,
                    dumps(versions or {}),
                    host,
                ),
            )
            c.execute("DELETE FROM metrics WHERE run = ?", (run_id,))
            c.executemany(
                "INSERT INTO metrics (run, member, epoch, name, value) VALUES (?, ?, ?, ?, ?)",
                [(run_id, *r) for r in rows],
            )

    def put_failed(
        self,
        run_id: str,
        study: str,
        unit: Mapping[str, Any],
        error: str,
        *,
        traceback: str | None = None,
        started: str | None = None,
        finished: str | None = None,
        duration_s: float | None = None,
        versions: Mapping[str, Any] | None = None,
        host: str | None = None,
    ) -> None:
        """Record a failed run with its error message (and traceback, if known)."""
        stamp = now()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO runs (id, study, config, status, result, error, traceback, created, "
                "started, finished, duration_s, versions, host) "
                "VALUES (?, ?, ?, 'failed', NULL, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = 'failed', result = NULL, "
                "error = excluded.error, traceback = excluded.traceback, "
                "started = excluded.started, finished = excluded.finished, "
                "duration_s = excluded.duration_s, versions = excluded.versions, "
                "host = excluded.host",
                (
                    run_id,
                    study,
                    dumps(unit),
                    error,
                    traceback,
                    stamp,
                    started,
                    finished or stamp,
                    duration_s,
                    dumps(versions or {}),
                    host,
                ),
            )
            c.execute("DELETE FROM metrics WHERE run = ?", (run_id,))

    def delete(self, run_ids: Sequence[str]) -> int:
        """Delete runs (and their metrics); returns the number of runs removed."""
        with self.transaction() as c:
            n = 0
            for rid in run_ids:
                c.execute("DELETE FROM metrics WHERE run = ?", (rid,))
                n += c.execute("DELETE FROM runs WHERE id = ?", (rid,)).rowcount
        return n

    # -- reads ------------------------------------------------------------------------------

    def done_results(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """The stored results of those ``run_ids`` whose status is ``done``."""
        out: dict[str, Any] = {}
        ids = list(dict.fromkeys(run_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT id, result FROM runs WHERE status = 'done' AND id IN ({marks})", chunk
            ):
                out[row["id"]] = json.loads(row["result"])
        return out

    def get(self, run_id: str) -> dict[str, Any]:
        """One run as a dict (JSON columns decoded); ``run_id`` may be a unique prefix.

        Raises
        ------
        KeyError
            If no run, or more than one, matches.
        """
        rows = self._conn.execute(
            "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 2",
            (_like_prefix(run_id),),
        ).fetchall()
        if not rows:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        if len(rows) > 1 and rows[0]["id"] != run_id:
            raise KeyError(f"run id prefix {run_id!r} is ambiguous in {self.path}")
        return _decode(rows[0])

    def list_runs(self, study: str | None = None, status: str | None = None) -> list[dict]:
        """Runs, oldest first, optionally filtered by study and status."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        where, args = _where(study=study, status=status)
        rows = self._conn.execute(
            f"SELECT * FROM runs {where} ORDER BY created, id", args
        ).fetchall()
        return [_decode(r) for r in rows]

    def metrics(self, run_id: str | None = None, *, study: str | None = None) -> list[dict]:
        """Metric rows (``run, member, epoch, name, value``), for one run or one study."""
        sql = "SELECT m.run, m.member, m.epoch, m.name, m.value FROM metrics m"
        args: list[Any] = []
        conds = []
        if study is not None:
            sql += " JOIN runs r ON r.id = m.run"
            conds.append("r.study = ?")
            args.append(study)
        if run_id is not None:
            conds.append("m.run = ?")
            args.append(run_id)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY m.rowid"
        return [dict(r) for r in self._conn.execute(sql, args)]

    def counts(self, study: str | None = None) -> dict[str, int]:
        """Number of runs per status."""
        where, args = _where(study=study)
        rows = self._conn.execute(
            f"SELECT status, COUNT(*) AS n FROM runs {where} GROUP BY status", args
        )
        out = dict.fromkeys(STATUSES, 0)
        out.update({r["status"]: r["n"] for r in rows})
        return out

    # -- export -----------------------------------------------------------------------------

    def dataframe(self, table: str = "runs", study: str | None = None) -> Any:
        """A pandas DataFrame of ``table`` (``runs`` keeps JSON columns as text)."""
        import pandas as pd

        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        if table == "runs":
            where, args = _where(study=study)
            cols = ", ".join(_RUN_COLUMNS)
            rows = self._conn.execute(
                f"SELECT {cols} FROM runs {where} ORDER BY created, id", args
            ).fetchall()
            return pd.DataFrame([tuple(r) for r in rows], columns=list(_RUN_COLUMNS))
        data = self.metrics(study=study)
        df = pd.DataFrame(data, columns=["run", "member", "epoch", "name", "value"])
        df["member"] = df["member"].astype("Int64")
        df["epoch"] = df["epoch"].astype("float64")
        df["value"] = df["value"].astype("float64")
        return df

    def export(
        self,
        path: str | Path,
        table: str = "runs",
        study: str | None = None,
        format: str | None = None,
    ) -> Path:
        """Write ``table`` to CSV or Parquet.

        Parameters
        ----------
        path : str or Path
            Output file; parent directories are created.
        table : {"runs", "metrics"}
        study : str, optional
            Only this study's rows.
        format : {"csv", "parquet"}, optional
            Default: from the file suffix (``.parquet``/``.pq`` → Parquet, else CSV).

        Returns
        -------
        Path
            The written file.
        """
        path = Path(path)
        fmt = format or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"unknown export format {fmt!r}; expected csv or parquet")
        df = self.dataframe(table, study=study)
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            df.to_csv(path, index=False)
        else:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ImportError(
                    "Parquet export needs pyarrow: pip install 'noisylab[parquet]'"
                ) from None
            df.to_parquet(path, index=False)
        return path


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _where(**filters: Any) -> tuple[str, list[Any]]:
    conds, args = [], []
    for col, val in filters.items():
        if val is not None:
            conds.append(f"{col} = ?")
            args.append(val)
    return ("WHERE " + " AND ".join(conds)) if conds else "", args


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for col in _JSON_COLUMNS:
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out


def open_store(path: str | Path = DEFAULT_PATH) -> ResultsStore:
    """Open (creating if needed) the results store at ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(pathlib.Path(d) / "results" / "noisylab.sqlite")
    ...     mode = store.journal_mode
    ...     store.close()
    >>> mode
    'wal'
    """
    return ResultsStore(path)
