"""``noisylab sweep`` end to end on a fixture study, and ``noisylab results list/show/export``."""

import json

import pandas as pd
import pytest

import sweep_fixture_study as STUDY
from noisylab.sweep import open_store, run_id

SWEEP = """\
study: sweep_fixture
preset: tiny
set: {scale: 2.0}
grid:
  n: [2, 3]
"""


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOISYLAB_EXTRA_STUDIES", "sweep_fixture=sweep_fixture_study")  # the CLI's
    log = tmp_path / "runs.log"
    monkeypatch.setenv("NOISYLAB_SWEEP_LOG", str(log))
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    return lambda: log.read_text().split() if log.exists() else []


def _unit(k):
    return {"key": k, "scale": 2.0, "sleep": 0.0, "fail": False}


def test_sweep_end_to_end_then_cached(env, cli, capsys, tmp_path):
    assert cli("sweep", "sweep.yaml", "--out", "out", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "n-2" in out and "n-3" in out and "outputs in out" in out
    # n=2's units are a subset of n=3's: three distinct units, each run once
    assert sorted(env()) == ["0", "1", "2"]
    meta = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert meta["distinct_units"] == 3
    assert [p["slug"] for p in meta["points"]] == ["n-2", "n-3"]
    assert meta["points"][1]["run_ids"] == [run_id(STUDY, _unit(k)) for k in range(3)]
    for point, n in (("n-2", 2), ("n-3", 3)):
        csv = pd.read_csv(tmp_path / "out" / point / "results.csv")
        assert list(csv["value"]) == [2.0 * k / 3.0 for k in range(n)]
        claims = json.loads((tmp_path / "out" / point / "claims.json").read_text())
        assert claims[0]["reproduced"] is True
        run = json.loads((tmp_path / "out" / point / "run.json").read_text())
        assert run["config"]["n"] == n and run["config"]["scale"] == 2.0
    store = open_store(tmp_path / "results" / "noisylab.sqlite")
    assert store.counts() == {"pending": 0, "running": 0, "done": 3, "failed": 0}

    assert cli("sweep", "sweep.yaml", "--out", "out2", "--no-progress") == 0
    assert len(env()) == 3  # everything came from the store
    assert (tmp_path / "out2" / "n-3" / "results.csv").read_text() == (
        tmp_path / "out" / "n-3" / "results.csv"
    ).read_text()


def test_sweep_bad_grid_key_is_one_line_exit_2(env, cli, capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("study: sweep_fixture\npreset: tiny\ngrid: {nn: [1]}\n")
    assert cli("sweep", "bad.yaml") == 2
    err = capsys.readouterr().err
    assert "unknown grid key 'nn' for Config" in err and "Traceback" not in err
    (tmp_path / "bad2.yaml").write_text("study: sweep_fixture\ngrid: {n: [-1, two]}\n")
    assert cli("sweep", "bad2.yaml") == 2
    assert "n: Input should be a valid integer" in capsys.readouterr().err
    assert cli("sweep", "bad2.yaml", "--jobs", "-1") == 2
    assert "--jobs (0 = one per CPU core) must be an int >= 0, got -1" in capsys.readouterr().err
    assert cli("sweep", "missing.yaml") == 2
    assert "sweep file 'missing.yaml' not found" in capsys.readouterr().err
    (tmp_path / "nostudy.yaml").write_text("study: nosuch\n")
    assert cli("sweep", "nostudy.yaml") == 2
    assert "unknown study 'nosuch'" in capsys.readouterr().err
    assert cli("sweep", "sweep.yaml", "--executor", "dask") == 2
    assert "unknown executor 'dask'; expected one of local, ray" in capsys.readouterr().err
    assert env() == []
    assert not (tmp_path / "results").exists()  # bad input creates no results store


def test_sweep_with_failing_unit_exits_1_and_keeps_the_rest(env, cli, capsys, tmp_path):
    (tmp_path / "f.yaml").write_text("study: sweep_fixture\npreset: tiny\nset: {fail: [1]}\n")
    assert cli("sweep", "f.yaml", "--out", "o", "--store", "s.sqlite") == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "1 of 3 runs of study 'sweep_fixture' failed" in err
    assert "ValueError: unit 1 was told to fail" in err
    assert sorted(env()) == ["0", "2"]
    assert cli("results", "list", "--status", "failed", "--store", "s.sqlite") == 0
    listed = capsys.readouterr().out
    bad = run_id(STUDY, {"key": 1, "scale": 1.0, "sleep": 0.0, "fail": True})
    assert "1 run in s.sqlite" in listed and bad in listed and "failed" in listed
    assert cli("results", "show", bad, "--store", "s.sqlite", "--traceback") == 0
    shown = capsys.readouterr().out
    assert "status failed" in shown and "error: ValueError: unit 1 was told to fail" in shown
    assert "Traceback (most recent call last)" in shown


def test_results_list_show_export(env, cli, capsys, tmp_path):
    assert cli("sweep", "sweep.yaml", "--out", "out", "--no-progress") == 0
    capsys.readouterr()
    ids = [run_id(STUDY, _unit(k)) for k in range(3)]

    assert cli("results", "list") == 0
    listed = capsys.readouterr().out
    assert "3 runs" in listed and all(i in listed for i in ids)
    assert cli("results", "list", "--study", "other") == 0
    assert "no runs match" in capsys.readouterr().out

    assert cli("results", "show", ids[2][:6]) == 0
    shown = capsys.readouterr().out
    assert f"run {ids[2]}" in shown and "status done" in shown
    assert '"scale": 2.0' in shown and '"value":1.3333333333333333' in shown
    assert "acc" in shown and "final" in shown and "0–2" in shown  # metrics summary

    assert cli("results", "export", "--format", "parquet", "--out", "m.parquet",
               "--table", "metrics") == 0  # fmt: skip
    assert "wrote 21 metrics rows" in capsys.readouterr().out
    metrics = pd.read_parquet(tmp_path / "m.parquet")
    assert len(metrics) == 21 and set(metrics["run"]) == set(ids)
    assert cli("results", "export", "--format", "csv", "--out", "runs.csv") == 0
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert sorted(runs["id"]) == sorted(ids) and set(runs["status"]) == {"done"}

    assert cli("results", "show", "ffffffffff") == 2
    assert "no run 'ffffffffff'" in capsys.readouterr().err
    assert cli("results", "list", "--store", "missing.sqlite") == 2
    assert "no results store at 'missing.sqlite'" in capsys.readouterr().err
    assert cli("results", "export", "--out", "x.csv", "--table", "bogus") == 2
    assert "unknown table 'bogus'" in capsys.readouterr().err
