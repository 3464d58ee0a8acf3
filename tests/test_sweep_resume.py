"""A sweep killed with SIGKILL resumes: nothing finished is recomputed, lost or duplicated."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sweep_fixture_study as STUDY
from noisylab.sweep import execute, open_store, run_id

N = 8
UNITS = [{"key": k, "scale": 1.0, "sleep": 0.3, "fail": False} for k in range(N)]
SCRIPT = """
import sys
import sweep_fixture_study
from noisylab.sweep import execute, open_store
units = [{"key": k, "scale": 1.0, "sleep": 0.3, "fail": False} for k in range(int(sys.argv[3]))]
execute(sweep_fixture_study, units, store=open_store(sys.argv[1]), jobs=int(sys.argv[2]),
        progress=False)
print("finished")
"""


def _statuses(path):
    con = sqlite3.connect(path, timeout=30)
    try:
        return dict(con.execute("SELECT id, status FROM runs").fetchall())
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    finally:
        con.close()


def _rows(store):
    runs = sorted((r["id"], r["config"], r["status"], r["result"]) for r in store.list_runs())
    return runs, sorted(store.metrics(), key=lambda m: (m["run"], str(m)))


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_mid_sweep_then_resume(tmp_path, monkeypatch, jobs):
    tests_dir = str(Path(__file__).parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]),
        "NOISYLAB_SWEEP_LOG": str(tmp_path / "killed.log"),
    }
    db = tmp_path / "store.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(db), str(jobs), str(N)],
        env=env,
        start_new_session=True,  # the sweep and its worker processes form one group
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while sum(s == "done" for s in _statuses(db).values()) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert b"finished" not in proc.stdout.read()

    at_kill = _statuses(db)
    done_at_kill = {k for k, s in at_kill.items() if s == "done"}
    assert 3 <= len(done_at_kill) < N
    assert any(s in ("running", "pending") for s in at_kill.values())
    ids = {run_id(STUDY, u): u["key"] for u in UNITS}

    # resume in this process, logging which units really run
    monkeypatch.setenv("NOISYLAB_SWEEP_LOG", str(tmp_path / "resumed.log"))
    store = open_store(db)
    resumed = execute(STUDY, UNITS, store=store, progress=False)
    rerun = sorted(int(k) for k in (tmp_path / "resumed.log").read_text().split())
    assert rerun == sorted(ids[i] for i in ids if i not in done_at_kill)

    assert store.counts() == {"pending": 0, "running": 0, "done": N, "failed": 0}
    assert len(store.list_runs()) == N
    assert len(store.metrics()) == N * 7
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # same results and rows as an uninterrupted sweep
    clean = open_store(tmp_path / "clean.sqlite")
    assert execute(STUDY, UNITS, store=clean, progress=False) == resumed
    assert _rows(clean) == _rows(store)
