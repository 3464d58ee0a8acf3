"""The results store: round-trips, WAL, metrics rows, transactions, export."""

import json
import sqlite3

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylab.sweep import ResultsStore, open_store
from noisylab.sweep.store import metric_rows


def _result():
    return {
        "acc": 0.1 + 0.2,  # 0.30000000000000004: must come back bit for bit
        "tiny": 5e-324,
        "big": 1.7976931348623157e308,
        "bad": float("inf"),
        "nested": {"xs": [1 / 3, 2 / 3], "flag": True, "name": "ce"},
        "metrics": [
            [0, 1, "test/acc", 0.5],
            [1, 1, "test/acc", 0.25],
            {"member": 1, "epoch": 2, "name": "test/acc", "value": float("nan")},
        ],
    }


def test_round_trip_is_exact_and_metrics_are_rows(tmp_path):
    store = open_store(tmp_path / "deep" / "dir" / "s.sqlite")
    assert (tmp_path / "deep" / "dir" / "s.sqlite").is_file()
    store.put_done("r1", "demo", {"lr": 0.1, "seed": 3}, _result(), duration_s=1.5, host="h")
    store.close()

    again = open_store(tmp_path / "deep" / "dir" / "s.sqlite")
    run = again.get("r1")
    expected = {**_result(), "bad": None}
    expected["metrics"][2]["value"] = None
    assert run["result"] == expected
    assert run["result"]["acc"] == 0.30000000000000004
    assert run["result"]["tiny"] == 5e-324
    assert run["config"] == {"lr": 0.1, "seed": 3}
    assert (run["status"], run["duration_s"], run["host"]) == ("done", 1.5, "h")
    assert again.metrics("r1") == [
        {"run": "r1", "member": 0, "epoch": 1.0, "name": "test/acc", "value": 0.5},
        {"run": "r1", "member": 1, "epoch": 1.0, "name": "test/acc", "value": 0.25},
        {"run": "r1", "member": 1, "epoch": 2.0, "name": "test/acc", "value": None},
    ]


def test_wal_mode_and_concurrent_reader(tmp_path):
    path = tmp_path / "s.sqlite"
    store = open_store(path)
    assert store.journal_mode == "wal"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.put_done("a", "demo", {}, {"x": 1})
    assert con.execute("SELECT status FROM runs WHERE id='a'").fetchone()[0] == "done"


def test_rewrite_replaces_metrics_never_duplicates(tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    store.mark([("r", "demo", {"k": 1})], "running")
    assert store.get("r")["status"] == "running"
    store.put_failed("r", "demo", {"k": 1}, "ValueError: boom")
    assert store.get("r")["error"] == "ValueError: boom"
    for _ in range(3):
        store.put_done("r", "demo", {"k": 1}, {"metrics": [[0, 0, "a", 1.0], [0, 1, "a", 2.0]]})
    assert len(store.list_runs()) == 1
    assert len(store.metrics("r")) == 2
    assert store.get("r")["error"] is None
    store.mark([("r", "demo", {"k": 1})], "pending")
    assert store.get("r")["status"] == "done"  # finished runs are never demoted


def test_malformed_metrics_write_nothing(tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match=r"metric row \[1, 2\] is not \[member, epoch"):
        store.put_done("r", "demo", {}, {"metrics": [[0, 0, "a", 1.0], [1, 2]]})
    assert store.list_runs() == [] and store.metrics() == []
    with pytest.raises(ValueError, match="needs keys 'name' and 'value'"):
        metric_rows({"metrics": [{"member": 0}]})
    assert metric_rows({"x": 1}) == [] and metric_rows([1, 2]) == []


def test_transaction_rolls_back_everything(tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError), store.transaction() as c:
        c.execute(
            "INSERT INTO runs (id, study, config, status, created) "
            "VALUES ('x', 's', '{}', 'done', 'now')"
        )
        c.execute("INSERT INTO metrics (run, name, value) VALUES ('x', 'a', 1.0)")
        raise RuntimeError("killed mid-write")
    assert store.list_runs() == [] and store.metrics() == []


def test_list_filters_prefix_get_and_errors(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    store.put_done("abc123", "one", {"i": 1}, {"v": 1})
    store.put_done("abd456", "two", {"i": 2}, {"v": 2})
    store.put_failed("xyz789", "two", {"i": 3}, "boom")
    assert [r["id"] for r in store.list_runs(study="two")] == ["abd456", "xyz789"]
    assert [r["id"] for r in store.list_runs(status="failed")] == ["xyz789"]
    assert store.counts("two") == {"pending": 0, "running": 0, "done": 1, "failed": 1}
    assert store.get("abc")["id"] == "abc123"
    with pytest.raises(KeyError, match="ambiguous"):
        store.get("ab")
    with pytest.raises(KeyError, match="no run 'nope'"):
        store.get("nope")
    with pytest.raises(ValueError, match="unknown status 'finished'"):
        store.list_runs(status="finished")
    assert store.done_results(["abc123", "xyz789", "zzz"]) == {"abc123": {"v": 1}}


def test_export_csv_and_parquet_read_back(tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    store.put_done("r1", "demo", {"lr": 0.1}, _result())
    store.put_done("r2", "other", {"lr": 0.2}, {"metrics": [[0, 0, "loss", 2.5]]})
    runs = pd.read_csv(store.export(tmp_path / "runs.csv"))
    assert list(runs["id"]) == ["r1", "r2"]
    assert json.loads(runs.loc[0, "config"]) == {"lr": 0.1}
    pq = pd.read_parquet(store.export(tmp_path / "m.parquet", table="metrics"))
    assert len(pq) == 4
    assert pq["value"].iloc[0] == 0.5 and pd.isna(pq["value"].iloc[2])
    only = pd.read_parquet(store.export(tmp_path / "o.pq", table="metrics", study="other"))
    assert list(only["name"]) == ["loss"] and list(only["value"]) == [2.5]
    csv_m = pd.read_csv(store.export(tmp_path / "m.csv", table="metrics", format="csv"))
    assert list(csv_m.columns) == ["run", "member", "epoch", "name", "value"]
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        store.export(tmp_path / "x.csv", table="nope")
    with pytest.raises(ValueError, match="unknown export format 'xls'"):
        store.export(tmp_path / "x.csv", format="xls")


def test_sigkill_inside_a_write_leaves_nothing_half_written(tmp_path):
    import signal
    import subprocess
    import sys

    script = """
import os, signal, sys
from noisylab.sweep.store import open_store
store = open_store(sys.argv[1])
store.put_done("kept", "demo", {"i": 0}, {"metrics": [[0, 0, "a", 1.0]]})
with store.transaction() as c:
    c.execute("INSERT INTO runs (id, study, config, status, result, created) "
              "VALUES ('half', 'demo', '{}', 'done', '{}', 'now')")
    c.executemany("INSERT INTO metrics (run, name, value) VALUES ('half', 'a', ?)",
                  [(float(i),) for i in range(1000)])
    os.kill(os.getpid(), signal.SIGKILL)
"""
    db = tmp_path / "s.sqlite"
    proc = subprocess.run([sys.executable, "-c", script, str(db)], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    store = open_store(db)
    assert [r["id"] for r in store.list_runs()] == ["kept"]
    assert store.metrics() == [
        {"run": "kept", "member": 0, "epoch": 0.0, "name": "a", "value": 1.0}
    ]
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=40, deadline=None)
@given(result=st.dictionaries(st.text(max_size=4), json_values, max_size=4))
def test_any_finite_json_result_round_trips_exactly(result):
    store = ResultsStore(":memory:")
    result.pop("metrics", None)
    store.put_done("r", "demo", {}, result)
    back = store.get("r")["result"]
    assert back == result
    assert json.dumps(back, sort_keys=True) == json.dumps(result, sort_keys=True)  # -0.0 too


def test_bad_store_paths_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="is a directory; expected a file"):
        open_store(tmp_path)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ValueError, match="is not a noisylab SQLite store"):
        open_store(tmp_path / "junk.sqlite")
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE runs (id TEXT)")
    other.commit()
    with pytest.raises(ValueError, match="its runs table lacks config, created"):
        open_store(tmp_path / "other.sqlite")
